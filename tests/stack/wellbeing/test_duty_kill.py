"""Killed anywhere during a busy run, the duty-of-care projection and the breach recorder lose no
breach, open none twice, and leave a read model equal to a rebuild.

A worker process (`duty_worker.py`: the runner and the recorder, wired as the service wires
them) consumes three test topics into a scratch database and is killed with SIGKILL at random
moments while events pour in, then restarted, again and again. The run has two phases, each
waited out, so that what must hold at its end does not depend on where the kills fell:

* phase 1: 240 practitioners of one team are registered (started in 2024, never supervised:
  supervision overdue); group A's capacity climbs past 110% in 10 figures, group B's to 105%;
  group C logs four long weeks (average hours above contract); some events are sent twice, as a
  relay resends them;
* phase 2: group A's capacity falls to 95% (its capacity breaches resolve), group B's climbs to
  115% (red opens, amber stays open), group C is supervised (that breach resolves).

Then every breach stream must hold exactly the breaches the phases imply (one per episode, in
the right state), no dirty mark may be left, the breaches read model must agree with the store,
and a rebuild from the topics into another database must give the same rows.
"""

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.types.wellbeing import SupervisionHeld
from unit.wellbeing.duty_given import capacity, logged, registered

from .duty_harness import Feed, Model, scratch_databases

pytestmark = pytest.mark.stack

WORKER = Path(__file__).with_name("duty_worker.py")
GROUP = 80  # practitioners in each of groups A, B, C
TEAM, REGION = "T-KILL", "R-KILL"
KILLS_PER_PHASE = 5
CAUGHT_UP_S = 240.0
DONE = object()


class Worker:
    def __init__(self, stack, url: str, name: str, topics: list[str]) -> None:
        security = stack.kafka_security
        admin = security["principals"]["admin"]
        self.env = {
            **os.environ,
            "DUTY_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "DUTY_KAFKA_USER": admin["username"],
            "DUTY_KAFKA_PASSWORD": stack.secrets[admin["password_secret"]],
            "DUTY_KAFKA_MECHANISM": security["sasl_mechanism"],
        }
        self.args = [sys.executable, str(WORKER), url, name, ",".join(topics)]
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _caught_up(engine, kafka, name: str, topics: list[str]) -> bool:
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or []
        ]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    with engine.connect() as conn:
        done = {
            TopicPartition(t, p): o
            for t, p, o in conn.execute(
                sqlalchemy.text(
                    "select topic, partition, next_offset from projection_checkpoints "
                    "where projection = :n"
                ),
                {"n": name},
            )
        }
        marks = conn.execute(sqlalchemy.text("select count(*) from duty_dirty")).scalar_one()
    read = all(done.get(tp, 0) >= end for tp, end in ends.items())
    return read and marks == 0


def _progress(engine, name: str) -> tuple[int, int]:
    """(offsets applied, marks pending)."""
    with engine.connect() as conn:
        applied = conn.execute(
            sqlalchemy.text(
                "select coalesce(sum(next_offset), 0) from projection_checkpoints "
                "where projection = :n"
            ),
            {"n": name},
        ).scalar_one()
        marks = conn.execute(sqlalchemy.text("select count(*) from duty_dirty")).scalar_one()
    return int(applied), int(marks)


def _phase(worker: Worker, send, engine, kafka, name, topics, rng: random.Random) -> int:
    """Send the phase's events while killing the worker at random moments once it is at work
    (offsets moving or marks pending); then wait for the last worker to catch up and drain
    every mark. Returns how many kills fell while there was work in hand."""
    sender = send()
    kills, busy, sent = 0, 0, False
    while not (sent and kills >= KILLS_PER_PHASE):
        sent = sent or next(sender, DONE) is DONE
        if kills >= KILLS_PER_PHASE:
            continue
        before = _progress(engine, name)
        deadline = time.monotonic() + 30
        while _progress(engine, name)[0] == before[0] and time.monotonic() < deadline:
            time.sleep(0.05)  # not yet consuming (rejoining its group): wait for it to work
        time.sleep(rng.uniform(0.0, 0.4))
        _, marks = _progress(engine, name)
        busy += marks > 0 or not _caught_up(engine, kafka, name, topics)
        worker.kill()
        worker.start()
        kills += 1
    deadline = time.monotonic() + CAUGHT_UP_S
    while not _caught_up(engine, kafka, name, topics):
        assert time.monotonic() < deadline, "the worker never caught up"
        time.sleep(1)
    time.sleep(2)  # a pass that started as the last mark was taken has ended
    assert _caught_up(engine, kafka, name, topics)
    return busy


