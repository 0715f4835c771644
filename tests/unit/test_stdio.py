"""Unit tests of the stdin line check: which lines the SDK reads as messages, and the error owed to the others."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp_types import INVALID_REQUEST, PARSE_ERROR

from mcp_gateway.stdio import line_error


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 3, "result": {}},
], ids=["request", "string-id", "notification", "response"])
def test_messages_pass(message: dict[str, Any]) -> None:
    assert line_error(json.dumps(message)) is None


@pytest.mark.parametrize("request_id", [None, 1.5, True, {"a": 1}, [1]], ids=["null", "fraction", "bool", "object",
                                                                                "list"])
def test_a_request_whose_id_is_no_id_is_invalid_not_a_notification(request_id: Any) -> None:
    error = line_error(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "ping"}))
    assert error is not None
    assert (error.id, error.error.code) == (None, INVALID_REQUEST)
    assert error.error.message.startswith(f"Invalid Request: id: {json.dumps(request_id)} is no request id")


def test_a_long_id_is_shown_cut() -> None:
    error = line_error(json.dumps({"jsonrpc": "2.0", "id": {"k": "v" * 500}, "method": "ping"}))
    assert error is not None and len(error.error.message) < 150


@pytest.mark.parametrize(("line", "code", "request_id"), [
    ('{"jsonrpc": "2.0", "id": 7, "method": "ping"', PARSE_ERROR, None),
    ("[1, 2]", INVALID_REQUEST, None),
    ('{"jsonrpc": "2.0", "id": 8, "method": 5}', INVALID_REQUEST, 8),
], ids=["cut", "batch", "method-number"])
def test_lines_that_are_no_message(line: str, code: int, request_id: Any) -> None:
    error = line_error(line)
    assert error is not None and (error.id, error.error.code) == (request_id, code)
