"""The duty-of-care model on a scratch database fed from test topics of the real Kafka: bad input
goes to the dead-letter topics and the projection carries on; a policy adopted re-judges open
breaches and says so; time-driven rules fire from the kit's Jobs at their instant, once across
replicas; a late event re-judges the weeks it touches; a duplicate changes nothing."""

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.types.wellbeing import BreachOpened, PolicyAdopted
from plimsoll_platform.clock import FixedClock, SystemClock
from plimsoll_platform.jobs import Jobs
from plimsoll_wellbeing.domain.judging import midnight_after
from plimsoll_wellbeing.domain.policy import DEFAULT_THRESHOLDS
from plimsoll_wellbeing.duty_queries import DutyQueries
from unit.wellbeing.duty_given import capacity, logged, registered
from unit.wellbeing.given import REGION, answered, declared
from unit.wellbeing.test_assessment import recorded as assessment

from .duty_harness import Feed, Model, scratch_databases

pytestmark = pytest.mark.stack

NOW = datetime.now(UTC)


def _practitioner(feed: Feed, **overrides) -> str:
    pid = f"P-M-{uuid.uuid4().hex[:8]}"
    feed.send("allocation", registered(practitioner_id=pid, **overrides), NOW - timedelta(days=1))
    return pid


def _dead_letters(kafka, topic: str, count: int, timeout_s: float = 30) -> list:
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                found.extend(batch)
    finally:
        consumer.close()
    return found


def test_malformed_and_unknown_events_are_dead_lettered_and_the_projection_carries_on(
    stack, scratch_database
):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        pid = _practitioner(feed)
        feed.raw("timesheet", b"{not json", key=pid)
        valid = feed.send("allocation", capacity("101", practitioner_id=pid), NOW)
        unknown = json.loads(encode(to_cloudevent(valid, "/plimsoll/wellbeing")))
        unknown["type"] = "uk.gov.plimsoll.tea-brewed.v1"
        feed.raw("wellbeing", json.dumps(unknown).encode(), key=pid)
        feed.send("allocation", capacity("112", practitioner_id=pid), NOW + timedelta(seconds=1))
        feed.flush()
        recorded = model.catch_up()

        # it carried on: the figure after the garbage was applied and judged
        rules = {e.data["rule"] for e in recorded if e.type == BreachOpened.type}
        assert {"capacity-amber", "capacity-red"} <= rules
        for service, why in (("timesheet", b"unreadable"), ("wellbeing", b"unreadable")):
            [letter] = _dead_letters(stack.kafka, dead_letter_topic(feed.topics[service]), 1)
            headers = dict(letter.headers)
            assert headers["dlq-reason"].startswith(why), headers["dlq-reason"]
            assert headers["dlq-projection"] == model.projection.name.encode()
        assert b"tea-brewed" in dict(letter.headers)["dlq-reason"]
    finally:
        model.close()
        feed.close()


def test_a_duplicate_changes_nothing_and_a_late_entry_rejudges_its_weeks(stack, scratch_database):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        pid = _practitioner(feed, contracted_hours="37")
        monday = NOW.date() - timedelta(days=NOW.date().weekday(), weeks=4)
        days = [monday + timedelta(weeks=w, days=d) for w in range(4) for d in range(5)]
        late = days.pop(7)  # a Wednesday three weeks back, logged late
        # 19 days of 7 hours: under a 37-hour contract over the 4 weeks
        entries = [feed.send("timesheet", logged(d, 420, None, None, pid), NOW) for d in days]
        for entry in entries[:5]:
            feed.resend("timesheet", entry)  # a relay's resend after a crash
        feed.flush()
        model.catch_up()
        first = model.rows()
        assert not [e for e in model.breach_events() if e.data["rule"] == "average-hours"]

        feed.send("timesheet", logged(late, 1000, None, None, pid), NOW)
        feed.flush()
        recorded = model.catch_up()

        [opened] = [e for e in recorded if e.data.get("rule") == "average-hours"]
        assert opened.data["facts"]["complete_weeks"]["counted_minutes"] == 19 * 420 + 1000
        assert opened.data["cause"]["event_type"] == "hours-logged"
        assert len(model.rows()["duty_log"]) == len(first["duty_log"]) + 1  # resends: none
    finally:
        model.close()
        feed.close()


