"""Event ids are UUIDv7: unique, time-ordered, and valid RFC 9562 UUIDs."""

import time

from plimsoll_events.records import new_event_id


def test_event_ids_are_version_7_with_the_rfc_variant():
    event_id = new_event_id()
    assert event_id.version == 7
    assert event_id.variant == "specified in RFC 4122"


def test_event_ids_carry_the_time_and_sort_by_it():
    before = time.time_ns() // 1_000_000
    first = new_event_id()
    time.sleep(0.002)
    second = new_event_id()
    after = time.time_ns() // 1_000_000
    assert before <= first.int >> 80 <= after
    assert first < second


def test_event_ids_do_not_repeat():
    assert len({new_event_id() for _ in range(10_000)}) == 10_000
