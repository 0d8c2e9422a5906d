"""The catalogue turns stored event data of any known version into the latest typed model."""

from datetime import date, time
from typing import Any
from uuid import uuid4

import pytest
from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData, UnknownEventType, topic_for
from plimsoll_events.records import Metadata
from plimsoll_events.types import (
    CaseAllocated,
    HoursLogged,
    HoursLoggedV1,
    HoursLoggedV2,
    SupervisionHeld,
)
from plimsoll_events.types.wellbeing import SupervisionHeldV1
from pydantic import ValidationError

ALLOCATION = {
    "practitioner_id": "P-0001",
    "case_id": "X777519",
    "team_id": "T-NORTH-1",
    "tier": "C1",
    "case_type": "community",
    "points": 50,
    "allocated_by": "P-0100",
    "reason": None,
}


def _metadata() -> Metadata:
    return Metadata(actor="P-0100", correlation_id=uuid4())


class _Opened(EventData):
    """A test type with three versions and no practitioner."""

    type = "thing-opened"
    version = 1
    service = "testing"
    name: str


class _OpenedV2(EventData):
    type = "thing-opened"
    version = 2
    service = "testing"
    title: str


class _OpenedV3(EventData):
    type = "thing-opened"
    version = 3
    service = "testing"
    title: str
    opened_by: str


def _three_versions(*, with_second_step: bool = True) -> Catalogue:
    catalogue = Catalogue()
    for model in (_Opened, _OpenedV2, _OpenedV3):
        catalogue.register(model)

    @catalogue.upcaster("thing-opened", from_version=1)
    def rename(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data["name"]}

    if with_second_step:

        @catalogue.upcaster("thing-opened", from_version=2)
        def add_opener(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "opened_by": "legacy"}

    return catalogue


def test_registered_type_decodes_to_its_model():
    decoded = CATALOGUE.decode("case-allocated", 1, ALLOCATION)

    assert isinstance(decoded, CaseAllocated)
    assert decoded.tier == "C1"
    assert decoded.points == 50
    assert decoded.model_dump(mode="json") == ALLOCATION


def test_cafcass_case_has_no_tier():
    decoded = CATALOGUE.decode(
        "case-allocated", 1, {**ALLOCATION, "tier": None, "case_type": "private-law"}
    )

    assert isinstance(decoded, CaseAllocated)
    assert decoded.tier is None


def _logged(**fields: Any) -> HoursLogged:
    values: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "day": date(2025, 3, 3),
        "minutes": 450,
        "category": "casework",
        "started_at": None,
        "ended_at": None,
        "note": None,
        "on_behalf_reason": None,
        **fields,
    }
    return HoursLogged(**values)


