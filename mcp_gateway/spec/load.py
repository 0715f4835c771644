"""Read a document from a path or an http(s) URL and parse it as JSON or YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from mcp_gateway.errors import DocumentError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DocumentLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that keeps dates as strings, so every value stays JSON-serialisable."""


_DocumentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def is_url(source: str) -> bool:
    """True when the source is an http(s) URL rather than a file path."""
    return source.startswith(("http://", "https://"))


def fetch_text(source: str, timeout: float) -> str:
    """Return the text of a path or URL; errors name the source and what to do."""
    if is_url(source):
        try:
            response = httpx.get(source, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise DocumentError(source, f"could not fetch ({type(exc).__name__}); check the URL and the network") from None
        if response.status_code >= 400:
            raise DocumentError(source, f"fetch returned HTTP {response.status_code}; check the URL")
        return response.text
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DocumentError(source, "no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(source, f"cannot be read ({exc.__class__.__name__}: {exc})") from None


def parse_text(text: str, source: str) -> Any:
    """Parse JSON (fast path) or YAML text."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # YAML is a superset of JSON in practice; let YAML report the error
    try:
        return yaml.load(text, Loader=_DocumentLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DocumentError(source, f"is neither valid JSON nor valid YAML{where}") from None


def load_document(source: str, timeout: float = 10.0) -> tuple[dict[str, Any], str]:
    """Load the root document; returns the parsed dict and the base that relative refs resolve against."""
    data = parse_text(fetch_text(source, timeout), source)
    if not isinstance(data, dict):
        raise DocumentError(source, "the top level must be a mapping (an OpenAPI or Swagger object)")
    base = source if is_url(source) else str(Path(source).resolve())
    return data, base
