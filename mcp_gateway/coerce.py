"""Forgiving argument types: clients and models often send `42` for a string id, or `"true"` for a boolean.

Only top-level arguments with one declared scalar type are touched, and only when the value converts
without loss; everything else is left for the validator to report.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _number(text: str, kind: str) -> int | float | None:
    try:
        value = json.loads(text.strip())
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None  # `"NaN"` and `"Infinity"` parse in Python, but are no JSON numbers
    if kind == "integer":
        return int(value) if float(value).is_integer() else None
    return value


def coerce_value(value: Any, kind: str) -> Any:
    """`value` as the declared scalar `kind` when that is lossless, else unchanged."""
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    if kind in ("integer", "number") and isinstance(value, str):
        number = _number(value, kind)
        return value if number is None else number
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def scalar_types(input_schema: dict[str, Any]) -> dict[str, str]:
    """Top-level arguments that declare exactly one scalar type."""
    properties = input_schema.get("properties") or {}
    return {name: schema["type"] for name, schema in properties.items()
            if isinstance(schema, dict) and schema.get("type") in ("string", "integer", "number", "boolean")}


def coerce_arguments(arguments: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A copy of `arguments` with losslessly convertible scalars converted to their declared types."""
    return {name: coerce_value(value, types[name]) if name in types else value for name, value in arguments.items()}
