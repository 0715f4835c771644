"""One started job as the agent sees it: the requests that read and stop it (built from the tools of those
operations), and the answers a call gives about it: finished, failed, or still working with the way to check on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as types

from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.jobs import JobPollError, JobState, job_id, reading
from mcp_gateway.pagination import page_json
from mcp_gateway.plan import CompiledTool, JobPlan
from mcp_gateway.request import build_request
from mcp_gateway.response import error_result, render_json
from mcp_gateway.selection import Selection

CANCEL_SECONDS = 10.0  # the longest a job's cancel request may take once its caller went away


def started_job(plan: JobPlan, reply: Reply) -> JobState | None:
    """The job a start answer reports, when it is a whole JSON answer holding an id and a state that has not ended;
    None otherwise (a dry run, an answer that finished at once, or one that is not a job record)."""
    try:
        data = page_json(reply)
    except ValueError:
        return None
    identifier = job_id(plan, data)
    if identifier is None:
        return None
    state = reading(plan, identifier, data)
    return state if state.phase == "working" else None


def id_argument(tool: CompiledTool) -> str | None:
    """The argument of the first path parameter of a tool that reads or stops a job by its id."""
    return next((binding.argument for binding in tool.plan.params if binding.location == "path"), None)


@dataclass(frozen=True)
class JobCalls:
    """The job `id` that `tool` started, read by the `poller` tool and stopped by the `stopper` tool (if any)."""

    tool: CompiledTool
    id: str
    poller: CompiledTool
    stopper: CompiledTool | None

    def _request(self, tool: CompiledTool) -> RequestParts:
        return build_request(tool.plan, {id_argument(tool) or "id": self.id})

    def poll_request(self) -> RequestParts:
        """The request that reads the job."""
        return self._request(self.poller)

    def cancel_request(self) -> RequestParts | None:
        """The request that stops the job, when its operation is a tool with a path parameter."""
        return self._request(self.stopper) if self.stopper is not None and id_argument(self.stopper) else None

    def progress_text(self, state: JobState) -> str:
        """A progress message: the job and its state."""
        return f"job {self.id} is {state.status or 'working'}" + (
            f" ({state.progress:g}%)" if state.progress is not None else "")

    def next_step(self) -> str:
        """How to check on the job (and stop it), and why not to start it again."""
        argument = id_argument(self.poller) or "id"
        stop = (f", or stop it with {self.stopper.name} ({id_argument(self.stopper) or 'id'}: {self.id!r})"
                if self.stopper is not None else "")
        return (f"Check on it later with {self.poller.name} ({argument}: {self.id!r}){stop}. Do not call "
                f"{self.tool.name} again for this: that starts (and bills) a new job.")

    def lost(self, exc: JobPollError) -> types.CallToolResult:
        """The call's answer when the job could not be followed: what failed, and how to check on the job."""
        return error_result(f"{self.tool.name} started job {self.id}, but following it failed: {exc}. "
                            f"{self.next_step()}")

    def result(self, state: JobState, polls: int, waited: float, max_bytes: int, selection: Selection | None
               ) -> types.CallToolResult:
        """The call's answer: the finished job, the failed one (an error), or the job still working after `waited`
        seconds, with how to check on it."""
        said = f" ({state.status})" if state.status else ""
        if state.phase == "completed":
            return render_json(self.tool, state.data, max_bytes, selection,
                               f"Job {self.id} finished{said} after {polls} poll{'s' * (polls != 1)}.")
        if state.phase == "failed":
            result = render_json(self.tool, state.data, max_bytes, None, f"Job {self.id} ended without success{said}.")
            result.is_error = True
            result.structured_content = None
            return result
        return render_json(self.tool, state.data, max_bytes, selection,
                           f"Job {self.id} is still working{said} after {waited:g} s; it goes on upstream. "
                           + self.next_step())

