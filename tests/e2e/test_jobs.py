"""Upstream jobs (profile `overrides.<op>.job`) waited for in one call: progress notifications, the bound and its
resumable answer, a failed job, Retry-After between polls, and a cancelled call stopping the job; never a second
job started. Real server over stdio, official client, a stand-in upstream whose jobs finish after a few polls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anyio
import pytest

from tests.common import FIXTURES
from tests.servers import serve_stdio, text_of
from tests.upstream import JobsUpstream

pytestmark = pytest.mark.anyio

PROFILE = str(FIXTURES / "jobs_profile.yaml")


@pytest.fixture
def jobs() -> Iterator[JobsUpstream]:
    server = JobsUpstream().start()
    yield server
    server.stop()


async def test_a_job_is_waited_for_with_progress_and_answered_finished(jobs: JobsUpstream) -> None:
    heard: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        heard.append((done, total, message))

    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "ok"}, progress_callback=progress)
    assert not result.is_error, text_of(result)
    job = json.loads(result.content[0].text)
    assert job["status"] == "completed" and job["result_url"].endswith("/files/job-1.mp4")
    assert "Job job-1 finished (completed) after 3 polls" in result.content[-1].text
    assert [done for done, _, _ in heard] == [33, 66, 100]
    assert heard[0][2] == "job job-1 is running (33%)"
    assert jobs.started() == 1 and jobs.polls == {"job-1": 3} and jobs.cancelled == []


async def test_a_failed_job_is_an_error_with_its_record(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "fail"})
    assert result.is_error
    assert json.loads(result.content[0].text)["error"] == "the model refused the prompt"
    assert "Job job-1 ended without success (failed)" in text_of(result)
    assert jobs.started() == 1


async def test_past_the_bound_the_job_comes_back_as_it_stands_with_the_next_step(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "never"})
        again = await served.client.call_tool("getJob", {"job_id": "job-1"})  # the step the answer names works
    assert not result.is_error, text_of(result)
    note = result.content[-1].text
    assert "Job job-1 is still working (running) after 4 s" in note
    assert "getJob (job_id: 'job-1')" in note and "cancelJob (job_id: 'job-1')" in note
    assert "Do not call startJob again" in note
    assert json.loads(text_of(again))["status"] == "running"
    assert jobs.started() == 1 and jobs.cancelled == []  # the bound leaves the job running upstream


async def test_polls_wait_as_long_as_retry_after_asks(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        result = await served.client.call_tool("startJob", {"prompt": "slow"})
    assert not result.is_error, text_of(result)
    polls = [record.at for record in jobs.requests if record.method == "GET"]
    assert len(polls) == 2 and polls[1] - polls[0] >= 0.95  # the interval is 0.2 s; Retry-After said 1 s


async def test_a_cancelled_call_stops_polling_and_cancels_the_job(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        with anyio.move_on_after(1.0):
            await served.client.call_tool("startJob", {"prompt": "never"})
        deadline = time.monotonic() + 5
        while not jobs.cancelled and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        polls_then = jobs.polls["job-1"]
        await anyio.sleep(0.6)  # longer than the next pause would be
        alive = await served.client.call_tool("getJob", {"job_id": "job-1"})
    assert jobs.cancelled == ["job-1"]
    assert jobs.polls["job-1"] == polls_then + 1  # no poll after the cancel but the one just made by hand
    assert json.loads(text_of(alive))["status"] == "cancelled"
    assert jobs.started() == 1


async def test_a_202_with_a_status_location_is_followed_to_its_end(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        done = await served.client.call_tool("startOperation", {"prompt": "ok"})
        failed = await served.client.call_tool("startOperation", {"prompt": "fail"})
        away = await served.client.call_tool("startOperation", {"prompt": "away"})
    assert not done.is_error, text_of(done)
    assert json.loads(done.content[0].text) == {"status": "Succeeded", "result": {"answer": 42}}
    assert "accepted the request (HTTP 202) and ended it (Succeeded) after 3 status reads" in done.content[-1].text
    assert failed.is_error and "out of capacity" in text_of(failed) and "(Failed)" in text_of(failed)
    # a status URL on another host is not followed: the 202 answer is the result
    assert not away.is_error and json.loads(text_of(away)) == {"status": "Accepted"}
    reads = [record.raw_path for record in jobs.requests if record.method == "GET"]
    assert reads == ["/operations/op-1"] * 3 + ["/operations/op-2"] * 3


async def test_a_202_still_running_when_the_call_times_out_says_where_its_status_is(jobs: JobsUpstream) -> None:
    async with serve_stdio([PROFILE, "--base-url", jobs.url]) as served:
        result = await served.client.call_tool("startOperation", {"prompt": "never"})
    assert not result.is_error, text_of(result)
    note = result.content[-1].text
    assert "still working on it (Running) after 4 s" in note
    assert f"{jobs.url}/operations/op-1: read it with getOperation" in note
    assert "Do not call startOperation again" in note
    assert len([record for record in jobs.requests if record.method == "POST"]) == 1
