"""Which webhook URLs are acceptable, when to try again, quiet hours, templates."""

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from plimsoll_notifications.domain.delivery import (
    QuietHours,
    RetrySchedule,
    UnsafeUrl,
    check_webhook_url,
    deliver_at,
)
from plimsoll_notifications.templates import TemplateFailed, render_title

TABLE = {
    "partner.example.org": ["93.184.215.14"],
    "internal.example.org": ["10.0.0.7"],
    "metadata.example.org": ["169.254.169.254"],
    "mixed.example.org": ["93.184.215.14", "192.168.1.10"],
    "localhost": ["127.0.0.1"],
    "v6.example.org": ["fd00::1"],
}


def resolve(host):
    if host not in TABLE:
        raise OSError("Name or service not known")
    return TABLE[host]


def test_https_to_public_addresses_is_accepted():
    check_webhook_url("https://partner.example.org/hooks", resolve, local_mode=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://partner.example.org/hooks", "must be https"),
        ("https://internal.example.org/hooks", "10.0.0.7, a private"),
        ("https://metadata.example.org/", "169.254.169.254"),
        ("https://mixed.example.org/", "192.168.1.10"),
        ("https://v6.example.org/", "fd00::1"),
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://nowhere.example.org/", "does not resolve"),
        ("ftp://partner.example.org/", "absolute https URL"),
        ("https://user:pw@partner.example.org/", "credentials"),
        ("http://localhost:8080/hooks", "must be https"),
    ],
)
def test_unsafe_urls_are_refused_naming_the_url(url, why):
    with pytest.raises(UnsafeUrl, match=why) as refused:
        check_webhook_url(url, resolve, local_mode=False)
    assert refused.value.field == "url"


def test_local_mode_allows_http_to_loopback_only():
    check_webhook_url("http://localhost:8080/hooks", resolve, local_mode=True)
    check_webhook_url("http://127.0.0.1:8080/hooks", lambda h: ["127.0.0.1"], local_mode=True)
    with pytest.raises(UnsafeUrl):
        check_webhook_url("http://internal.example.org/", resolve, local_mode=True)


def test_retries_back_off_with_jitter_and_stop_at_the_limit():
    schedule = RetrySchedule((timedelta(seconds=10), timedelta(seconds=60)), 4, jitter=0.2)
    rnd = random.Random(7)
    first = schedule.after(1, rnd)
    assert timedelta(seconds=8) <= first <= timedelta(seconds=12)
    assert timedelta(seconds=48) <= schedule.after(3, rnd) <= timedelta(seconds=72)
    assert schedule.after(4, rnd) is None
    waits = {schedule.after(2, random.Random(seed)) for seed in range(20)}
    assert len(waits) > 10, "jitter spreads retries out"


def test_quiet_hours_over_midnight_hold_back_what_is_not_urgent():
    quiet = QuietHours(time(19, 0), time(7, 30))
    evening = datetime(2025, 1, 10, 21, 0, tzinfo=UTC)  # 21:00 in London in winter
    assert deliver_at(evening, quiet, urgent=False) == datetime(2025, 1, 11, 7, 30, tzinfo=UTC)
    assert deliver_at(evening, quiet, urgent=True) == evening
    noon = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert deliver_at(noon, quiet, urgent=False) == noon


def test_quiet_hours_are_on_the_uk_clock():
    quiet = QuietHours(time(19, 0), time(7, 30))
    summer = datetime(2025, 7, 10, 18, 30, tzinfo=UTC)  # 19:30 BST
    assert deliver_at(summer, quiet, urgent=False) == datetime(2025, 7, 11, 6, 30, tzinfo=UTC)


def test_a_title_renders_from_identifiers_only():
    assert render_title("Breach {{ breach_id }}", {"breach_id": "BR-1"}) == "Breach BR-1"


@pytest.mark.parametrize("template", ["{{ case_details }}", "{% if %}", "   "])
def test_a_title_that_does_not_render_says_why(template):
    with pytest.raises(TemplateFailed):
        render_title(template, {"breach_id": "BR-1"})
