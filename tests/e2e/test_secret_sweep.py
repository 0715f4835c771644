"""One recognisable key through every kind of auth, echoed back by the upstream in every spelling and
packaging it might use, and over redirects, with the server logging at DEBUG: the key shows nowhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from mcp_types import CallToolResult

from tests.common import FIXTURES, server_env
from tests.servers import serve_stdio
from tests.upstream import LocalServer, Recorded, RecordingHandler

pytestmark = pytest.mark.anyio

KEY = "sk-sweep/Secret+Key=0123456789abcdef"
PASSWORD = "pw-sweep/Secret+9876543210"
FORMS = {
    "raw": lambda key: key,
    "json": lambda key: json.dumps(key)[1:-1].replace("/", "\\/"),
    "unicode": lambda key: "".join(f"\\u{ord(c):04x}" for c in key),
    "url": lambda key: quote(key, safe=""),
    "base64": lambda key: base64.b64encode(f"token={key};".encode()).decode(),
    "base64url": lambda key: base64.urlsafe_b64encode(f"id:{key}".encode()).decode(),
}
MEDIA = ("json", "text", "yaml", "binary", "sse", "error")
AUTH = {
    "header": "auth: {type: api_key, in: header, name: X-API-Key, env: SWEEP_KEY}",
    "query": "auth: {type: api_key, in: query, name: api_key, env: SWEEP_KEY}",
    "cookie": "auth: {type: api_key, in: cookie, name: session, env: SWEEP_KEY}",
    "bearer": "auth: {type: bearer, env: SWEEP_KEY}",
    "basic": "auth: {type: basic, username_env: SWEEP_USER, password_env: SWEEP_PASSWORD}",
    "static": "headers: {Authorization: 'Token ${SWEEP_KEY}'}",
}


def carried(record: Recorded) -> str:
    """The secret this request carried, wherever its auth put it ('' when none)."""
    authorization = record.headers.get("authorization", "")
    if authorization.startswith("Basic "):
        return base64.b64decode(authorization[6:]).decode().partition(":")[2]
    if authorization.startswith(("Bearer ", "Token ")):
        return authorization.split(" ", 1)[1]
    query = dict(record.query)
    cookies = dict(piece.strip().split("=", 1) for piece in record.headers.get("cookie", "").split(";") if "=" in piece)
    return record.headers.get("x-api-key") or query.get("api_key") or cookies.get("session", "")


class EchoingUpstream(LocalServer):
    """Answers /echo with the credential it received, as `form` spells it, inside a `media` answer;
    /hop redirects to /echo here or on `other`."""

    other = ""

    def answer(self, handler: RecordingHandler, record: Recorded) -> None:
        self.requests.append(record)
        query = dict(record.query)
        if record.raw_path == "/hop":
            origin = self.other if query["to"] == "other" else ""
            handler.send_whole(302, {"Location": f"{origin}/echo?form=raw&media=json"}, b"")
            return
        secret = carried(record)
        handler.send_whole(*self.packaged(FORMS[query.get("form", "raw")](secret), query.get("media", "json")))

    @staticmethod
    def packaged(spelt: str, media: str) -> tuple[int, dict[str, str], bytes]:
        if media == "text":
            return 200, {"Content-Type": "text/plain"}, f"you sent {spelt}".encode()
        if media == "yaml":
            return 200, {"Content-Type": "application/yaml"}, f"echo: '{spelt}'\n".encode()
        if media == "binary":
            return 200, {"Content-Type": "application/octet-stream"}, b"\x00\x01" + spelt.encode() + b"\xff"
        if media == "sse":
            chunk = '{"choices":[{"index":0,"delta":{"content":"' + spelt + '"}}]}'
            return 200, {"Content-Type": "text/event-stream"}, f"data: {chunk}\n\ndata: [DONE]\n\n".encode()
        body = '{"error":{"message":"invalid key ' + spelt + '","type":"auth"}}'
        if media == "error":
            return 401, {"Content-Type": "application/json"}, body.encode()
        return 200, {"Content-Type": "application/json"}, ('{"echo":"' + spelt + '","n":1}').encode()


@pytest.fixture
def echoing() -> Iterator[tuple[EchoingUpstream, EchoingUpstream]]:
    upstream, other = EchoingUpstream().start(), EchoingUpstream().start()
    upstream.other = other.url
    yield upstream, other
    upstream.stop()
    other.stop()


def leaks(secret: str, text: str) -> list[str]:
    """The spellings of `secret` found in `text` (whose base64 payloads `everything_in` has decoded)."""
    return [name for name, spell in FORMS.items() if not name.startswith("base64") and spell(secret) in text]


def everything_in(result: CallToolResult) -> str:
    """All a client receives in a result, with every base64 payload (images, blobs) decoded as well."""
    dumped = result.model_dump(mode="json", by_alias=True)
    parts = [json.dumps(dumped, ensure_ascii=False)]
    for block in dumped["content"]:
        payload = block.get("data") or (block.get("resource") or {}).get("blob")
        if payload:
            parts.append(base64.b64decode(payload).decode("latin-1"))
    text = "\n".join(parts)
    for piece in text.replace('"', " ").replace("'", " ").split():  # base64 runs the upstream wrote
        for candidate in (piece, piece.replace("-", "+").replace("_", "/")):
            try:
                parts.append(base64.b64decode(candidate + "===").decode("latin-1"))
            except ValueError:
                continue
    return "\n".join(parts)


@pytest.mark.parametrize("auth", list(AUTH))
async def test_the_key_shows_nowhere(tmp_path: Path, echoing: tuple[EchoingUpstream, EchoingUpstream],
                                     auth: str) -> None:
    upstream, other = echoing
    profile = tmp_path / "sweep.yaml"
    profile.write_text(f"name: sweep\nspec: {FIXTURES / 'secret_echo.yaml'}\nbase_url: {upstream.url}\n{AUTH[auth]}\n")
    env = server_env({"SWEEP_KEY": KEY, "SWEEP_USER": "sweeper", "SWEEP_PASSWORD": PASSWORD})
    secret = PASSWORD if auth == "basic" else KEY
    results: dict[str, Any] = {}
    async with serve_stdio([str(profile)], env=env, log_level="DEBUG") as served:
        for form in FORMS:
            for media in MEDIA:
                results[f"{form}/{media}"] = await served.client.call_tool("echo", {"form": form, "media": media})
        for to in ("here", "other"):
            results[f"hop/{to}"] = await served.client.call_tool("hop", {"to": to})
    echoes = [carried(record) for record in upstream.requests if record.raw_path == "/echo"]
    assert echoes.count(secret) >= len(FORMS) * len(MEDIA) and set(echoes) <= {secret, ""}  # a query key
    # is not added to a redirect's own URL
    assert [carried(record) for record in other.requests] == [""]  # credentials stay on the first origin
    assert results["raw/sse"].structured_content is not None  # the stream was assembled, not left raw
    for name, result in results.items():
        assert leaks(secret, everything_in(result)) == [], name
    assert leaks(secret, served.stderr()) == []
    assert unquote(served.stderr()).count(secret) == 0
