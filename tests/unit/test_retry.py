"""Unit tests of the retry rules: which requests may be repeated, which failures are worth another attempt, how long
to wait (full jitter, Retry-After in seconds or as a date, the cap, the deadline)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from mcp_gateway.exchange import RequestParts
from mcp_gateway.retry import (
    BASE_DELAY,
    RetryPolicy,
    attempts_note,
    repeatable,
    retry_after_seconds,
    retryable_error,
    with_idempotency_key,
)

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("method", "headers", "expected"), [
    ("GET", {}, True), ("head", {}, True), ("OPTIONS", {}, True), ("PUT", {}, True), ("DELETE", {}, True),
    ("POST", {}, False), ("PATCH", {}, False), ("POST", {"idempotency-key": "k"}, True),
    ("PATCH", {"Idempotency-Key": "k"}, True),
])
def test_only_idempotent_methods_or_keyed_requests_are_repeatable(method: str, headers: dict[str, str],
                                                                  expected: bool) -> None:
    assert repeatable(method, headers) is expected


def test_a_generated_idempotency_key_goes_to_post_and_patch_without_one() -> None:
    post = with_idempotency_key(RequestParts("POST", "/jobs"))
    keyed = with_idempotency_key(RequestParts("PATCH", "/jobs/1", headers={"idempotency-key": "mine"}))
    get = with_idempotency_key(RequestParts("GET", "/jobs"))
    assert len(post.headers["Idempotency-Key"]) == 36
    assert keyed.headers == {"idempotency-key": "mine"} and get.headers == {}


@pytest.mark.parametrize(("error", "expected"), [
    (httpx.ConnectError, True), (httpx.ReadError, True), (httpx.WriteError, True), (httpx.RemoteProtocolError, True),
    (httpx.ReadTimeout, False), (httpx.ConnectTimeout, False), (httpx.UnsupportedProtocol, False),
])
def test_connection_failures_are_worth_another_attempt_and_timeouts_are_not(error: type[httpx.TransportError],
                                                                           expected: bool) -> None:
    assert retryable_error(error("boom")) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0), (" 0 ", 0.0), (format_datetime(datetime.fromtimestamp(NOW + 42, UTC), usegmt=True), 42.0),
    ("Tue, 01 Dec 2026 11:59:00 GMT", 0.0),  # in the past: now
    ("-3", None), ("soon", None), ("", None), (None, None), ("1.5", None),
])
def test_retry_after_in_seconds_or_as_an_http_date(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


def test_full_jitter_doubles_its_range_up_to_the_cap() -> None:
    top = RetryPolicy(max_delay=3.0, rand=lambda: 0.999999)
    assert [round(top.backoff(n), 3) for n in (1, 2, 3, 4, 5)] == [BASE_DELAY, 1.0, 2.0, 3.0, 3.0]
    assert RetryPolicy(rand=lambda: 0.0).backoff(4) == 0.0
    assert RetryPolicy(rand=lambda: 0.5).backoff(2) == 0.5


def test_the_wait_honours_retry_after_and_stops_where_it_should() -> None:
    policy = RetryPolicy(attempts=3, max_delay=10.0, rand=lambda: 0.5)
    assert policy.delay(1, None, remaining=30) == 0.25  # half of the first range
    assert policy.delay(1, "4", remaining=30) == 4.0  # the upstream's word, not the backoff
    assert policy.delay(2, "10", remaining=30) == 10.0  # up to the cap
    assert policy.delay(1, "11", remaining=30) is None  # over the cap: reported, not waited for
    assert policy.delay(1, "4", remaining=3.9) is None  # the wait would outlast the call's deadline
    assert policy.delay(3, None, remaining=30) is None  # the third attempt was the last
    assert RetryPolicy(attempts=1).delay(1, None, remaining=30) is None  # retries off


def test_an_http_date_retry_after_is_measured_from_now() -> None:
    policy = RetryPolicy(max_delay=60.0)
    date = format_datetime(datetime.fromtimestamp(NOW + 20, UTC), usegmt=True)
    assert policy.delay(1, date, remaining=30, now=NOW) == 20.0
    assert policy.delay(1, date, remaining=30, now=NOW - 50) is None  # 70 s away: over the cap


def test_the_attempts_note_appears_only_after_several_attempts() -> None:
    assert attempts_note(1) == "" and "3 attempts" in attempts_note(3)