def test_killed_mid_run_no_breach_is_lost_none_opened_twice_and_the_model_equals_a_rebuild(
    stack,
):
    rng = random.Random(20261201)
    feed = Feed(stack.kafka)
    topics = list(feed.topics.values())
    name = f"wellbeing-duty-kill-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    groups = {g: [f"P-K{g}-{n:03d}-{uuid.uuid4().hex[:4]}" for n in range(GROUP)] for g in "ABC"}
    mondays = [now.date() - timedelta(days=now.date().weekday(), weeks=w) for w in (4, 3, 2, 1)]

    def phase_one():
        sent = []
        for pid in [p for g in "ABC" for p in groups[g]]:
            sent.append(
                (
                    "allocation",
                    feed.send(
                        "allocation",
                        registered(
                            practitioner_id=pid,
                            team_id=TEAM,
                            region_id=REGION,
                            contracted_hours="37",
                        ),
                        now - timedelta(days=90),
                    ),
                )
            )
        yield
        for step in range(10):
            at = now - timedelta(hours=10 - step)
            for pid in groups["A"]:
                sent.append(
                    (
                        "allocation",
                        feed.send(
                            "allocation",
                            capacity(
                                f"{90 + 2.4 * step:.1f}",
                                practitioner_id=pid,
                                team_id=TEAM,
                                region_id=REGION,
                            ),
                            at,
                        ),
                    )
                )
            for pid in groups["B"]:
                figure = capacity(
                    f"{90 + 1.5 * step:.1f}", practitioner_id=pid, team_id=TEAM, region_id=REGION
                )
                sent.append(("allocation", feed.send("allocation", figure, at)))
            feed.flush()
            yield
        for monday in mondays:
            for day in (monday + timedelta(days=d) for d in range(5)):
                for pid in groups["C"]:
                    entry = logged(day, 10 * 60, None, None, pid)
                    sent.append(("timesheet", feed.send("timesheet", entry, now)))
            feed.flush()
            yield
        for service, recorded in rng.sample(sent, 200):  # relays' resends
            feed.resend(service, recorded)
        feed.flush()

    def phase_two():
        later = datetime.now(UTC)
        for pid in groups["A"]:
            figure = capacity("95", practitioner_id=pid, team_id=TEAM, region_id=REGION)
            feed.send("allocation", figure, later)
        for pid in groups["B"]:
            figure = capacity("115", practitioner_id=pid, team_id=TEAM, region_id=REGION)
            feed.send("allocation", figure, later)
        feed.flush()
        yield
        for pid in groups["C"]:
            held = SupervisionHeld(
                practitioner_id=pid,
                supervision_id="S-1",
                supervisor_id="P-0100",
                line_manager_id="P-0100",
                held_on=date.today(),
                duration_minutes=60,
                workload_reviewed=True,
                wellbeing_discussed=True,
                agreed_actions=[],
                supervisor_reason=None,
            )
            feed.send("wellbeing", held, later)
        feed.flush()

    with scratch_databases(stack.module.PG_PORT, 2) as [live_url, rebuild_url]:
        live = Model(live_url, stack.kafka, topics, name=name)  # the tables, before any worker
        worker = Worker(stack, live_url, name, topics)
        worker.start()
        try:
            busy = _phase(worker, phase_one, live.engine, stack.kafka, name, topics, rng)
            busy += _phase(worker, phase_two, live.engine, stack.kafka, name, topics, rng)
        finally:
            worker.stop()
        assert worker.kills == 2 * KILLS_PER_PHASE
        # The test's own power: a good share of the kills fell with events or marks in hand
        # (how many depends on the machine's load; 4 of 10 was seen on a busy 2-core run).
        assert busy >= KILLS_PER_PHASE // 2

        streams: dict[str, list] = defaultdict(list)
        for event in live.breach_events():
            streams[event.stream_id].append(event)
        expected = {}
        for pid in groups["A"]:
            expected[("capacity-amber", pid)] = ["opened", "resolved"]
            expected[("capacity-red", pid)] = ["opened", "resolved"]
            expected[("supervision-overdue", pid)] = ["opened"]
        for pid in groups["B"]:
            expected[("capacity-amber", pid)] = ["opened"]
            expected[("capacity-red", pid)] = ["opened"]
            expected[("supervision-overdue", pid)] = ["opened"]
        for pid in groups["C"]:
            expected[("average-hours", pid)] = ["opened"]
            expected[("supervision-overdue", pid)] = ["opened", "resolved"]
        expected[("supervisor-ratio", TEAM)] = ["opened"]  # 240 staff under P-0100
        found = {
            (events[0].data["rule"], events[0].data["subject_id"]): [
                e.type.removeprefix("breach-") for e in events
            ]
            for events in streams.values()
        }
        wrong = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}
        extra = {k: v for k, v in found.items() if k not in expected}
        assert not wrong, Counter((k[0], str(v)) for k, v in wrong.items())
        assert not extra, extra
        assert found == expected  # no breach lost, none opened twice, each in its state
        ids = Counter(
            e.data["breach_id"] for s in streams.values() for e in s if e.type == "breach-opened"
        )
        assert set(ids.values()) == {1}
        with live.breaches.reading() as conn:
            rows = dict(conn.exec_driver_sql("select breach_id, status from duty_breaches").all())
        assert rows == {
            events[0].data["breach_id"]: "resolved"
            if events[-1].type == "breach-resolved"
            else "open"
            for events in streams.values()
        }

        rebuilt = Model(rebuild_url, stack.kafka, topics)
        try:
            rebuilt.runner.run_until_caught_up(CAUGHT_UP_S)
            assert rebuilt.rows() == live.rows()
        finally:
            rebuilt.close()
            live.close()
            feed.close()
