"""Media types: the one place that decides whether a type is JSON, text, a form, multipart or raw bytes."""

from __future__ import annotations

import mimetypes
import re
from typing import Literal

BodyKind = Literal["json", "form", "multipart", "text", "binary"]

_TEXT_SUFFIXES = ("/xml", "+xml", "/javascript", "/yaml", "+yaml", "/x-yaml", "/csv", "/graphql")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*\s*(;.*)?", re.DOTALL)
# common types Python's own table lacks (or spells differently), by the extension a file of theirs has
_EXTENSIONS = {"audio/wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav", "audio/ogg": ".ogg",
               "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/webm": ".webm", "video/webm": ".webm",
               "audio/mp4": ".m4a", "audio/m4a": ".m4a", "audio/x-m4a": ".m4a", "audio/mp3": ".mp3",
               "image/webp": ".webp"}
_BUILT_IN = mimetypes.MimeTypes()  # Python's own table only: the system's files differ from machine to machine


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


def is_media_type(value: str) -> bool:
    """`type/subtype`, optionally with parameters: no wildcard, no missing half."""
    return _MEDIA_TYPE.fullmatch(value.strip()) is not None


def extension(content_type: str) -> str | None:
    """The file extension of a media type (`audio/mpeg` -> `.mp3`), which uploads often need in a filename."""
    media = essence(content_type)
    return _EXTENSIONS.get(media) or _BUILT_IN.guess_extension(media)
