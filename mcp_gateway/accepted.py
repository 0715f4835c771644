"""The generic HTTP form of long work: a `202 Accepted` answer with a `Location` or `Operation-Location` header
where the work's status can be read (RFC 9110 15.3.3; Azure's long-running operations).

Any operation without a profile's `job` that answers so is followed within its call's timeout: the status URL is
polled (on the base URL's origin only, with the same credentials) until it answers something other than 202 whose
`status`, if it has one, is not a running state. Neither a cancel operation nor an id is known, so a call whose
time runs out answers with where the status is, and the tool that reads it when one of the API's GET operations
matches that path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.jobs import JobState, Phase
from mcp_gateway.pagination import link_request, page_json
from mcp_gateway.plan import CompiledTool

STATUS_HEADERS = ("operation-location", "location")  # Azure's first: its Location may be the finished resource
RUNNING = frozenset({"accepted", "created", "inprogress", "in_progress", "notstarted", "not_started", "pending",
                     "processing", "queued", "running", "scheduled", "started", "submitted", "waiting", "working"})
FAILED = frozenset({"failed", "failure", "error", "cancelled", "canceled", "aborted", "rejected", "timedout",
                    "timed_out", "expired"})
FIRST_READ = 0.5  # seconds before the status URL is first read; the pauses grow from there (jobs.next_pause)


def status_request(reply: Reply, base_url: str, query_credentials: Iterable[tuple[str, str]]
                   ) -> tuple[RequestParts, str] | None:
    """The GET of a 202 answer's status URL (without the query parameters that carry a credential: the upstream adds
    them), and the base URL to send it to; None when the answer is no 202, names no status URL, or names one off the
    base URL's origin."""
    if reply.status != 202:
        return None
    target = next((reply.headers[name] for name in STATUS_HEADERS if reply.headers.get(name)), None)
    if target is None:
        return None
    names = {name for name, _ in query_credentials}
    return link_request(RequestParts("GET", ""), target.strip(), reply.url, base_url, names)


def status_reading(url: str, reply: Reply) -> JobState:
    """What a status answer says: a 202, or a JSON `status` in a running state, is still working; a `status` in a
    failed state ended badly; anything else is the finished work."""
    try:
        data = page_json(reply)
    except ValueError:
        data = None
    value = data.get("status") if isinstance(data, dict) else None
    status = value if isinstance(value, str) else ""
    state = re.sub(r"[\s-]", "_", status.lower())
    phase: Phase = "working" if reply.status == 202 or state in RUNNING else "failed" if state in FAILED \
        else "completed"
    return JobState(url, status, phase, None, None)


def reader_tool(tools: Iterable[CompiledTool], base_url: str, url: str) -> CompiledTool | None:
    """The GET tool whose path (under the base URL's path) matches a status URL, if one does."""
    base_path = re.sub(r"^[a-z]+://[^/]+", "", base_url).rstrip("/")
    path = re.sub(r"^[a-z]+://[^/]+", "", url).split("?", 1)[0]
    for tool in tools:
        if tool.plan.method != "GET":
            continue
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]+\})", tool.plan.path))
        if re.fullmatch(re.escape(base_path) + pattern, path):
            return tool
    return None
