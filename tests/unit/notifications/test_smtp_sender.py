"""The e-mail sender against a real SMTP server on loopback (aiosmtpd) that requires
STARTTLS and a login, as a production relay does: the relay's certificate is verified
before the password is sent, and a wrong login is a failed try with the server's reason."""

import datetime as dt
import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from plimsoll_notifications.channels import SmtpSender, SmtpSettings

from .certs import self_signed

USER, PASSWORD = "plimsoll", "relay-secret"


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def relay(tmp_path) -> Iterator[tuple[Controller, Mailbox, Path]]:
    cert_file, key_file = self_signed(tmp_path, "127.0.0.1")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield controller, mailbox, cert_file
    finally:
        controller.stop()


def sender(controller: Controller, **settings) -> SmtpSender:
    return SmtpSender(
        SmtpSettings(
            host="127.0.0.1",
            port=controller.port,
            mail_from="Plimsoll <notifications@plimsoll.test>",
            timeout_seconds=5,
            **settings,
        ),
        connections=1,
    )


def a_message(smtp: SmtpSender):
    return smtp.message(
        to="mo.manager@plimsoll.test",
        subject="A breach is open",
        body="See the inbox.",
        message_id="<n-1@plimsoll.test>",
        date=dt.datetime.now(dt.UTC),
    )


def test_starttls_then_login_delivers_when_the_relay_is_trusted(relay):
    controller, mailbox, cert_file = relay
    smtp = sender(
        controller, starttls=True, ca_file=str(cert_file), username=USER, password=PASSWORD
    )
    try:
        tried = smtp.send(a_message(smtp))
        again = smtp.send(a_message(smtp))  # on the same session
    finally:
        smtp.close()
    assert tried.delivered, tried.reason
    assert again.delivered, again.reason
    assert mailbox.received == [("notifications@plimsoll.test", ["mo.manager@plimsoll.test"])] * 2


def test_a_relay_whose_certificate_is_not_trusted_gets_neither_password_nor_mail(relay):
    controller, mailbox, _ = relay
    smtp = sender(controller, starttls=True, username=USER, password=PASSWORD)  # system CAs
    try:
        tried = smtp.send(a_message(smtp))
    finally:
        smtp.close()
    assert not tried.delivered
    assert "CERTIFICATE_VERIFY_FAILED" in tried.reason
    assert mailbox.received == []


def test_a_wrong_password_or_no_starttls_is_a_failed_try_with_the_reason(relay):
    controller, mailbox, cert_file = relay
    wrong = sender(controller, starttls=True, ca_file=str(cert_file), username=USER, password="x")
    plain = sender(controller, username=USER, password=PASSWORD)
    try:
        refused = wrong.send(a_message(wrong))
        unencrypted = plain.send(a_message(plain))
    finally:
        wrong.close()
        plain.close()
    assert not refused.delivered
    assert "535" in refused.reason
    # The relay offers AUTH only after STARTTLS: the password is never sent in the clear.
    assert not unencrypted.delivered
    assert "AUTH extension not supported" in unencrypted.reason
    assert mailbox.received == []


class Keeper:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.data.append(envelope.original_content)
        return "250 OK"


MESSAGES = (("A breach is open", "See the inbox."), ("Siân's ré-view", "Dŵr."))


def test_a_message_reads_back_as_written_even_when_it_is_not_plain_ascii():
    keeper = Keeper()
    controller = Controller(keeper, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp = SmtpSender(
        SmtpSettings("127.0.0.1", controller.port, "Plimsoll Café <notifications@plimsoll.test>")
    )
    sent = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    try:
        for subject, body in MESSAGES:
            mail = smtp.message(
                to="mo.manager@plimsoll.test",
                subject=subject,
                body=body,
                message_id="<n-1.0@plimsoll.test>",
                date=sent,
            )
            assert smtp.send(mail).delivered
    finally:
        smtp.close()
        controller.stop()
    for raw, (subject, body) in zip(keeper.data, MESSAGES, strict=True):
        assert raw.isascii()  # 7-bit safe for any relay
        read = email.message_from_bytes(raw, policy=email.policy.default)
        assert read["Subject"] == subject
        assert read["From"].addresses[0].display_name == "Plimsoll Café"
        assert read["From"].addresses[0].addr_spec == "notifications@plimsoll.test"
        assert read["To"] == "mo.manager@plimsoll.test"
        assert read["Message-ID"] == "<n-1.0@plimsoll.test>"
        assert read["Auto-Submitted"] == "auto-generated"
        assert read["Date"].datetime == sent
        assert read.get_content().splitlines() == body.splitlines()
    assert len(keeper.data) == 2
