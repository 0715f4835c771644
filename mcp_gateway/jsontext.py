"""Compact JSON text: how every JSON value the gateway writes is spelt (bodies, parameters, results)."""

from __future__ import annotations

import json
from typing import Any


def json_text(value: Any) -> str:
    """Compact JSON, non-ASCII characters as themselves."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