def test_v1_hours_logged_is_read_as_the_latest_version_minutes_of_casework():
    stored_v1 = {"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 7.5}

    decoded = CATALOGUE.decode("hours-logged", 1, stored_v1)

    assert decoded == _logged(minutes=450, category="casework")


def test_v2_hours_logged_is_read_as_v3_with_no_interval_note_or_reason():
    stored_v2 = {
        "practitioner_id": "P-0001",
        "day": "2025-03-03",
        "minutes": 90,
        "category": "travel",
    }

    decoded = CATALOGUE.decode("hours-logged", 2, stored_v2)

    assert decoded == _logged(minutes=90, category="travel")


@pytest.mark.parametrize("category", ["court", "report-writing", "union-duties"])
def test_v2_never_held_the_categories_v3_added(category: str):
    stored_v2 = {"practitioner_id": "P-0001", "day": "2025-03-03", "minutes": 90}

    with pytest.raises(ValidationError) as raised:
        CATALOGUE.decode("hours-logged", 2, {**stored_v2, "category": category})

    assert raised.value.title == "hours-logged v2"


@pytest.mark.parametrize(("hours", "minutes"), [(0, 0), (0.1, 6), (1 / 3, 20), (24, 1440)])
def test_v1_hours_become_the_nearest_whole_minute(hours: float, minutes: int):
    stored_v1 = {"practitioner_id": "P-0001", "day": "2025-03-03", "hours": hours}

    decoded = CATALOGUE.decode("hours-logged", 1, stored_v1)

    assert isinstance(decoded, HoursLogged)
    assert decoded.minutes == minutes


def test_decoding_leaves_the_stored_data_untouched():
    stored_v1 = {"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 7.5}
    before = dict(stored_v1)

    CATALOGUE.decode("hours-logged", 1, stored_v1)

    assert stored_v1 == before


def test_upcasting_walks_every_step_to_the_latest_version():
    catalogue = _three_versions()

    decoded = catalogue.decode("thing-opened", 1, {"name": "first"})

    assert decoded == _OpenedV3(title="first", opened_by="legacy")


def test_bad_legacy_data_is_reported_against_the_version_it_was_written_in():
    stored_v1 = {"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 25}

    with pytest.raises(ValidationError) as raised:
        CATALOGUE.decode("hours-logged", 1, stored_v1)

    assert raised.value.title == "hours-logged v1"
    assert raised.value.errors()[0]["loc"] == ("hours",)


def test_an_upcaster_producing_invalid_data_is_named_as_the_cause():
    catalogue = Catalogue()
    catalogue.register(_Opened)
    catalogue.register(_OpenedV2)
    catalogue.upcaster("thing-opened", 1)(lambda data: {"name": data["name"]})

    with pytest.raises(ValidationError) as raised:
        catalogue.decode("thing-opened", 1, {"name": "first"})

    assert raised.value.title == "thing-opened v2 (upcast from v1)"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"minutes": 2000}, "minutes"),
        ({"minutes": -1}, "minutes"),
        ({"category": "napping"}, "category"),
        ({"day": "last tuesday"}, "day"),
        ({"practitioner_id": ""}, "practitioner_id"),
        ({"overtime": True}, "overtime"),
    ],
)
def test_invalid_data_is_rejected_naming_the_field(data: dict[str, Any], field: str):
    valid = {"practitioner_id": "P-0001", "day": "2025-03-03", "minutes": 60, "category": "admin"}

    with pytest.raises(ValidationError) as raised:
        CATALOGUE.decode("hours-logged", 2, {**valid, **data})

    assert raised.value.title == "hours-logged v2"
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tier": "E9"}, "tier"),
        ({"points": -5}, "points"),
        ({"case_id": None}, "case_id"),
    ],
)
def test_invalid_allocation_is_rejected(data: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as raised:
        CATALOGUE.decode("case-allocated", 1, {**ALLOCATION, **data})

    assert raised.value.errors()[0]["loc"][0] == field


def test_a_supervision_lasts_some_time():
    v1, v2 = dict(SupervisionHeldV1.examples[0]), dict(SupervisionHeld.examples[0])

    with pytest.raises(ValidationError):
        CATALOGUE.decode("supervision-held", 1, {**v1, "duration_minutes": 0})
    with pytest.raises(ValidationError):
        CATALOGUE.decode("supervision-held", 2, {**v2, "duration_minutes": 0})


def test_unknown_type_is_named():
    with pytest.raises(UnknownEventType) as raised:
        CATALOGUE.decode("case-misplaced", 1, {})

    assert raised.value.event_type == "case-misplaced"
    assert "case-misplaced" in str(raised.value)
    assert "no such event type" in str(raised.value)


@pytest.mark.parametrize("version", [0, 4])
def test_unknown_version_is_named_with_the_versions_known(version: int):
    with pytest.raises(UnknownEventType) as raised:
        CATALOGUE.decode("hours-logged", version, {})

    assert str(raised.value) == f"hours-logged v{version}: the catalogue knows versions up to v3"


def test_a_missing_upcaster_step_is_named():
    catalogue = _three_versions(with_second_step=False)

    with pytest.raises(UnknownEventType, match=r"thing-opened v1: no upcaster from v2 to v3"):
        catalogue.decode("thing-opened", 1, {"name": "first"})
    with pytest.raises(UnknownEventType, match=r"no upcaster from v2 to v3"):
        catalogue.check()


def test_every_shipped_version_has_its_upcasters():
    CATALOGUE.check()


def test_latest_is_the_highest_version():
    assert CATALOGUE.latest("hours-logged") is HoursLogged
    assert CATALOGUE.model("hours-logged", 1) is HoursLoggedV1
    assert CATALOGUE.model("hours-logged", 2) is HoursLoggedV2


def test_shipped_types_belong_to_their_services_topics():
    for model in CATALOGUE:
        # Each type is declared in its owning service's module of plimsoll_events.types.
        assert model.__module__ == f"plimsoll_events.types.{model.service}", model.type
    owners = {(model.type, topic_for(model.service)) for model in CATALOGUE}
    assert {
        ("case-allocated", "plimsoll.allocation"),
        ("hours-logged", "plimsoll.timesheet"),
        ("supervision-held", "plimsoll.wellbeing"),
    } <= owners


@pytest.mark.parametrize("model", CATALOGUE.models(), ids=lambda m: f"{m.type}.v{m.version}")
def test_every_shipped_model_has_a_valid_example_and_a_docstring(model: type[EventData]):
    assert model.__doc__
    assert model.examples
    for example in model.examples:
        assert model.model_validate(example).model_dump(mode="json") == example


def test_recorded_facts_cannot_be_changed():
    decoded = CATALOGUE.decode("case-allocated", 1, ALLOCATION)

    with pytest.raises(ValidationError):
        decoded.points = 0  # type: ignore[misc]


def test_the_subject_is_the_practitioner_the_event_concerns():
    assert CATALOGUE.decode("case-allocated", 1, ALLOCATION).subject == "P-0001"
    assert _OpenedV2(title="no practitioner").subject is None


def test_new_event_carries_type_version_json_data_and_subject():
    logged = _logged(minutes=90, category="travel", started_at=time(9, 0), ended_at=time(10, 30))
    metadata = _metadata()

    event = CATALOGUE.new_event(logged, metadata)

    assert (event.type, event.version, event.subject) == ("hours-logged", 3, "P-0001")
    assert event.data == {
        "practitioner_id": "P-0001",
        "day": "2025-03-03",
        "minutes": 90,
        "category": "travel",
        "started_at": "09:00:00",
        "ended_at": "10:30:00",
        "note": None,
        "on_behalf_reason": None,
    }
    assert event.metadata is metadata


def test_new_facts_are_never_recorded_with_a_superseded_version():
    legacy = HoursLoggedV1(practitioner_id="P-0001", day=date(2025, 3, 3), hours=1.5)

    with pytest.raises(ValueError, match=r"hours-logged v1 is superseded by v3"):
        CATALOGUE.new_event(legacy, _metadata())
    previous = HoursLoggedV2(
        practitioner_id="P-0001", day=date(2025, 3, 3), minutes=90, category="travel"
    )
    with pytest.raises(ValueError, match=r"hours-logged v2 is superseded by v3"):
        CATALOGUE.new_event(previous, _metadata())


def test_new_event_refuses_a_model_the_catalogue_does_not_hold():
    with pytest.raises(UnknownEventType, match="thing-opened"):
        CATALOGUE.new_event(_OpenedV2(title="stray"), _metadata())


def test_a_type_and_version_is_registered_once():
    catalogue = Catalogue()
    catalogue.register(_OpenedV2)

    class Impostor(EventData):
        type = "thing-opened"
        version = 2
        service = "testing"

    with pytest.raises(ValueError, match=r"thing-opened v2 is already registered as _OpenedV2"):
        catalogue.register(Impostor)


def test_an_upcaster_step_is_registered_once():
    catalogue = _three_versions()

    with pytest.raises(ValueError, match="thing-opened v1 already has an upcaster"):
        catalogue.upcaster("thing-opened", 1)(lambda data: data)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"type": "CaseAllocated", "version": 1, "service": "x"}, "not kebab-case"),
        ({"type": "case-allocated", "version": 0, "service": "x"}, "version must be"),
        ({"type": "case-allocated", "version": 1}, "does not set service"),
    ],
)
def test_a_model_must_declare_a_well_formed_type(attributes: dict[str, Any], message: str):
    model = type("Broken", (EventData,), attributes)

    with pytest.raises((TypeError, ValueError), match=message):
        Catalogue().register(model)