def _adopted(version: int, at: datetime, **percents: int) -> PolicyAdopted:
    thresholds = DEFAULT_THRESHOLDS.model_dump(mode="json")
    for name, percent in percents.items():
        thresholds[name]["percent"] = percent
    return PolicyAdopted(
        policy_version=version,
        thresholds=thresholds,
        adopted_at=at,
        employer_approved_by="emil.employer",
        union_approved_by="uma.union",
    )


def test_a_policy_adopted_rejudges_open_breaches_under_the_new_version_and_says_so(
    stack, scratch_database
):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        pid = _practitioner(feed)
        feed.send("allocation", capacity("107", practitioner_id=pid), NOW)
        feed.flush()
        model.catch_up()
        mine = lambda: [e for e in model.breach_events() if e.data["subject_id"] == pid]  # noqa: E731
        assert {e.data["rule"] for e in mine() if e.type == "breach-opened"} >= {"capacity-amber"}

        feed.send("wellbeing", _adopted(2, datetime.now(UTC), capacity_red=105), datetime.now(UTC))
        feed.flush()
        model.catch_up()
        by_rule = {(e.type, e.data["rule"]): e for e in mine()}
        rejudged = by_rule[("breach-rejudged", "capacity-amber")].data
        assert (rejudged["policy_version"], rejudged["previous_policy_version"]) == (2, 1)
        assert rejudged["cause"]["event_type"] == "policy-adopted"
        red = by_rule[("breach-opened", "capacity-red")].data
        assert (red["policy_version"], red["thresholds"]["capacity_red"]["percent"]) == (2, 105)

        later = datetime.now(UTC)
        feed.send("wellbeing", _adopted(3, later, capacity_amber=108, capacity_red=110), later)
        feed.flush()
        model.catch_up()
        resolved = {e.data["rule"]: e.data for e in mine() if e.type == "breach-resolved"}
        assert resolved["capacity-amber"]["policy_version"] == 3
        assert resolved["capacity-amber"]["cause"]["event_type"] == "policy-adopted"
        assert resolved["capacity-red"]["how"] == "condition-cleared"
    finally:
        model.close()
        feed.close()


def test_a_breach_opening_now_is_judged_before_a_policy_sweep_of_everyone(stack, scratch_database):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        everyone = [_practitioner(feed) for _ in range(4)]
        feed.flush()
        model.catch_up()
        # A policy adopted marks everyone to be judged again; then one capacity goes up.
        adopted_at = datetime.now(UTC)
        feed.send("wellbeing", _adopted(2, adopted_at, capacity_red=105), adopted_at)
        feed.flush()
        model.runner.run_until_caught_up()
        feed.send("allocation", capacity("107", practitioner_id=everyone[-1]), adopted_at)
        feed.flush()
        model.runner.run_until_caught_up()

        model.recorder.batch_size = 1
        first, taken = model.recorder.run_pass()
        assert taken == 1
        assert {(e.type, e.data["subject_id"]) for e in first} >= {
            ("breach-opened", everyone[-1])
        }, "the subject an event touched is judged first"
        model.recorder.drain()
        opened = {e.data["rule"] for e in model.breach_events() if e.type == "breach-opened"}
        assert opened >= {"capacity-amber", "capacity-red"}
    finally:
        model.close()
        feed.close()


