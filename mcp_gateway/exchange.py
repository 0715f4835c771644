"""One HTTP exchange as plain data: the request a plan builds and the reply the upstream gives."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass
class RequestParts:
    """Everything but auth and the base URL: those belong to the upstream."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None


@dataclass(frozen=True)
class Reply:
    """What the upstream answered, decoded, with the body read up to the cap (secrets already masked)."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    total_bytes: int  # decoded bytes sent or announced; > the cap when cut (an event stream: bytes read)
    url: str
    streamed: bool = False  # an event stream, handed over event by event; `body` is then empty
    size_known: bool = True  # False: cut, and no Content-Length gave the decoded size: the whole is "more than" it
