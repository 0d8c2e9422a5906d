"""The notifications chapter of the story, told by the running stack.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_notifications.py` runs it
alone, first overloading a practitioner of its own as the duty-of-care chapter does):

1. The capacity breach of the duty-of-care chapter (`told["breach"]`) reached Noor's line
   manager, Mo, without anyone asking: an urgent e-mail in the stack's SMTP maildir
   (`.stack/smtp/maildir`), carrying identifiers and a link only, never what it is about.
2. The same notification is in Mo's inbox (`GET /inbox` of the notifications service),
   to be acknowledged by a deadline, else reminded, then escalated.
3. Another manager's head of service may not open it; Mo reads it and acknowledges it.
4. `notification-sent` (e-mail, inbox), `notification-read` and `notification-acknowledged`
   are on `plimsoll.notifications`, keyed by Noor; the auditor reads its whole history.
5. The declaration nobody answered in the wellbeing chapter (`told["declaration"]`) reached
   Mo by e-mail as it was made and Hana, the head of service, when it was escalated (the
   maildir again); Pat's own inbox holds the escalation, and he acknowledges it.
6. A partner system (`partner.py`: a receiver the story runs on loopback, subscribed before
   the first chapter, or before the breach when this chapter runs alone) received the breach
   and the declaration as webhooks; each verifies with the Standard Webhooks library and the
   secret given at subscription, and a copy changed by one character does not.

Each step checks the answers (StoryBroken with a message if one is wrong); ids are fresh on
every run.
"""

from __future__ import annotations

import mailbox
import sys
from collections import Counter
from datetime import datetime
from functools import partial
from pathlib import Path

from demo_duty_of_care import breach_of, overload
from partner import Partner
from plimsoll_events.catalogue import topic_for
from standardwebhooks import WebhookVerificationError
from story import (
    STATE,
    Api,
    Json,
    StoryBroken,
    check,
    event_kind,
    fresh,
    kafka_from_now,
    print_counts,
    read_events,
    run_alone,
    show_problem,
    step,
    until,
)

TOPIC = topic_for("notifications")
MO_MAIL = "mo.manager@example.org"  # his address in the realm, as the service's directory finds it
HANA_MAIL = "hana.head@example.org"  # the head of service, told when a declaration is escalated
TOLD_WAIT_S = 60.0  # wellbeing's relay, then the notifications service's projection and sending


def maildir(endpoints: Json) -> Path:
    return Path(endpoints.get("smtp", {}).get("maildir") or STATE / "smtp" / "maildir")


def mail_about(
    folder: Path, text: str, to: str, since: float
) -> list[tuple[Path, mailbox.MaildirMessage]]:
    """The messages to `to` whose body names `text`, delivered since `since` (epoch seconds;
    the stack's maildir keeps every message the stack ever sent)."""
    found: list[tuple[Path, mailbox.MaildirMessage]] = []
    for sub in ("new", "cur"):
        for entry in (folder / sub).iterdir():
            if entry.stat().st_mtime < since:
                continue
            with entry.open("rb") as file:
                message = mailbox.MaildirMessage(file)
            payload = message.get_payload(decode=True)
            body = payload.decode() if isinstance(payload, bytes) else ""
            if text in body and message["To"] == to:
                found.append((entry, message))
    return found


def unfolded_subject(mail: mailbox.MaildirMessage) -> str:
    return " ".join(str(mail["Subject"]).split())


def a_breach(endpoints: Json) -> Json:
    """Alone, this chapter makes its own breach, as the duty-of-care chapter does."""
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    allocation, wellbeing = Api(services["allocation"], issuer), Api(services["wellbeing"], issuer)
    step("N0. (told alone) Mo gives Noor, reporting to him, eight cases: 119.9%")
    noor, _, _ = overload(allocation, fresh(""))
    breach = breach_of(wellbeing, noor, "capacity-red")
    print(f"  wellbeing opens {breach['breach_id']} ({breach['rule']})")
    return {key: breach[key] for key in ("breach_id", "practitioner_id", "opened_at")}


def chapter(endpoints: Json, told: Json) -> str:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    notifications = Api(services["notifications"], issuer)
    partner: Partner | None = told.get("partner")
    if partner is not None:
        return _told(endpoints, told, notifications, partner)
    partner = Partner()  # told alone: the partner subscribes before the breach is made
    try:
        partner.subscribe(notifications)
        return _told(endpoints, told, notifications, partner)
    finally:
        partner.close(notifications)