def test_time_driven_rules_fire_from_the_jobs_at_their_instant_once_across_replicas(stack):
    today = datetime.now(UTC).date()
    start = today - timedelta(days=27)  # supervision due by tomorrow: overdue the day after
    due = midnight_after(today + timedelta(days=1))
    feed = Feed(stack.kafka)
    with scratch_databases(stack.module.PG_PORT, 1) as [url]:
        clock = FixedClock(datetime.now(UTC))
        replicas = [
            Model(
                url,
                stack.kafka,
                list(feed.topics.values()),
                name="wellbeing-duty-jobs",
                clock=clock,
            )
            for _ in range(2)
        ]
        try:
            pid = _practitioner(feed, start_date=start)
            feed.flush()
            replicas[0].catch_up()
            jobs = [Jobs(m.engine, m.recorder.jobs(), clock=clock) for m in replicas]
            jobs[0].create_schema()

            def overdue() -> list:
                return [
                    e
                    for e in replicas[0].breach_events()
                    if e.data["subject_id"] == pid and e.data["rule"] == "supervision-overdue"
                ]

            clock.set(due - timedelta(seconds=1))
            for job in jobs:
                job.run_due(clock.now())
            assert overdue() == []

            clock.set(due + timedelta(seconds=30))
            outcomes = sorted(job.run_due(clock.now())["duty-of-care-clock"] for job in jobs)
            assert outcomes == ["not-due", "ran"]  # one replica ran the slot
            [opened] = overdue()
            assert datetime.fromisoformat(opened.data["breached_since"]) == due  # its instant
            assert opened.data["cause"]["kind"] == "deadline"

            clock.set(due + timedelta(minutes=3))  # later slots: nothing new
            for job in jobs:
                job.run_due(clock.now())
            assert len(overdue()) == 1
        finally:
            for model in replicas:
                model.close()
            feed.close()


def test_the_live_model_equals_a_rebuild(stack):
    feed = Feed(stack.kafka)
    with scratch_databases(stack.module.PG_PORT, 2) as [live_url, rebuild_url]:
        live = Model(live_url, stack.kafka, list(feed.topics.values()))
        try:
            for n in range(20):
                pid = _practitioner(feed)
                for k in range(5):
                    feed.send(
                        "allocation",
                        capacity(str(90 + 5 * k + n % 3), practitioner_id=pid),
                        NOW + timedelta(minutes=k),
                    )
                    day = date.today() - timedelta(days=k + 1)
                    feed.send("timesheet", logged(day, 400, None, None, pid), NOW)
                    feed.flush()
                    live.runner.poll_once(timeout_ms=100)  # small batches, interleaved
            feed.flush()
            live.catch_up()
            rebuilt = Model(rebuild_url, stack.kafka, list(feed.topics.values()))
            try:
                rebuilt.runner.run_until_caught_up(120)
                assert rebuilt.rows() == live.rows()
            finally:
                rebuilt.close()
        finally:
            live.close()
            feed.close()


def test_a_recorder_that_dies_after_appending_records_nothing_twice(stack, scratch_database):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        pids = [_practitioner(feed) for _ in range(3)]
        for pid in pids:
            feed.send("allocation", capacity("115", practitioner_id=pid), NOW)
        feed.flush()
        model.runner.run_until_caught_up(60)
        appended = model.recorder._record

        def append_then_die(steps):
            appended(steps)  # the appends commit...
            raise ConnectionError("killed")  # ...and the pass dies before taking its marks

        model.recorder._record = append_then_die  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            model.recorder.run_pass()
        first = model.breach_events()
        assert len(first) == 3 * 3  # amber, red, supervision overdue for each
        with model.engine.connect() as conn:
            marks = conn.exec_driver_sql("select count(*) from duty_dirty").scalar_one()
        assert marks == 4  # still there (the three and their team): judged again

        model.recorder._record = appended  # type: ignore[method-assign]
        assert model.recorder.drain() == []
        assert model.breach_events() == first
        with model.engine.connect() as conn:
            assert conn.exec_driver_sql("select count(*) from duty_dirty").scalar_one() == 0
    finally:
        model.close()
        feed.close()


