"""The running notifications service through its public API with real tokens: a declaration
made in wellbeing reaches the manager's mailbox (the stack's SMTP maildir) and the inboxes;
the inbox is read and acknowledged, pushed live, reminded and escalated; partners subscribe
with checked URLs; its events are CloudEvents on `plimsoll.notifications`."""

import json
import mailbox
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured_event
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.catalogue import CATALOGUE, topic_for
from plimsoll_events.envelope import TYPE_PREFIX

pytestmark = pytest.mark.stack

WAIT_SECONDS = 90


def maildir(stack) -> Path:
    return stack.module.STATE / "smtp" / "maildir"


def mail_about(stack, text: str, to: str, subject_starts: str = "") -> list:
    found = []
    for message in mailbox.Maildir(maildir(stack)):
        body = message.get_payload(decode=True).decode()
        subject = " ".join(str(message["Subject"]).split())  # unfolded
        if text in body and message["To"] == to and subject.startswith(subject_starts):
            found.append(message)
    return found


def eventually(probe, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}")


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    if field is not None:
        assert field in {p["name"] for p in body.get("invalid-params", [])}, body
    return body


@pytest.fixture(scope="module")
def notify(service_api):
    return lambda user: service_api("notifications", user)


@pytest.fixture(scope="module")
def declared(service_api):
    """Pat declares his workload unsafe in wellbeing: the declaration's id."""
    answer = service_api("wellbeing", "pat.practitioner").post(
        "/practitioners/P-0001/declarations",
        json={"what_is_unsafe": f"Notifications test {uuid.uuid4().hex[:8]}", "tasks": []},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["declaration_id"]


def inbox_item(notify, user: str, declaration_id: str, rule: str = "workload-declared"):
    def probe():
        items = notify(user).get("/inbox", params={"limit": 500}).json()
        return [
            i
            for i in items
            if i["identifiers"].get("declaration_id") == declaration_id and i["rule"] == rule
        ]

    return eventually(probe, f"{rule} {declaration_id} in {user}'s inbox")[0]


def test_a_declaration_reaches_the_managers_mailbox_with_identifiers_and_a_link(stack, declared):
    [mail] = eventually(
        lambda: mail_about(stack, declared, "mo.manager@example.org"), "mo.manager's e-mail"
    )
    body = mail.get_payload(decode=True).decode()
    assert "Notifications test" not in body, "what Pat wrote stays in Plimsoll"
    assert "/inbox/N-" in body
    assert mail["Message-ID"].startswith("<N-")


def test_the_inbox_is_read_and_acknowledged_by_its_recipient_only(notify, declared):
    item = inbox_item(notify, "mo.manager", declared)
    nid = item["notification_id"]
    assert item["needs_acknowledgement"]
    assert item["acknowledge_by"] is not None
    problem(notify("hana.head").post(f"/inbox/{nid}/read"), 403, "notification_id")
    problem(notify("hana.head").get(f"/inbox/{nid}"), 403, "notification_id")
    problem(notify("ada.admin").get("/inbox/N-000000000000000000000000"), 404, "notification_id")
    read = notify("mo.manager").post(f"/inbox/{nid}/read")
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    assert (
        notify("mo.manager").post(f"/inbox/{nid}/read").json()["read_at"] == read.json()["read_at"]
    ), "read once"
    acked = notify("mo.manager").post(f"/inbox/{nid}/acknowledgement", json={"note": "On it"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_at"] is not None
    problem(notify("mo.manager").post(f"/inbox/{nid}/acknowledgement", json={}), 409)
    history = notify("aude.auditor").get(f"/notifications/{nid}").json()
    assert [h["type"] for h in history][-2:] == [
        "notification-read",
        "notification-acknowledged",
    ]
    problem(notify("pat.practitioner").get(f"/notifications/{nid}"), 403)


def test_the_practitioner_finds_it_in_their_inbox(notify, declared):
    item = inbox_item(notify, "pat.practitioner", declared)
    assert not item["needs_acknowledgement"]
    assert item["practitioner_id"] == "P-0001"


def test_unacknowledged_it_is_reminded_then_escalated_to_the_head_of_service(
    stack, notify, service_api
):
    answer = service_api("wellbeing", "pat.practitioner").post(
        "/practitioners/P-0001/declarations",
        json={"what_is_unsafe": "Escalation test", "tasks": []},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    did = answer.json()["declaration_id"]
    item = inbox_item(notify, "mo.manager", did)
    nid = item["notification_id"]
    due = datetime.fromisoformat(item["acknowledge_by"])
    # Only this one: as of a day later, every notification of the shared stack is overdue.
    swept = notify("ada.admin").post(
        "/sweeps/run",
        params={"as_of": (due + timedelta(minutes=1)).isoformat(), "notification_id": nid},
    )
    assert swept.status_code == 200, swept.text
    assert nid in swept.json()["reminded"]
    eventually(
        lambda: mail_about(stack, did, "mo.manager@example.org", "Reminder:"), "the reminder"
    )
    reminded = inbox_item(notify, "mo.manager", did)
    assert reminded["round"] == 1
    later = datetime.fromisoformat(reminded["acknowledge_by"]) + timedelta(minutes=1)
    only = {"as_of": later.isoformat(), "notification_id": nid}
    swept = notify("ada.admin").post("/sweeps/run", params=only)
    assert nid in swept.json()["escalated"]
    eventually(
        lambda: mail_about(stack, did, "hana.head@example.org", "Not acknowledged by mo.manager"),
        "the head of service's e-mail",
    )
    again = notify("ada.admin").post("/sweeps/run", params=only)
    assert nid not in again.json()["escalated"], "escalated once"
    problem(notify("mo.manager").post("/sweeps/run"), 403)
    problem(service_api("notifications", None).post("/sweeps/run", headers={}), 401)


def test_new_items_are_pushed_live(stack, notify, service_api, tokens):
    received: list[dict] = []
    stop = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=stack.services["notifications"], timeout=120) as client,
            client.stream("GET", "/inbox/stream", headers=tokens("pat.practitioner")) as s,
        ):
            assert s.headers["content-type"].startswith("text/event-stream")
            for line in s.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line.removeprefix("data: ")))
                if stop.is_set():
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(2)
    answer = service_api("wellbeing", "pat.practitioner").post(
        "/practitioners/P-0001/declarations",
        json={"what_is_unsafe": "Live test", "tasks": []},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    did = answer.json()["declaration_id"]
    eventually(
        lambda: [r for r in received if r["identifiers"].get("declaration_id") == did],
        "the pushed item",
    )
    stop.set()


def test_partners_subscribe_with_urls_that_are_checked(notify):
    admin = notify("ada.admin")
    body = {"partner": "Court listing", "event_types": ["breach-opened"]}
    for url in (
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest",
        "https://[fd00::1]/hooks",
        "ftp://example.org/",
        "https://no-such-host.invalid/hooks",
    ):
        problem(admin.post("/webhooks", json={**body, "url": url}), 422, "url")
    problem(
        admin.post(
            "/webhooks",
            json={**body, "url": "http://127.0.0.1:9/x", "event_types": ["hours-logged"]},
        ),
        422,
        "event_types",
    )
    problem(
        notify("mo.manager").post("/webhooks", json={**body, "url": "http://127.0.0.1:9/"}), 403
    )
    made = admin.post("/webhooks", json={**body, "url": "http://127.0.0.1:9/hooks"})
    assert made.status_code == 201, made.text
    subscription = made.json()
    assert subscription["secret"].startswith("whsec_")
    listed = {s["subscription_id"]: s for s in admin.get("/webhooks").json()}
    assert "secret" not in listed[subscription["subscription_id"]]
    ended = admin.delete(f"/webhooks/{subscription['subscription_id']}")
    assert ended.status_code == 200, ended.text
    problem(admin.delete(f"/webhooks/{subscription['subscription_id']}"), 409)


def test_preferences_are_a_persons_own(notify):
    mine = notify("uma.union")
    set_ = mine.put(
        "/preferences",
        json={"email": False, "quiet_hours_start": "19:00:00", "quiet_hours_end": "07:30:00"},
    )
    assert set_.status_code == 200, set_.text
    assert mine.get("/preferences").json()["email"] is False
    problem(mine.put("/preferences", json={"quiet_hours_start": "19:00:00"}), 422)
    assert notify("ollie.ops").get("/preferences").json()["email"] is True


def test_the_rules_in_force_are_published(notify):
    rules = notify("pat.practitioner").get("/rules").json()
    assert rules["version"] >= 1
    assert {"breach-opened", "workload-declared"} <= {r["on"] for r in rules["rule"]}


def test_its_events_are_cloudevents_about_the_practitioner(stack, declared):
    topic = topic_for("notifications")
    consumer = KafkaConsumer(**stack.kafka.options(), enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found = []
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while not found and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                found += [r for r in batch if declared.encode() in r.value and r.key == b"P-0001"]
    finally:
        consumer.close()
    assert found
    record = found[0]
    event = from_structured_event(
        KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    )
    assert event.get_subject() == "P-0001"
    assert event.get_source() == "/plimsoll/notifications"
    kind, version = event.get_type().removeprefix(f"{TYPE_PREFIX}.").rsplit(".v", 1)
    data = CATALOGUE.decode(kind, int(version), event.get_data())
    assert data.type.startswith("notification-")


def test_the_service_account_reads_the_directory_and_nothing_more(directory):
    manager = directory.by_practitioner("P-0100")
    assert manager is not None
    assert manager.username == "mo.manager"
    assert manager.email == "mo.manager@example.org"
    assert [p.username for p in directory.in_region("R-NORTH", "head-of-service")] == ["hana.head"]
    assert "ollie.ops" in {p.username for p in directory.with_role("ops")}
    assert directory.by_practitioner("P-NOBODY") is None
    admin = directory.admin
    user = admin.get_user_id("mo.manager")
    from keycloak.exceptions import KeycloakError

    with pytest.raises(KeycloakError, match="403"):
        admin.update_user(user, {"firstName": "Changed"})
    with pytest.raises(KeycloakError, match="403"):
        admin.get_clients()


def test_the_realm_file_grants_the_service_account_view_users_alone(stack):
    """Imports the committed realm export as a throwaway realm (what a fresh `make up` does),
    and reads the service account's roles there."""
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    realm = json.loads(
        (stack.module.ROOT / "deploy/local/keycloak/realm-plimsoll.json").read_text()
    )
    name = f"importcheck-{uuid.uuid4().hex[:8]}"
    realm["realm"] = name
    connection = KeycloakOpenIDConnection(
        server_url=stack.keycloak_issuer.rsplit("/realms/", 1)[0] + "/",
        username="admin",
        password=stack.secrets["keycloak_admin_password"],
        realm_name="master",
        user_realm_name="master",
        verify=True,
    )
    admin = KeycloakAdmin(connection=connection)
    admin.create_realm(realm)
    try:
        admin.change_current_realm(name)
        account = admin.get_user_id("service-account-plimsoll-notifications")
        management = admin.get_client_id("realm-management")
        roles = {r["name"] for r in admin.get_client_roles_of_user(account, management)}
        assert roles == {"view-users"}
        for other in ("allocation", "wellbeing", "audit"):
            user = admin.get_user_id(f"service-account-plimsoll-{other}")
            assert admin.get_client_roles_of_user(user, management) == []
        for person in ("mo.manager", "hana.head", "pat.practitioner", "ollie.ops"):
            assert admin.get_user(admin.get_user_id(person))["email"].endswith("@example.org")
    finally:
        admin.change_current_realm("master")
        admin.delete_realm(name)
