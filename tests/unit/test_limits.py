"""Unit tests of the concurrency limit (at most N holders, waiters served first come first served, cancelled waiters
leave the queue) and of the circuit breaker (opening on failures in a row or an error rate, failing fast, the
half-open probe), the breaker driven by a fake clock."""

from __future__ import annotations

import anyio
import pytest

from mcp_gateway.limits import CircuitBreaker, ConcurrencyLimit, SlidingCounts, UpstreamUnavailable
from mcp_gateway.profile import Breaker

pytestmark = pytest.mark.anyio


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the concurrency limit --------------------------------------------------------------------------------------


async def test_at_most_the_limit_hold_a_slot_and_waiters_go_in_the_order_they_came() -> None:
    limit = ConcurrencyLimit(2)
    order: list[int] = []
    gates = [anyio.Event() for _ in range(5)]
    most = 0

    async def caller(n: int) -> None:
        nonlocal most
        async with limit:
            order.append(n)
            most = max(most, limit.in_flight)
            await gates[n].wait()

    async with anyio.create_task_group() as tasks:
        for n in range(5):
            tasks.start_soon(caller, n)
            await anyio.wait_all_tasks_blocked()  # each caller queued before the next one asks
        assert order == [0, 1] and limit.waiting == 3
        for n in (1, 0, 2, 3, 4):
            gates[n].set()
            await anyio.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3, 4] and most == 2
    assert limit.in_flight == 0 and limit.waiting == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_gets_its_turn() -> None:
    limit = ConcurrencyLimit(1)
    got: list[str] = []
    release = anyio.Event()

    async def holder() -> None:
        async with limit:
            await release.wait()

    async def waiter(name: str) -> None:
        async with limit:
            got.append(name)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(holder)
        await anyio.wait_all_tasks_blocked()
        with anyio.CancelScope() as gone:
            async with anyio.create_task_group() as inner:
                inner.start_soon(waiter, "cancelled")
                await anyio.wait_all_tasks_blocked()
                gone.cancel()
        tasks.start_soon(waiter, "next")
        await anyio.wait_all_tasks_blocked()
        assert limit.waiting == 1
        release.set()
    assert got == ["next"] and limit.in_flight == 0


async def test_a_waiter_cancelled_as_it_is_handed_the_slot_passes_it_on() -> None:
    limit = ConcurrencyLimit(1)
    got: list[str] = []

    async def waiter(name: str) -> None:
        async with limit:
            got.append(name)

    async with anyio.create_task_group() as tasks:
        await limit._acquire()  # the test holds the only slot
        with anyio.CancelScope() as unlucky:
            async with anyio.create_task_group() as inner:
                inner.start_soon(waiter, "unlucky")
                tasks.start_soon(waiter, "next")
                await anyio.wait_all_tasks_blocked()
                unlucky.cancel()  # "unlucky" is cancelled, and before it runs again...
                limit._release()  # ...the slot is handed to it
    assert got == ["next"] and limit.in_flight == 0 and limit.waiting == 0


# -- the circuit breaker ----------------------------------------------------------------------------------------


def breaker(clock: FakeClock, **settings: float) -> CircuitBreaker:
    return CircuitBreaker("pets", Breaker.model_validate({"failures": 3, "cooldown": 30, **settings}), clock)


def test_failures_in_a_row_open_it_and_a_success_between_resets_the_count() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for failed in (True, True, False, True, True):
        assert cb.admit() is False
        cb.record(failed, False, "HTTP 503")
    assert cb.state == "closed"
    cb.record(True, False, "HTTP 503")
    assert cb.state == "open"
    with pytest.raises(UpstreamUnavailable) as raised:
        cb.admit()
    assert str(raised.value) == ("pets upstream unavailable, retry after 30 s (3 failed attempts in a row, the last: "
                                 "HTTP 503; no request was sent)")
    clock.now += 20.5
    with pytest.raises(UpstreamUnavailable, match="retry after 10 s"):
        cb.admit()


def test_an_error_rate_over_the_window_opens_it() -> None:
    clock = FakeClock()
    cb = breaker(clock, failures=100, error_rate=0.5, window=60, min_calls=10)
    for n in range(9):
        cb.record(n % 2 == 0, False, "HTTP 502")  # 5 of 9 failed, fewer than min_calls
        clock.now += 1
    assert cb.state == "closed"
    cb.record(False, False, "")  # 5 of 10
    assert cb.state == "open"
    with pytest.raises(UpstreamUnavailable, match="5 of the last 10 attempts failed"):
        cb.admit()


def test_old_attempts_leave_the_window() -> None:
    clock = FakeClock()
    cb = breaker(clock, failures=100, error_rate=0.5, window=60, min_calls=4)
    for _ in range(3):
        cb.record(True, False, "HTTP 503")
    clock.now += 120  # those three are long gone
    for _ in range(3):
        cb.record(False, False, "")
    cb.record(True, False, "HTTP 503")
    assert cb.state == "closed"  # 1 of 4, not 4 of 7


def test_after_the_cooldown_one_probe_goes_and_its_success_closes_it() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record(True, False, "ConnectError")
    clock.now += 30
    assert cb.admit() is True and cb.state == "half_open"
    with pytest.raises(UpstreamUnavailable, match="retry after 1 s"):  # the probe is under way: the others wait
        cb.admit()
    cb.record(True, False, "late failure of an attempt admitted earlier")  # not the probe: it decides nothing
    assert cb.state == "half_open"
    cb.record(False, True)
    assert cb.state == "closed" and cb.admit() is False


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record(True, False, "HTTP 504")
    clock.now += 31
    assert cb.admit() is True
    cb.record(True, True, "HTTP 504")
    assert cb.state == "open"
    with pytest.raises(UpstreamUnavailable, match=r"retry after 30 s \(the probe after the cooldown failed too"):
        cb.admit()


def test_an_abandoned_probe_lets_the_next_caller_probe() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record(True, False, "HTTP 503")
    clock.now += 30
    assert cb.admit() is True
    cb.abandon(True)
    assert cb.admit() is True


def test_sliding_counts_keep_a_bounded_number_of_buckets() -> None:
    counts = SlidingCounts(60)
    for second in range(10_000):
        total, failed = counts.add(float(second), second % 4 == 0)
    assert len(counts._buckets) <= SlidingCounts.BUCKETS + 1
    assert 60 <= total <= 63 and failed == pytest.approx(total / 4, abs=1)