def _told(endpoints: Json, told: Json, notifications: Api, partner: Partner) -> str:
    breach = told.get("breach") or a_breach(endpoints)
    # Mo was told as the breach opened: what came since then (a little before, for clocks).
    since = datetime.fromisoformat(breach["opened_at"]).timestamp() - 5
    kafka = kafka_from_now(endpoints, TOPIC, since=since)
    bid, noor = breach["breach_id"], breach["practitioner_id"]

    step(f"N1. Nobody asked: {bid} reached Mo, her line manager, by e-mail")
    folder = maildir(endpoints)
    [(path, mail)] = until(
        f"an e-mail to {MO_MAIL} about {bid} in {folder}",
        lambda: mail_about(folder, bid, MO_MAIL, since),
        TOLD_WAIT_S,
    )
    payload = mail.get_payload(decode=True)
    body = payload.decode() if isinstance(payload, bytes) else ""
    subject = unfolded_subject(mail)
    check(subject.startswith(f"Breach {bid} opened: capacity-red"), f"subject: {subject}")
    check("Noor" not in body and "119.9" not in body, "the e-mail says more than identifiers")
    link = next((w for w in body.split() if "/inbox/N-" in w), None)
    check(link is not None, f"no link to the inbox in: {body}")
    print(f"  {path.relative_to(folder.parent.parent)}")
    print(f"  From: {mail['From']}\n  To: {mail['To']}\n  Subject: {subject}")
    print("  " + body.strip().replace("\n", "\n  "))

    step("N2. The same notification is in Mo's inbox, to be acknowledged")

    def in_inbox() -> Json | None:
        items = notifications.call("mo.manager", "GET", "/inbox", 200, params={"limit": 500})
        ours = [
            i
            for i in items.json()
            if i["identifiers"].get("breach_id") == bid and i["rule"] == "breach-opened"
        ]
        return ours[0] if ours else None

    item = until(f"{bid} in mo.manager's inbox", in_inbox, TOLD_WAIT_S)
    nid = item["notification_id"]
    check(str(link).endswith(f"/inbox/{nid}"), f"the e-mail links {link}, not {nid}")
    check(item["urgent"] and item["needs_acknowledgement"], f"not urgent to acknowledge: {item}")
    check(item["read_at"] is None and item["acknowledged_at"] is None, f"{item}")
    print(f"  GET /inbox: {nid} {item['title']!r}")
    print(
        f"  urgent, to acknowledge by {item['acknowledge_by']} (else resent, then escalated "
        "to the head of service); unread"
    )

    step("N3. Only Mo may open it; he reads it and acknowledges it")
    print("  hugo.head opens it:")
    refused = notifications.call("hugo.head", "POST", f"/inbox/{nid}/read", 403)
    show_problem(refused, "outside-scope", "notification_id", indent="    ")
    read = notifications.call("mo.manager", "POST", f"/inbox/{nid}/read", 200).json()
    check(read["read_at"] is not None, f"not read: {read}")
    acknowledged = acknowledge(
        notifications, "mo.manager", nid, "Seen: two of her cases move this week"
    )
    print(f"  mo.manager reads it at {read['read_at']}")
    print(f"  and acknowledges it at {acknowledged['acknowledged_at']}: no reminder will follow")

    step(f"N4. The notification's events are on {TOPIC}, keyed by Noor")
    expected = Counter(
        {"notification-sent": 2, "notification-read": 1, "notification-acknowledged": 1}
    )
    found = read_events(kafka, {noor}, expected, deadline_s=TOLD_WAIT_S)
    kafka.close()
    print_counts(found)
    failed = Counter(
        f"{m['data']['channel']} to {m['data']['recipient']}: {m['data']['reason'][:70]}"
        for _, m in found
        if event_kind(m) == "notification-failed"
    )
    for why, count in sorted(failed.items()):  # Noor has no account here; partners' webhooks
        print(f"    notification-failed {count} x {why}")
    ours = [m for _, m in found if m["data"]["notification_id"] == nid]
    kinds = [event_kind(m) for m in ours]
    channels = sorted(m["data"]["channel"] for m in ours if event_kind(m) == "notification-sent")
    check(channels == ["email", "inbox"], f"{nid} sent by {channels}, not e-mail and inbox")
    check(kinds[-2:] == ["notification-read", "notification-acknowledged"], f"{kinds}")
    history = notifications.call("aude.auditor", "GET", f"/notifications/{nid}", 200).json()
    check([h["type"] for h in history] == kinds, f"the history is not the events: {history}")
    print(f"  aude.auditor reads GET /notifications/{nid}: who was told what, when and how")
    for entry in history:
        data = entry["data"]
        how = f" by {data['channel']}" if "channel" in data else ""
        print(f"    {entry['recorded_at']}  {entry['type']}{how} ({data['recipient']})")
    declaration = told.get("declaration")
    if declaration is not None:
        pats_inbox(notifications, declaration, folder)
    told_by_webhook = webhooks(partner, [("breach_id", bid), ("declaration_id", declaration)])
    return (
        f"{bid} e-mailed to {MO_MAIL} and put in his inbox; read and acknowledged "
        f"({nid}); {', '.join(kinds)} on {TOPIC}; {told_by_webhook}"
    )


