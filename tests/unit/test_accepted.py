"""The generic 202 Accepted form (mcp_gateway/accepted.py): which status URLs are followed, what a status says,
and which tool reads it."""

from __future__ import annotations

import httpx

from mcp_gateway.accepted import reader_tool, status_reading, status_request
from mcp_gateway.exchange import Reply
from mcp_gateway.plan import CallPlan, CompiledTool

BASE = "https://api.example.com/v2"


def _reply(status: int, body: bytes = b"", **headers: str) -> Reply:
    return Reply(status, "", httpx.Headers({"content-type": "application/json", **headers}), body, len(body),
                 f"{BASE}/operations")


def _tool(name: str, method: str, path: str) -> CompiledTool:
    return CompiledTool(name, None, "", {}, None, {}, CallPlan(method, path), f"{method} {path}")


def test_only_a_202_naming_a_status_url_on_the_base_origin_is_followed() -> None:
    request = status_request(_reply(202, **{"operation-location": "/v2/ops/7?api-version=1&key=s"}), BASE,
                             [("key", "s")])
    assert request is not None
    parts, base = request
    assert (parts.method, parts.path, parts.query, base) == ("GET", "/v2/ops/7", [("api-version", "1")],
                                                            "https://api.example.com")
    assert status_request(_reply(202, location="https://elsewhere.example.com/ops/7"), BASE, ()) is None
    assert status_request(_reply(202), BASE, ()) is None
    assert status_request(_reply(201, location="/v2/ops/7"), BASE, ()) is None
    preferred = status_request(_reply(202, location="/v2/thing", **{"operation-location": "/v2/ops/1"}), BASE, ())
    assert preferred is not None and preferred[0].path == "/v2/ops/1"


def test_a_status_is_working_failed_or_finished() -> None:
    assert status_reading("u", _reply(202)).phase == "working"
    assert status_reading("u", _reply(200, b'{"status": "NotStarted"}')).phase == "working"
    assert status_reading("u", _reply(200, b'{"status": "in progress"}')).phase == "working"
    failed = status_reading("u", _reply(200, b'{"status": "Canceled"}'))
    assert (failed.phase, failed.status) == ("failed", "Canceled")
    assert status_reading("u", _reply(200, b'{"status": "Succeeded"}')).phase == "completed"
    assert status_reading("u", _reply(200, b'{"id": 3}')).phase == "completed"  # the finished resource itself
    assert status_reading("u", _reply(204)).phase == "completed"


def test_the_reader_is_the_get_tool_whose_path_matches() -> None:
    tools = [_tool("deleteOp", "DELETE", "/ops/{id}"), _tool("getOp", "GET", "/ops/{id}"),
             _tool("listOps", "GET", "/ops")]
    reader = reader_tool(tools, BASE, "https://api.example.com/v2/ops/7?api-version=1")
    assert reader is not None and reader.name == "getOp"
    assert reader_tool(tools, BASE, "https://api.example.com/v2/other/7") is None
