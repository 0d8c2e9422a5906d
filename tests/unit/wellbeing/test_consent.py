"""Union consent: given events, when a command, then events (or a refusal)."""

import pytest
from plimsoll_events.types.wellbeing import UnionConsentGiven, UnionConsentWithdrawn
from plimsoll_wellbeing.domain.consent import CONSENT, GiveConsent, WithdrawConsent
from plimsoll_wellbeing.domain.errors import InvalidValue, NotFound

from .given import PRACTITIONER

GIVEN = UnionConsentGiven(practitioner_id=PRACTITIONER, representative="uma.union")


def test_consent_is_given_to_a_named_representative_once():
    assert CONSENT.run(GiveConsent(PRACTITIONER, "uma.union")) == [GIVEN]
    assert CONSENT.run(GiveConsent(PRACTITIONER, "uma.union"), [GIVEN]) == []


def test_consent_is_withdrawn_only_when_given():
    withdraw = WithdrawConsent(PRACTITIONER, "uma.union")
    assert CONSENT.run(withdraw, [GIVEN]) == [
        UnionConsentWithdrawn(practitioner_id=PRACTITIONER, representative="uma.union")
    ]
    with pytest.raises(NotFound) as raised:
        CONSENT.run(withdraw, [GIVEN, *CONSENT.run(withdraw, [GIVEN])])
    assert raised.value.field == "representative"


def test_consent_to_one_representative_is_not_consent_to_another():
    assert CONSENT.fold([GIVEN]) == frozenset({"uma.union"})
    with pytest.raises(NotFound):
        CONSENT.run(WithdrawConsent(PRACTITIONER, "ursula.union"), [GIVEN])


def test_a_representative_is_an_account_name():
    with pytest.raises(InvalidValue) as raised:
        CONSENT.run(GiveConsent(PRACTITIONER, "uma union"))
    assert raised.value.field == "representative"
