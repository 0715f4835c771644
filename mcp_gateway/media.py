"""Media types: the one place that decides whether a type is JSON, text, a form, multipart or raw bytes."""

from __future__ import annotations

from typing import Literal

BodyKind = Literal["json", "form", "multipart", "text", "binary"]

_TEXT_SUFFIXES = ("/xml", "+xml", "/javascript", "/yaml", "+yaml", "/x-yaml", "/csv", "/graphql")


def essence(content_type: str) -> str:
    """`type/subtype` in lower case, without parameters (`Application/JSON; charset=utf-8` -> `application/json`)."""
    return content_type.split(";", 1)[0].strip().lower()


def charset(content_type: str) -> str | None:
    """The `charset` parameter of a Content-Type, if it names one."""
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def is_json(content_type: str) -> bool:
    """JSON and its relatives: `application/json`, `+json` suffixes, `x-ndjson`, `json-patch+json`."""
    return "json" in essence(content_type)


def is_textual(content_type: str) -> bool:
    """Bytes that are text for a reader: JSON, `text/*`, XML, JavaScript, YAML, CSV, forms."""
    media = essence(content_type)
    return (is_json(media) or media.startswith("text/") or media.endswith(_TEXT_SUFFIXES)
            or media == "application/x-www-form-urlencoded")


def body_kind(content_type: str) -> BodyKind:
    """How a request body of this media type is encoded; a wildcard means JSON, anything unknown raw bytes."""
    media = essence(content_type)
    if media in ("*/*", "application/*") or is_json(media):
        return "json"
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.startswith("multipart/"):
        return "multipart"
    if media.startswith("text/") or media.endswith(_TEXT_SUFFIXES):
        return "text"
    return "binary"
