"""Read a document from a path or an http(s) URL and parse it as JSON or YAML."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx
import yaml

from mcp_gateway.errors import DocumentError

log = logging.getLogger("mcp_gateway")

def _document_loader() -> type[yaml.SafeLoader]:
    """The safe YAML loader (libyaml's when present) that keeps dates as strings, so every value stays
    JSON-serialisable."""
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {first: [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:timestamp"]
                 for first, entries in base.yaml_implicit_resolvers.items()}
    return type("_DocumentLoader", (base,), {"yaml_implicit_resolvers": resolvers})


_DocumentLoader = _document_loader()


def is_url(source: str) -> bool:
    """True when the source is an http(s) URL rather than a file path."""
    return source.startswith(("http://", "https://"))


def cache_dir() -> Path:
    """Where fetched documents are kept: $MCP_GATEWAY_CACHE_DIR, else ~/.cache/mcp-gateway."""
    configured = os.environ.get("MCP_GATEWAY_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "mcp-gateway"


def _cached(url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    return cache_dir() / f"{key}.doc", cache_dir() / f"{key}.etag"


def _fetch_url(url: str, timeout: float) -> str:
    """GET a document, revalidating the last good copy by its ETag; fall back to that copy on failure."""
    body_file, etag_file = _cached(url)
    headers = {}
    if body_file.exists() and etag_file.exists():
        headers["If-None-Match"] = etag_file.read_text().strip()
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True, headers=headers)
    except httpx.HTTPError as exc:
        problem = f"could not fetch ({type(exc).__name__})"
    else:
        if response.status_code == 304 and body_file.exists():
            return body_file.read_text(encoding="utf-8")
        if response.status_code < 400:
            try:
                body_file.parent.mkdir(parents=True, exist_ok=True)
                body_file.write_text(response.text, encoding="utf-8")
                etag = response.headers.get("etag")
                if etag:
                    etag_file.write_text(etag)
                else:
                    etag_file.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not cache %s (%s)", url, exc)
            return response.text
        problem = f"fetch returned HTTP {response.status_code}"
    if body_file.exists():
        log.warning("%s: %s; using the copy cached on disk at %s", url, problem, body_file)
        return body_file.read_text(encoding="utf-8")
    raise DocumentError(url, f"{problem}; check the URL and the network")


def fetch_text(source: str, timeout: float) -> str:
    """Return the text of a path or URL; errors name the source and what to do."""
    if is_url(source):
        return _fetch_url(source, timeout)
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
        data = yaml.load(text, Loader=_DocumentLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DocumentError(source, f"is neither valid JSON nor valid YAML{where}") from None
    _check_aliases(data, source, limit=20 * len(text) + 100_000)
    return data


def _check_aliases(data: Any, source: str, limit: int) -> None:
    """Refuse YAML whose aliases make a cycle or expand far past the text (a "billion laughs" document).

    Every later stage walks the document as a tree, so a shared node costs once per path to it;
    sizes are counted per distinct node, which keeps this check linear in the text.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, dict | list) or (id(node) in sizes and not children_done):
            continue
        children = [v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list)]
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + len(node) + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > limit:
                raise DocumentError(source, "YAML aliases expand it to far more nodes than its text has; "
                                            "write the repeated parts out or use $ref")
            continue
        if id(node) in open_nodes:
            raise DocumentError(source, "a YAML alias refers to a node that contains it (a cycle); use $ref instead")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def load_document(source: str, timeout: float = 10.0) -> tuple[dict[str, Any], str]:
    """Load the root document; returns the parsed dict and the base that relative refs resolve against."""
    data = parse_text(fetch_text(source, timeout), source)
    if not isinstance(data, dict):
        raise DocumentError(source, "the top level must be a mapping (an OpenAPI or Swagger object)")
    base = source if is_url(source) else str(Path(source).resolve())
    return data, base
