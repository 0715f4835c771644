"""Compact JSON text: how every JSON value the gateway writes is spelt (bodies, parameters, results)."""

from __future__ import annotations

import json
from typing import Any


def json_text(value: Any) -> str:
    """Compact JSON, non-ASCII characters as themselves; NaN and infinities are refused (ValueError), as JSON
    has no spelling for them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str | bytes) -> Any:
    """Strict JSON: like `json.loads`, but `NaN` and `Infinity` are errors, as they are in JSON."""
    return json.loads(text, parse_constant=_no_constant)
