"""Reading jobs: ids, states, progress and the pause between polls (mcp_gateway/jobs.py)."""

from __future__ import annotations

from mcp_gateway.jobs import MAX_INTERVAL, job_id, next_pause, reading
from mcp_gateway.plan import JobPlan


def _plan(**changes: object) -> JobPlan:
    values: dict[str, object] = {
        "poll": "GET /jobs/{id}", "cancel": None, "id_keys": ("pod_id", "id"), "status": "state.name",
        "done": frozenset({"running"}), "failed": frozenset({"failed"}), "progress": "state.percent", "wait": 60.0,
        "interval": 2.0}
    return JobPlan(**{**values, **changes})  # type: ignore[arg-type]


def test_the_first_id_key_present_is_the_id_and_a_number_is_taken_as_text() -> None:
    assert job_id(_plan(), {"id": "x", "pod_id": 42}) == "42"
    assert job_id(_plan(), {"id": "x"}) == "x"
    assert job_id(_plan(), {"dry_run": True}) is None
    assert job_id(_plan(), {"id": True}) is None and job_id(_plan(), {"id": ""}) is None
    assert job_id(_plan(), [1, 2]) is None


def test_states_end_a_job_in_any_case_and_anything_else_is_working() -> None:
    assert reading(_plan(), "p", {"state": {"name": "RUNNING"}}).phase == "completed"
    assert reading(_plan(), "p", {"state": {"name": "Failed"}}).phase == "failed"
    pending = reading(_plan(), "p", {"state": {"name": "PENDING", "percent": 40}})
    assert (pending.phase, pending.status, pending.progress) == ("working", "PENDING", 40.0)
    assert reading(_plan(), "p", {"other": 1}).phase == "working"  # no state yet


def test_pauses_grow_by_half_up_to_the_cap_and_retry_after_lengthens_them() -> None:
    interval = _plan().interval
    assert [next_pause(interval, polls, None) for polls in range(3)] == [2.0, 3.0, 4.5]
    assert next_pause(interval, 50, None) == MAX_INTERVAL
    assert next_pause(interval, 0, 7.0) == 7.0 and next_pause(interval, 2, 1.0) == 4.5
    assert next_pause(120.0, 3, None) == 120.0  # a first interval over the cap stays