def pats_inbox(notifications: Api, declaration: str, folder: Path) -> None:
    step(f"N5. The declaration nobody answered, {declaration}: e-mailed; Pat acknowledges it")
    for to, subject in (
        (MO_MAIL, "Unsafe workload declared by P-0001"),
        (HANA_MAIL, f"Declaration {declaration} escalated (deadline-missed)"),
    ):
        [(path, said), *_] = until(
            f"an e-mail to {to} about {declaration} in {folder}, {subject!r}",
            partial(_subjects, folder, declaration, to, subject),
            TOLD_WAIT_S,
        )
        print(f"  {path.relative_to(folder.parent.parent)}: To: {to}; Subject: {said}")

    def about_it() -> list[Json] | None:
        """Pat's notifications of the declaration, once its escalation is among them."""
        items = notifications.call("pat.practitioner", "GET", "/inbox", 200, params={"limit": 500})
        ours = [i for i in items.json() if i["identifiers"].get("declaration_id") == declaration]
        return ours if any(i["rule"] == "declaration-escalated" for i in ours) else None

    ours = until(f"{declaration}'s escalation in pat.practitioner's inbox", about_it, TOLD_WAIT_S)
    for item in ours:
        print(f"  GET /inbox: {item['notification_id']} {item['title']!r}")
    [nid] = [i["notification_id"] for i in ours if i["rule"] == "declaration-escalated"]
    acknowledged = acknowledge(
        notifications, "pat.practitioner", nid, "Seen: the meeting is booked"
    )
    print(f"  pat.practitioner acknowledges {nid} at {acknowledged['acknowledged_at']}")


def acknowledge(notifications: Api, user: str, nid: str, note: str) -> Json:
    """`user` acknowledges their notification `nid`, checked to be acknowledged."""
    acknowledged: Json = notifications.call(
        user, "POST", f"/inbox/{nid}/acknowledgement", 200, json={"note": note}
    ).json()
    check(acknowledged["acknowledged_at"] is not None, f"not acknowledged: {acknowledged}")
    return acknowledged


def _subjects(folder: Path, text: str, to: str, subject: str) -> list[tuple[Path, str]]:
    """The e-mails to `to` naming `text` whose (unfolded) subject starts with `subject`."""
    found = [(path, unfolded_subject(mail)) for path, mail in mail_about(folder, text, to, 0)]
    return [(path, said) for path, said in found if said.startswith(subject)]


def _received(partner: Partner, key: str, value: str) -> list[tuple[bytes, dict[str, str]]] | None:
    return partner.about(key, value) or None


def webhooks(partner: Partner, about: list[tuple[str, str | None]]) -> str:
    step("N6. A partner system was told by signed webhooks; its receiver verifies each")
    print(f"  subscribed as {partner.subscription_id}, receiving at {partner.url}")
    told = []
    for key, value in about:
        if value is None:
            continue
        [(body, headers), *_] = until(
            f"a webhook about {value} at {partner.url}",
            partial(_received, partner, key, value),
            TOLD_WAIT_S,
        )
        payload = partner.verified(body, headers)  # signature and timestamp, or it raises
        check("Noor" not in body.decode() and "Pat" not in body.decode(), f"names in: {body!r}")
        print(
            f"  {payload['type']} {value}: webhook-id {headers['webhook-id']}, "
            f"signature {headers['webhook-signature'][:16]}...: verified with the secret"
        )
        told.append(value)
        tampered = body.replace(value.encode(), value[:-1].encode() + b"X")
        try:
            partner.verified(tampered, headers)
        except WebhookVerificationError:
            print(f"    the same webhook with {value} changed by one character: refused")
        else:
            raise StoryBroken(f"a tampered webhook about {value} verified")
    return f"webhooks about {', '.join(told)} verified by the partner"


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
