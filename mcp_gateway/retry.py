"""When and how long to wait before sending a request again: exponential backoff with full jitter, the upstream's
`Retry-After` honoured up to a cap, only for requests that are safe to repeat, and never past the call's deadline."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from mcp_gateway.exchange import RequestParts

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
BASE_DELAY = 0.5  # seconds: the first retry waits up to this, each further one up to twice as long as the last


def repeatable(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a request may be sent again: an idempotent method (RFC 9110 9.2.2), or one carrying an
    Idempotency-Key, with which the upstream itself drops a repeat."""
    return method.upper() in IDEMPOTENT_METHODS or any(name.lower() == "idempotency-key" for name in headers)


def with_idempotency_key(parts: RequestParts) -> RequestParts:
    """POST and PATCH requests given an Idempotency-Key when they carry none (the same one on every attempt), so that
    they can be retried; for upstreams that honour the header, as a profile says."""
    if parts.method.upper() in ("POST", "PATCH") and not repeatable(parts.method, parts.headers):
        parts.headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())
    return parts


def retryable_error(exc: Exception) -> bool:
    """A failure of the connection (refused, reset, closed before an answer): the call may succeed when sent again.
    Timeouts are not among them: the call's deadline covers every attempt."""
    return isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A `Retry-After` header as seconds from `now` (epoch seconds): a number of seconds or an HTTP date (RFC 9110
    10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a call may make in all, and the longest wait between two (a longer `Retry-After` is not
    waited for: the error reports it). `attempts` 1 turns retries off."""

    attempts: int = 3
    max_delay: float = 10.0
    idempotency_keys: bool = False  # generate an Idempotency-Key for POST/PATCH
    rand: Callable[[], float] = random.random  # uniform in [0, 1): a fixed one in tests

    def backoff(self, attempt: int) -> float:
        """Full jitter after the `attempt`-th attempt: uniform between 0 and BASE_DELAY * 2**(attempt - 1), capped."""
        return self.rand() * min(self.max_delay, BASE_DELAY * 2.0 ** (attempt - 1))

    def delay(self, attempt: int, retry_after: str | None, remaining: float, now: float | None = None
              ) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to stop: no attempt left, a `Retry-After` over
        `max_delay`, or a wait that leaves no time of the call's `remaining` seconds. `now` is epoch seconds, for
        a Retry-After given as a date."""
        if attempt >= self.attempts:
            return None
        asked = retry_after_seconds(retry_after, time.time() if now is None else now)
        if asked is not None and asked > self.max_delay:
            return None
        wait = asked if asked is not None else self.backoff(attempt)
        return wait if wait < remaining else None


def attempts_note(attempts: int) -> str:
    """The line a failed result ends with when it took more than one attempt."""
    return f"The gateway made {attempts} attempts; the last one's outcome is above." if attempts > 1 else ""
