"""Bring every other-file `$ref` into the root document, so later stages see local refs only.

A referenced file is stored once under `x-bundled/<id>` and each ref to it is rewritten to a local
pointer. Extension keys (`x-*`) are not walked: vendor add-ons such as code samples often point at
files that were never published. A ref whose file cannot be read is left as it is; the compiler
then skips only the operations that need it, with that reason. A JSON text whose every `$ref` visibly
starts with `#` is not walked at all: that walk costs a tenth of a second on GitHub's document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

from mcp_gateway.errors import DocumentError
from mcp_gateway.spec.load import is_url, load_referenced, looks_like_json

BUNDLE_KEY = "x-bundled"
_ESCAPED_ASCII = re.compile(rb"\\u00[0-7][0-9A-Fa-f]")  # how a JSON key could spell `$ref` in other characters
_REF_ELSEWHERE = re.compile(rb'"\$ref"[ \t\r\n]*+:[ \t\r\n]*+(?!"#)')  # a `$ref` value not starting with `#`


class _Bundler:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.ids: dict[str, str | None] = {}  # absolute location -> id under x-bundled (None: unreadable)
        self.bundled: dict[str, Any] = {}

    def location(self, base: str, target: str) -> str:
        if is_url(base) or is_url(target):  # a local document may refer to a document on the web
            return urljoin(base, target)
        return str((Path(base).parent / unquote(target)).resolve())  # `my%20file.yaml` is `my file.yaml`

    def file_id(self, location: str) -> str | None:
        if location in self.ids:
            return self.ids[location]
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(location.split("?")[0]).stem) or "file"
        candidate, n = stem, 1
        while candidate in self.bundled:
            n += 1
            candidate = f"{stem}_{n}"
        self.ids[location] = candidate
        try:
            content = load_referenced(location, self.timeout)
        except DocumentError:
            self.ids[location] = None
            return None
        self.bundled[candidate] = content
        self.bundled[candidate] = self.walk(content, location, candidate)
        return candidate

    def rewrite(self, ref: str, base: str, own_id: str | None) -> str:
        target, _, fragment = ref.partition("#")
        if not target:
            return f"#/{BUNDLE_KEY}/{own_id}{fragment}" if own_id else ref
        file_id = self.file_id(self.location(base, target))
        if file_id is None:
            return ref
        return f"#/{BUNDLE_KEY}/{file_id}{fragment}"

    def walk(self, node: Any, base: str, own_id: str | None) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    out[key] = self.rewrite(value, base, own_id)
                elif isinstance(key, str) and key.startswith("x-"):
                    out[key] = value
                else:
                    out[key] = self.walk(value, base, own_id)
            return out
        if isinstance(node, list):
            return [self.walk(item, base, own_id) for item in node]
        return node


def has_external_ref(node: Any) -> bool:
    """Whether a document holds an other-file ref outside extension keys (those are never followed)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                return True
            stack.extend(v for k, v in item.items() if not (isinstance(k, str) and k.startswith("x-")))
        elif isinstance(item, list):
            stack.extend(item)
    return False


def may_refer_elsewhere(text: bytes) -> bool:
    """Whether a document's text may hold other-file refs: False only for JSON whose every `"$ref"` key has a
    value starting with `#` and that escapes no ASCII character (which could spell such a key differently)."""
    return not looks_like_json(text) or bool(_ESCAPED_ASCII.search(text) or _REF_ELSEWHERE.search(text))


def bundle_external_refs(document: dict[str, Any], base: str, timeout: float = 10.0) -> dict[str, Any]:
    """Return the document with other-file refs rewritten to local pointers (unchanged if it has none)."""
    if not has_external_ref(document):
        return document
    bundler = _Bundler(timeout)
    result: dict[str, Any] = bundler.walk(document, base, None)
    result[BUNDLE_KEY] = bundler.bundled
    return result
