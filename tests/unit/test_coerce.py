"""Lossless coercion of top-level scalar arguments to their declared types."""

from __future__ import annotations

from mcp_gateway.coerce import coerce_arguments, coerce_value, scalar_types


def test_lossless_conversions_only():
    assert coerce_value(42, "string") == "42"
    assert coerce_value(1.5, "string") == "1.5"
    assert coerce_value(True, "string") is True  # not a number: left for the validator
    assert coerce_value("7", "integer") == 7
    assert coerce_value("7.0", "integer") == 7
    assert coerce_value("7.5", "integer") == "7.5"
    assert coerce_value(3.0, "integer") == 3
    assert coerce_value("2.5", "number") == 2.5
    assert coerce_value("abc", "number") == "abc"
    assert coerce_value("True", "boolean") is True
    assert coerce_value("no", "boolean") == "no"


def test_only_single_scalar_top_level_arguments_are_touched():
    schema = {"type": "object", "properties": {
        "id": {"type": "string"}, "n": {"type": "integer"}, "tags": {"type": "array"},
        "maybe": {"type": ["string", "null"]}, "ref": {"$ref": "#/$defs/X"}}}
    kinds = scalar_types(schema)
    assert kinds == {"id": "string", "n": "integer"}
    args = {"id": 42, "n": "3", "tags": [1], "maybe": 5, "ref": 1, "extra": "x"}
    assert coerce_arguments(args, kinds) == {"id": "42", "n": 3, "tags": [1], "maybe": 5, "ref": 1, "extra": "x"}
