"""What one upstream is spared: no more than so many requests in flight (later callers wait their turn, first come
first served), and no requests at all for a while once it looks down (a circuit breaker, probed after a cooldown)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

import anyio

from mcp_gateway.errors import UpstreamError
from mcp_gateway.profile import Breaker

State = Literal["closed", "open", "half_open"]


class ConcurrencyLimit:
    """At most `limit` holders at once (`async with limit:` holds one); waiters get a slot in the order they asked for
    one. A waiter cancelled (its call's deadline) leaves the queue, and one cancelled just as it was handed a slot hands
    it on."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._waiters: deque[anyio.Event] = deque()

    @property
    def waiting(self) -> int:
        """How many callers are queued for a slot."""
        return len(self._waiters)

    async def __aenter__(self) -> None:
        await self._acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    async def _acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        turn = anyio.Event()
        self._waiters.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():  # handed a slot while being cancelled: pass it on
                self._release()
            else:
                self._waiters.remove(turn)
            raise

    def _release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()  # the slot goes straight to the first waiter: `in_flight` stays
        else:
            self.in_flight -= 1


class UpstreamUnavailable(UpstreamError):
    """The circuit breaker is open: the call failed at once, without a request."""

    def __init__(self, name: str, retry_after: float, reason: str) -> None:
        self.retry_after = retry_after
        super().__init__(f"{name} upstream unavailable, retry after {math.ceil(retry_after)} s ({reason}; no request "
                         "was sent)")


class CircuitBreaker:
    """Closed: every attempt goes ahead, and `failures` failed attempts in a row, or an `error_rate` of failed
    attempts within `window` seconds (once it holds `min_calls`), open it. Open: attempts fail at once until
    `cooldown` seconds have passed. Half-open: one attempt goes ahead as a probe, the others still fail at once; its
    success closes the breaker, its failure opens it again. `clock` is monotonic seconds (a fake one in tests)."""

    def __init__(self, name: str, settings: Breaker, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self.state: State = "closed"
        self._in_a_row = 0
        self._window = SlidingCounts(settings.window)
        self._opened_at = 0.0
        self._reason = ""
        self._probing = False

    def admit(self) -> bool:
        """Let one attempt go ahead; True when it is the half-open probe, whose outcome decides.

        Raises UpstreamUnavailable while the breaker is open, or half-open with its probe under way.
        """
        if self.state == "closed":
            return False
        wait = self._opened_at + self.settings.cooldown - self._clock()
        if self.state == "open" and wait <= 0:
            self.state = "half_open"
        if self.state == "half_open" and not self._probing:
            self._probing = True
            return True
        raise UpstreamUnavailable(self.name, max(wait, 1.0), self._reason)

    def record(self, failed: bool, probe: bool, reason: str = "") -> None:
        """The outcome of an admitted attempt (`reason` says what failed, without secrets)."""
        now = self._clock()
        if probe:
            self._probing = False
            if failed:
                self._open(now, f"the probe after the cooldown failed too: {reason}")
            else:
                self._close()
            return
        if self.state != "closed":
            return  # an attempt admitted before the breaker opened: the probe decides now
        self._in_a_row = self._in_a_row + 1 if failed else 0
        total, failures = self._window.add(now, failed)
        if self._in_a_row >= self.settings.failures:
            self._open(now, f"{self._in_a_row} failed attempts in a row, the last: {reason}")
        elif total >= self.settings.min_calls and failures >= self.settings.error_rate * total:
            self._open(now, f"{failures} of the last {total} attempts failed, the last: {reason}")

    def abandon(self, probe: bool) -> None:
        """An admitted attempt ended without an outcome (cancelled): a probe's turn passes to the next caller."""
        if probe:
            self._probing = False

    def _open(self, now: float, reason: str) -> None:
        self.state = "open"
        self._opened_at = now
        self._reason = reason
        self._in_a_row = 0
        self._window.clear()

    def _close(self) -> None:
        self.state = "closed"
        self._in_a_row = 0
        self._window.clear()


class SlidingCounts:
    """Attempts and failed attempts within the last `window` seconds, kept in BUCKETS buckets: the memory and the
    work per attempt stay the same however many attempts there are (the oldest bucket may reach up to a bucket's
    width past the window)."""

    BUCKETS = 20

    def __init__(self, window: float) -> None:
        self.window = window
        self._width = window / self.BUCKETS
        self._buckets: deque[list[float]] = deque()  # [start, attempts, failures], oldest first
        self._total = 0
        self._failed = 0

    def add(self, now: float, failed: bool) -> tuple[int, int]:
        """Count one attempt at `now`; the attempts and failures now within the window."""
        while self._buckets and self._buckets[0][0] + self._width <= now - self.window:
            _, total, bad = self._buckets.popleft()
            self._total -= int(total)
            self._failed -= int(bad)
        if not self._buckets or self._buckets[-1][0] + self._width <= now:
            self._buckets.append([now, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed
        self._total += 1
        self._failed += failed
        return self._total, self._failed

    def clear(self) -> None:
        self._buckets.clear()
        self._total = self._failed = 0
