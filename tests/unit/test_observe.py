"""The per-call log line: its text and JSON forms, the size of a result, and the status a result gives a call."""

from __future__ import annotations

import json
import logging

from mcp_gateway.observe import ERROR_STATUSES, CallRecord, JsonFormatter, _size, _status, text_line

RECORD = CallRecord("getItem", "pet clinic", "GET", "/pets/{id}", "ok", 2.5, 120, "alice@example.com", 42)


def test_the_text_line_is_key_value_pairs_quoting_what_needs_it() -> None:
    assert text_line(RECORD) == ('call tool=getItem api="pet clinic" method=GET path=/pets/{id} status=ok '
                                 "duration_ms=2.5 bytes=120 caller=alice@example.com pid=42")


def test_json_lines_carry_a_calls_fields_at_the_top_level() -> None:
    formatter = JsonFormatter()
    call = logging.LogRecord("mcp_gateway.calls", logging.INFO, __file__, 1, "call ...", None, None)
    call.call = RECORD
    line = json.loads(formatter.format(call))
    assert line["event"] == "tool_call" and line["tool"] == "getItem" and line["api"] == "pet clinic"
    assert line["duration_ms"] == 2.5 and line["caller"] == "alice@example.com" and "message" not in line
    other = logging.LogRecord("mcp_gateway", logging.WARNING, __file__, 1, "a %s", ("warning",), None)
    assert json.loads(formatter.format(other))["message"] == "a warning"


def test_the_size_counts_text_and_data() -> None:
    result = {"content": [{"type": "text", "text": "abc"}, {"type": "image", "data": "QUJD", "mimeType": "x"},
                          {"type": "resource", "resource": {"uri": "u", "blob": "QQ=="}}], "isError": False}
    assert _size(result) == 3 + 4 + 4
    assert _size(None) == 0


def test_a_call_asking_the_user_or_made_a_task_is_logged_as_such_not_as_ok() -> None:
    assert _status({"resultType": "input_required", "inputRequests": {}}) == "asked"
    assert _status({"resultType": "task", "taskId": "t", "status": "working"}) == "task"
    assert _status({"task": {"taskId": "t", "status": "working"}}) == "task"  # 2025-11-25
    assert _status({"content": [], "isError": True}) == "error"
    assert _status({"content": []}) == "ok"
    assert {"asked", "task", "ok"}.isdisjoint(ERROR_STATUSES)