def test_a_declaration_unanswered_and_a_review_due_fire_from_the_jobs_at_their_instants(
    stack, scratch_database
):
    today = datetime.now(UTC).date()
    answer_by, review_on = today + timedelta(days=1), today + timedelta(days=2)
    feed = Feed(stack.kafka)
    clock = FixedClock(datetime.now(UTC))
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()), clock=clock)
    try:
        pid = _practitioner(feed, start_date=today)  # supervision due in weeks: not in the way
        declaration = f"D-{uuid.uuid4().hex[:8]}"
        feed.send(
            "wellbeing",
            declared(
                practitioner_id=pid,
                declaration_id=declaration,
                declared_on=today,
                answer_due_by=answer_by,
            ),
            NOW,
        )
        feed.send("wellbeing", assessment(practitioner_id=pid, review_on=review_on), NOW)
        feed.flush()
        model.catch_up()
        jobs = Jobs(model.engine, model.recorder.jobs(), clock=clock)
        jobs.create_schema()

        def opened() -> dict[str, Any]:
            return {
                e.data["rule"]: e.data
                for e in model.breach_events()
                if e.type == BreachOpened.type and e.data["subject_id"] == pid
            }

        assert opened() == {}
        for due, rule in (
            (midnight_after(answer_by), "declaration-unanswered"),
            (midnight_after(review_on), "review-overdue"),
        ):
            clock.set(due - timedelta(seconds=1))
            jobs.run_due(clock.now())
            assert rule not in opened()
            clock.set(due + timedelta(seconds=30))
            assert jobs.run_due(clock.now())["duty-of-care-clock"] == "ran"
            breach = opened()[rule]
            assert datetime.fromisoformat(breach["breached_since"]) == due  # its instant
            assert breach["cause"]["kind"] == "deadline"
        assert opened()["declaration-unanswered"]["facts"]["overdue"][0]["declaration_id"] == (
            declaration
        )
        assert set(opened()) == {"declaration-unanswered", "review-overdue"}

        feed.send(
            "wellbeing",
            answered(practitioner_id=pid, declaration_id=declaration, answered_on=review_on),
            clock.now(),
        )
        feed.flush()
        resolved = [e.data for e in model.catch_up() if e.type == "breach-resolved"]
        assert [(r["rule"], r["how"]) for r in resolved] == [
            ("declaration-unanswered", "condition-cleared")
        ]
        assert resolved[0]["cause"]["event_type"] == "declaration-answered"
    finally:
        model.close()
        feed.close()


def test_views_as_of_an_instant_judge_under_the_policy_then_in_force(stack, scratch_database):
    feed = Feed(stack.kafka)
    model = Model(scratch_database, stack.kafka, list(feed.topics.values()))
    try:
        team = f"T-M-{uuid.uuid4().hex[:8]}"
        pid = _practitioner(feed, team_id=team)
        feed.send(
            "allocation",
            capacity("107.0", practitioner_id=pid, team_id=team),
            NOW - timedelta(hours=20),
        )
        adopted = NOW - timedelta(hours=10)  # amber from 108%: 107% is no longer amber
        feed.send("wellbeing", _adopted(2, adopted, capacity_amber=108), adopted)
        feed.flush()
        model.catch_up()
        queries = DutyQueries(model.engine, model.breaches, SystemClock())
        then_at = NOW - timedelta(hours=15)

        then, now = queries.practitioner(pid, then_at), queries.practitioner(pid, None)
        assert then is not None
        assert now is not None
        amber = {v["policy_version"]: _holds(v, "capacity-amber") for v in (then, now)}
        assert amber == {1: True, 2: False}
        assert (then["capacity"]["status"], now["capacity"]["status"]) == ("amber", "green")

        [member_then] = queries.team(team, [pid], then_at)["practitioners"]
        [member_now] = queries.team(team, [pid], None)["practitioners"]
        # the same figure (live it reads "107", as of an instant "107.0")
        assert Decimal(member_then["capacity_percent"]) == Decimal(member_now["capacity_percent"])
        assert Decimal(member_now["capacity_percent"]) == 107
        assert (member_then["capacity_status"], member_now["capacity_status"]) == ("amber", "green")
        assert "capacity-amber" in member_then["rules_holding"]
        assert "capacity-amber" not in member_now["rules_holding"]

        region_then = queries.region(REGION, [(pid, team)], then_at)
        [row_then] = [t for t in region_then["teams"] if t["team_id"] == team]
        assert row_then["figures"]["rules_holding"].get("capacity-amber") == 1
        region_now = queries.region(REGION, [(pid, team)], None)
        [row_now] = [t for t in region_now["teams"] if t["team_id"] == team]
        assert "capacity-amber" not in row_now["figures"]["rules_holding"]
    finally:
        model.close()
        feed.close()


def _holds(view: dict[str, Any], rule: str) -> bool:
    [condition] = [c for c in view["conditions"] if c["rule"] == rule]
    return bool(condition["holds"])
