"""Upstream jobs (a profile's `overrides.<op>.job`): read a job's id and state from its answers, and follow it by
polling the operation that reads it until it ends, a bound passes, or the call is cancelled.

Polling backs off (the profile's first interval, growing by half each time up to 30 s) and waits at least as long
as a `Retry-After` header asks; a poll that fails for a moment (a 429 or 5xx answer, an unreachable upstream) is
tried again, up to `MAX_POLL_FAILURES` in a row. Nothing here starts a job: following one never sends its start
request again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply
from mcp_gateway.pagination import at_path, page_json
from mcp_gateway.plan import JobPlan
from mcp_gateway.retry import retry_after_seconds

Phase = Literal["working", "completed", "failed"]
Poll = Callable[[], Awaitable[Reply]]
Read = Callable[[Reply], "JobState"]  # what a poll's 2xx answer says of the job; ValueError: it says nothing
MAX_INTERVAL = 30.0  # seconds: the longest pause between polls that the backoff reaches by itself
MAX_RETRY_AFTER = 300.0  # seconds: a longer Retry-After is taken as this
MAX_POLL_FAILURES = 5  # failed polls in a row after which the job is reported as lost from view
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


class JobPollError(Exception):
    """The job could not be read: its poll answered with an error, or failed too often in a row."""


@dataclass(frozen=True)
class JobState:
    """One reading of a job: its id, its state as the upstream wrote it, what that state means, its percentage
    (when it reports one) and the whole answer it was read from."""

    id: str
    status: str
    phase: Phase
    progress: float | None
    data: Any


def job_id(plan: JobPlan, data: Any) -> str | None:
    """The job's id in a start answer (the first of the plan's keys that holds a string or a number), or None: the
    answer is not a job (e.g. a dry run, or work that finished at once)."""
    for keys in plan.id_keys:
        value = at_path(data, keys)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def reading(plan: JobPlan, identifier: str, data: Any) -> JobState:
    """What an answer says of job `identifier`: a state in `done` or `failed` (any case) ends it, anything else
    (or none) means it is still working."""
    status = at_path(data, plan.status)
    text = str(status) if isinstance(status, str | int | float) and not isinstance(status, bool) else ""
    state = text.lower()
    phase: Phase = "completed" if state in plan.done else "failed" if state in plan.failed else "working"
    progress = at_path(data, plan.progress) if plan.progress else None
    percent = float(progress) if isinstance(progress, int | float) and not isinstance(progress, bool) else None
    return JobState(identifier, text, phase, percent, data)


def next_pause(interval: float, polls: int, retry_after: float | None) -> float:
    """The pause before poll number `polls + 1`: the first `interval`, growing by half each time up to MAX_INTERVAL
    (or the first interval, when that is longer), and never shorter than what `Retry-After` asked for."""
    pause = min(interval * 1.5 ** polls, max(MAX_INTERVAL, interval))
    return max(pause, min(retry_after, MAX_RETRY_AFTER)) if retry_after is not None else pause


def record_reader(plan: JobPlan, identifier: str) -> Read:
    """How a declared job's poll answers are read: a whole JSON job record."""
    return lambda reply: reading(plan, identifier, page_json(reply))


async def follow(interval: float, state: JobState, poll: Poll, read: Read,
                 heard: Callable[[JobState, int], Awaitable[None]], until: float | None) -> tuple[JobState, int]:
    """Poll a working job, the first time after `interval` seconds, until it ends or the clock
    (`anyio.current_time()`) passes `until` (None: no bound), reading each 2xx answer with `read`; `heard` hears each
    reading and the number of polls so far. Returns the last reading and the number of polls.

    A cancelled caller stops the polling at once (anyio's cancellation runs through the pauses and the polls).
    Raises JobPollError when a poll answers with an error that will not pass, or fails MAX_POLL_FAILURES in a row.
    """
    polls = failures = 0
    retry_after: float | None = None
    while state.phase == "working":
        now = anyio.current_time()
        if until is not None and now >= until:
            break
        pause = next_pause(interval, polls, retry_after)
        if until is not None:
            pause = min(pause, until - now)
        await anyio.sleep(pause)
        polls += 1
        reply: Reply | None = None
        try:
            reply = await poll()
        except UpstreamError as exc:
            passing, retry_after = str(exc), None
        else:
            retry_after = retry_after_seconds(reply.headers.get("retry-after"), time.time())
            passing = f"HTTP {reply.status} {reply.reason}" if reply.status in _TRANSIENT else ""
        if reply is None or passing:  # a failure that may pass: tried again, up to MAX_POLL_FAILURES in a row
            failures += 1
            if failures >= MAX_POLL_FAILURES:
                raise JobPollError(f"{MAX_POLL_FAILURES} polls in a row failed, the last one: {passing}")
            continue
        if not 200 <= reply.status < 300:
            raise JobPollError(f"reading the job answered HTTP {reply.status} {reply.reason}: "
                               f"{reply.body[:300].decode(errors='replace')}")
        failures = 0
        try:
            state = read(reply)
        except ValueError as exc:
            raise JobPollError(f"reading the job gave no job record: {exc}") from None
        await heard(state, polls)
    return state, polls
