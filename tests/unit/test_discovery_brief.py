"""What search results say about an operation's arguments."""

from __future__ import annotations

from mcp_gateway.discovery import _arguments_in_brief


def test_argument_types_in_brief_read_type_lists_and_null_branches() -> None:
    schema = {"type": "object", "required": ["owner"], "properties": {
        "owner": {"type": "string"},
        "since": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "a date"},
        "labels": {"type": ["array", "null"]},
        "extra": {},
        "mixed": {"anyOf": [{"type": "integer"}, {}]},
    }}
    assert _arguments_in_brief(schema) == {"owner": "string, required", "since": "string|null",
                                           "labels": "array|null", "extra": "any", "mixed": "any"}
