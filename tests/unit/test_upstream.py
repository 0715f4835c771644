"""Unit tests of Upstream against httpx.MockTransport: credentials, URLs, redirects, the size cap, content codings,
the call's deadline, masking, errors, connections that must not be reused."""

from __future__ import annotations

import base64
import gzip
import re
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import mcp_types as types
import pytest

from mcp_gateway.credentials import Credentials
from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.limits import CircuitBreaker, ConcurrencyLimit, UpstreamUnavailable
from mcp_gateway.oauth2 import TokenSource
from mcp_gateway.plan import CallPlan, CompiledTool
from mcp_gateway.profile import Auth, Breaker
from mcp_gateway.redaction import Redactor
from mcp_gateway.response import render_success
from mcp_gateway.retry import RetryPolicy
from mcp_gateway.upstream import Upstream, UpstreamCall
from tests.upstream import gzip_bomb

pytestmark = pytest.mark.anyio

KEY = "sk-live/key-1234"
BASE = "http://api.test/v1"
Handler = Callable[[httpx.Request], httpx.Response]

BEARER = {"type": "bearer", "env": "PETS_KEY"}
HEADER_KEY = {"type": "api_key", "in": "header", "name": "X-API-Key", "env": "PETS_KEY"}
QUERY_KEY = {"type": "api_key", "in": "query", "name": "api_key", "env": "PETS_KEY"}
COOKIE_KEY = {"type": "api_key", "in": "cookie", "name": "session", "env": "PETS_KEY"}
BASIC = {"type": "basic", "username_env": "PETS_USER", "password_env": "PETS_KEY"}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETS_KEY", KEY)
    monkeypatch.setenv("PETS_USER", "alice")


@dataclass
class Recorded:
    """An Upstream whose transport is a handler, and every request the handler saw."""

    handler: Handler
    auth: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    max_bytes: int = 10_000
    timeout: float = 5.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(rand=lambda: 0.0))  # no waits between attempts
    breaker: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int = 32
    requests: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        credentials = Credentials(Auth.model_validate(self.auth))
        client = httpx.AsyncClient(transport=httpx.MockTransport(self._record))
        redactor = Redactor(credentials.secrets)
        tokens = TokenSource(credentials.auth, credentials.client, client, redactor, self.timeout) \
            if credentials.client else None
        self.upstream = Upstream(credentials, self.headers, redactor, self.timeout, self.max_bytes, client,
                                 name="pets", retry=self.retry, limit=ConcurrencyLimit(self.max_concurrency),
                                 breaker=CircuitBreaker("pets", Breaker.model_validate(self.breaker)), tokens=tokens)

    def _record(self, request: httpx.Request) -> httpx.Response:
        """The handler's answer as a real transport hands it over: unread (`httpx.Response(content=...)` reads
        and decodes itself at once)."""
        self.requests.append(request)
        answer = self.handler(request)
        return httpx.Response(answer.status_code, headers=answer.headers, stream=answer.stream,
                              extensions=answer.extensions)

    async def send(self, parts: RequestParts | None = None, base_url: str = BASE,
                   on_event: Callable[[str, str], Awaitable[None]] | None = None,
                   call: UpstreamCall | None = None) -> Reply:
        return await self.upstream.send(parts or RequestParts("GET", "/pets"), base_url, on_event, call=call)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


# -- credentials and headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("auth", "sent"), [
    (BEARER, lambda r: r.headers.get_list("authorization") == [f"Bearer {KEY}"]),
    (HEADER_KEY, lambda r: r.headers.get_list("x-api-key") == [KEY] and "authorization" not in r.headers),
    (QUERY_KEY, lambda r: r.url.params.get_list("api_key") == [KEY] and "x-api-key" not in r.headers),
    (COOKIE_KEY, lambda r: r.headers["cookie"] == f"sid=abc; session={KEY}"),
    (BASIC, lambda r: r.headers["authorization"] == "Basic " + base64.b64encode(f"alice:{KEY}".encode()).decode()),
], ids=["bearer", "api_key-header", "api_key-query", "api_key-cookie", "basic"])
async def test_credentials_go_where_the_auth_says(auth: dict[str, Any], sent: Callable[[httpx.Request], bool]) -> None:
    recorded = Recorded(ok, auth)
    reply = await recorded.send(RequestParts("GET", "/pets", cookies=[("sid", "abc")]))
    assert sent(recorded.requests[0])
    assert reply.url == f"{BASE}/pets"  # no query: a key placed there never reaches a result


async def test_key_from_the_environment_loses_its_trailing_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETS_KEY", f"{KEY}\n")
    recorded = Recorded(ok, BEARER)
    await recorded.send()
    assert recorded.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_static_headers_are_sent_and_credentials_win_over_a_parameter_header() -> None:
    recorded = Recorded(ok, HEADER_KEY, headers={"X-App-ID": "app-1"})
    await recorded.send(RequestParts("GET", "/pets", headers={"X-API-Key": "from-argument", "X-Trace": "t-1"}))
    sent = recorded.requests[0].headers
    assert sent.get_list("x-api-key") == [KEY]
    assert sent["x-app-id"] == "app-1" and sent["x-trace"] == "t-1"


@pytest.mark.parametrize(("auth", "static", "argument", "name"), [
    (BEARER, {}, {"authorization": "Bearer from-argument"}, "authorization"),
    ({}, {"X-App-ID": "app-1"}, {"x-app-id": "from-argument"}, "x-app-id"),
])
async def test_one_field_line_per_header_name_whatever_its_case(auth: dict[str, Any], static: dict[str, str],
                                                                 argument: dict[str, str], name: str) -> None:
    recorded = Recorded(ok, auth, headers=static)
    await recorded.send(RequestParts("GET", "/pets", headers=argument))
    assert len(recorded.requests[0].headers.get_list(name)) == 1


# -- URL ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "path", "host", "expected_path"), [
    ("http://api.test/v1", "/pets/7", "api.test", "/v1/pets/7"),
    ("http://api.test/v1/", "/pets/7", "api.test", "/v1/pets/7"),
    ("http://api.test", "pets", "api.test", "/pets"),
    ("http://api.test/v1", "@127.0.0.1:9/x", "api.test", "/v1/@127.0.0.1:9/x"),
    ("http://api.test", "@127.0.0.1:9/x", "api.test", "/@127.0.0.1:9/x"),
])
async def test_url_is_base_plus_path_on_the_base_host(base: str, path: str, host: str, expected_path: str) -> None:
    recorded = Recorded(ok)
    await recorded.send(RequestParts("GET", path), base)
    url = recorded.requests[0].url
    assert (url.host, url.port, url.path) == (host, None, expected_path)


async def test_query_is_the_parts_query_then_the_credentials() -> None:
    recorded = Recorded(ok, QUERY_KEY)
    await recorded.send(RequestParts("GET", "/pets", query=[("tag", "a"), ("tag", "b b"), ("limit", "5")]))
    assert recorded.requests[0].url.params.multi_items() == [("tag", "a"), ("tag", "b b"), ("limit", "5"),
                                                             ("api_key", KEY)]


# -- redirects --------------------------------------------------------------------------------------------------

FOLLOWED = ("authorization", "x-api-key", "cookie", "x-app-id")


def redirect(status: int, location: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/start"):
            return httpx.Response(status, headers={"location": location})
        return httpx.Response(200, json={"ok": True})
    return handler


@pytest.mark.parametrize("auth", [BEARER, HEADER_KEY, COOKIE_KEY], ids=["bearer", "header", "cookie"])
@pytest.mark.parametrize(("base", "location"), [
    ("http://api.test/v1", "/v1/next"),
    ("http://api.test/v1", "next"),
    ("http://api.test/v1", "http://api.test/v1/next"),
    ("http://api.test/v1", "https://api.test/v1/next"),  # an upgrade to https on the same host
])
async def test_same_origin_redirect_keeps_credentials(auth: dict[str, Any], base: str, location: str) -> None:
    recorded = Recorded(redirect(302, location), auth, headers={"X-App-ID": "app-1"})
    reply = await recorded.send(RequestParts("GET", "/start", cookies=[("sid", "abc")]), base)
    first, second = recorded.requests
    assert reply.status == 200 and second.url.path == "/v1/next"
    assert {n: second.headers.get(n) for n in FOLLOWED} == {n: first.headers.get(n) for n in FOLLOWED}
    assert KEY in str(second.headers.raw)


@pytest.mark.parametrize("auth", [BEARER, HEADER_KEY, COOKIE_KEY, BASIC], ids=["bearer", "header", "cookie", "basic"])
@pytest.mark.parametrize(("base", "location"), [
    ("http://api.test/v1", "http://other.test/next"),
    ("http://api.test/v1", "//other.test/next"),
    ("http://api.test/v1", "http://api.test:8080/next"),
    ("https://api.test/v1", "http://api.test/v1/next"),  # a downgrade is another origin
])
async def test_redirect_to_another_origin_drops_credentials_and_static_headers(
        auth: dict[str, Any], base: str, location: str) -> None:
    recorded = Recorded(redirect(302, location), auth, headers={"X-App-ID": "app-1"})
    reply = await recorded.send(RequestParts("GET", "/start", cookies=[("sid", "abc")],
                                             headers={"X-Trace": "t-1"}), base)
    first, second = recorded.requests
    assert reply.status == 200
    assert (second.url.scheme, second.url.host, second.url.port) != (first.url.scheme, first.url.host, first.url.port)
    assert [n for n in FOLLOWED if n in second.headers] == []
    assert second.headers["x-trace"] == "t-1"  # an argument, not a credential


@pytest.mark.parametrize(("status", "method", "keeps_body"), [
    (303, "GET", False), (302, "GET", False), (301, "GET", False), (307, "POST", True), (308, "POST", True),
])
async def test_redirected_post(status: int, method: str, keeps_body: bool) -> None:
    recorded = Recorded(redirect(status, "/v1/next"), BEARER)
    parts = RequestParts("POST", "/start", headers={"Content-Type": "application/json"}, content=b'{"name":"Rex"}')
    await recorded.send(parts)
    second = recorded.requests[1]
    assert second.method == method
    if keeps_body:
        assert second.content == b'{"name":"Rex"}' and second.headers["content-type"] == "application/json"
    else:
        assert second.content == b"" and "content-type" not in second.headers
        assert second.headers.get("content-length", "0") == "0"


def chain(redirects: int) -> Handler:
    """/hop/0 -> /hop/1 -> ... -> /hop/N, which answers 200."""
    def handler(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.path.rsplit("/", 1)[1])
        if hop < redirects:
            return httpx.Response(302, headers={"location": f"/hop/{hop + 1}"})
        return httpx.Response(200, text="arrived")
    return handler


async def test_more_than_ten_redirects_is_an_error() -> None:
    recorded = Recorded(chain(11), QUERY_KEY)
    with pytest.raises(UpstreamError, match="redirects") as raised:
        await recorded.send(RequestParts("GET", "/hop/0"), "http://api.test")
    assert KEY not in str(raised.value)


async def test_ten_redirects_are_followed() -> None:
    reply = await Recorded(chain(10)).send(RequestParts("GET", "/hop/0"), "http://api.test")
    assert reply.status == 200 and reply.body == b"arrived"


async def test_a_redirect_target_that_is_down_is_named_as_such() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "other.test":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(302, headers={"location": "http://other.test/next?token=t-1"})

    with pytest.raises(UpstreamError) as raised:
        await Recorded(handler).send(RequestParts("GET", "/start"))
    text = str(raised.value)
    assert text.startswith(f"GET {BASE}/start")
    assert "redirect target GET http://other.test/next" in text and "could not connect" in text
    assert "t-1" not in text and "check the base URL" not in text


# -- size cap -----------------------------------------------------------------------------------------------------

PAYLOAD = b"".join(bytes([65 + i % 26]) * 100 for i in range(50))  # 5,000 bytes in 50 chunks


def streamed(content_length: bool, pulled: list[int]) -> Handler:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            pulled.append(i)
            yield PAYLOAD[i * 100:(i + 1) * 100]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/plain", **({"content-length": "5000"} if content_length else {})}
        return httpx.Response(200, headers=headers, content=chunks())
    return handler


async def test_answer_over_the_cap_is_cut_and_reports_its_content_length() -> None:
    pulled: list[int] = []
    reply = await Recorded(streamed(True, pulled), max_bytes=1_000).send()
    assert 1_000 <= len(reply.body) <= 1_001 and PAYLOAD.startswith(reply.body)
    assert reply.total_bytes == 5_000
    assert len(pulled) < 50  # reading stopped at the cap


async def test_answer_under_the_cap_is_whole() -> None:
    reply = await Recorded(lambda r: httpx.Response(200, content=PAYLOAD), max_bytes=5_000).send()
    assert reply.body == PAYLOAD and reply.total_bytes == 5_000


async def test_cut_chunked_answer_is_not_reported_smaller_than_it_was() -> None:
    reply = await Recorded(streamed(False, []), max_bytes=1_000).send()
    tool = CompiledTool("get_pets", None, "", {"type": "object"}, None, {}, CallPlan("GET", "/pets"), "GET /pets")
    [block] = render_success(tool, reply, 1_000).content
    assert isinstance(block, types.TextContent)
    said = re.search(r"the response was (more than )?([\d,]+) bytes", block.text)
    assert said is not None
    assert said.group(1) or int(said.group(2).replace(",", "")) == 5_000


# -- content codings ------------------------------------------------------------------------------------------


def encoded(body: bytes, encoding: str, content_type: str = "text/plain") -> Handler:
    """An answer whose body is sent exactly as given, under `Content-Encoding: encoding`."""
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": content_type, "content-encoding": encoding, "content-length": str(len(body))}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))
    return handler


def raw_deflate(data: bytes) -> bytes:
    deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return deflate.compress(data) + deflate.flush()


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", raw_deflate),  # what some servers send as deflate
    ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ("deflate, GZIP", lambda data: gzip.compress(zlib.compress(data))),  # applied in order, undone last first
    ("identity", lambda data: data),
    ("", lambda data: data),
], ids=["gzip", "x-gzip", "deflate", "raw-deflate", "gzip-gzip", "deflate-gzip", "identity", "none"])
async def test_encoded_answer_is_decoded_layer_by_layer(encoding: str, encode: Callable[[bytes], bytes]) -> None:
    recorded = Recorded(encoded(encode(PAYLOAD), encoding))
    reply = await recorded.send()
    assert reply.body == PAYLOAD and reply.total_bytes == 5_000 and reply.size_known
    assert recorded.requests[0].headers["accept-encoding"] == "gzip, deflate"  # what it can decode, no more


async def test_decompression_bomb_is_decoded_no_further_than_the_cap() -> None:
    recorded = Recorded(encoded(gzip_bomb(256 << 20), "gzip, gzip"), max_bytes=10_000)
    tracemalloc.start()
    try:
        reply = await recorded.send()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reply.body == b"0" * 10_001 and not reply.size_known
    assert peak < 4 << 20  # 256 MiB decoded at once would be 256 MiB


async def test_cut_encoded_answer_is_more_than_the_cut_never_its_encoded_length() -> None:
    reply = await Recorded(encoded(gzip.compress(PAYLOAD * 20), "gzip"), max_bytes=1_000).send()
    assert len(reply.body) == 1_001 and not reply.size_known  # Content-Length counts the gzip bytes
    tool = CompiledTool("get_pets", None, "", {"type": "object"}, None, {}, CallPlan("GET", "/pets"), "GET /pets")
    [block] = render_success(tool, reply, 1_000).content
    assert isinstance(block, types.TextContent) and "the response was more than 1,000 bytes" in block.text


@pytest.mark.parametrize(("encoding", "body", "expected"), [
    ("br", b"\x1b\x03\x00\xf8\xa5\x00\x04", ["'br'", "cannot decode", "HTTP 200"]),
    ("gzip, zstd", b"\x28\xb5\x2f\xfd", ["'zstd'", "cannot decode"]),
    ("gzip", b"plainly not gzip", ["a corrupt gzip body", "HTTP 200"]),
])
async def test_undecodable_answer_is_a_clear_error(encoding: str, body: bytes, expected: list[str]) -> None:
    with pytest.raises(UpstreamError) as raised:
        await Recorded(encoded(body, encoding)).send()
    text = str(raised.value)
    assert text.startswith(f"GET {BASE}/pets") and all(part in text for part in expected)


async def test_unknown_encoding_of_no_body_is_no_error() -> None:
    reply = await Recorded(encoded(b"", "br")).send(RequestParts("HEAD", "/pets"))
    assert reply.status == 200 and reply.body == b""


# -- secrets in answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/html", "application/octet-stream"])
@pytest.mark.parametrize("spelling", [KEY, quote(KEY, safe=""), KEY.replace("/", "\\/")],
                         ids=["plain", "percent-encoded", "json-slash"])
async def test_echoed_secret_is_masked_in_any_media_type(content_type: str, spelling: str) -> None:
    body = f'{{"echo": "{spelling}", "again": "{spelling}"}}'.encode()
    reply = await Recorded(lambda r: httpx.Response(200, headers={"content-type": content_type}, content=body),
                           BEARER).send()
    assert reply.body == b'{"echo": "***", "again": "***"}'
    assert reply.total_bytes == len(reply.body)  # not mistaken for a cut answer


async def test_error_answer_is_masked_too() -> None:
    recorded = Recorded(lambda r: httpx.Response(401, json={"error": f"key {KEY} revoked"}), HEADER_KEY)
    reply = await recorded.send()
    assert reply.status == 401 and reply.body == b'{"error":"key *** revoked"}'


# -- event streams ----------------------------------------------------------------------------------------------

SSE = (f'data: {{"delta": "the key is {KEY}"}}\n\n'
       'event: done\ndata: [DONE]\n\n').encode()


async def test_event_stream_is_delivered_event_by_event_masked() -> None:
    events: list[tuple[str, str]] = []

    async def on_event(event: str, data: str) -> None:
        events.append((event, data))

    recorded = Recorded(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"},
                                                 content=SSE), BEARER)
    reply = await recorded.send(on_event=on_event)
    assert reply.streamed and reply.body == b"" and reply.status == 200
    assert events == [("message", '{"delta": "the key is ***"}'), ("done", "[DONE]")]


@pytest.mark.parametrize(("status", "listen"), [(200, False), (429, True)])
async def test_event_stream_is_read_as_a_body_without_a_listener_or_on_error(status: int, listen: bool) -> None:
    events: list[tuple[str, str]] = []

    async def on_event(event: str, data: str) -> None:
        events.append((event, data))

    recorded = Recorded(lambda r: httpx.Response(status, headers={"content-type": "text/event-stream"}, content=SSE),
                        BEARER)
    reply = await recorded.send(on_event=on_event if listen else None)
    assert not reply.streamed and events == []
    assert reply.body == SSE.replace(KEY.encode(), b"***")


EVENT = b'data: {"n": 1, "pad": "' + b"x" * 73 + b'"}\n\n'  # 100 bytes


async def test_event_stream_stops_at_its_limit_and_keeps_only_whole_events_within_it() -> None:
    pulled: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for i in range(1_000):
            pulled.append(i)
            yield EVENT

    events: list[tuple[str, str]] = []

    async def on_event(event: str, data: str) -> None:
        events.append((event, data))

    recorded = Recorded(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream()),
                        max_bytes=79)  # a stream is read up to 64 times the cap: 5,056 bytes
    reply = await recorded.send(on_event=on_event)
    assert reply.streamed and reply.total_bytes > 5_056 and not reply.size_known
    assert len(events) == 50  # the 51st event is only half inside the limit
    assert len(pulled) < 60  # reading stopped there


# -- the call's deadline --------------------------------------------------------------------------------------


def dripping(content_type: str, piece: bytes, pulled: list[int]) -> Handler:
    """An answer that sends `piece` every 20 ms, 250 times: each read is quick, the whole is 5 s."""
    async def drip() -> AsyncIterator[bytes]:
        for i in range(250):
            pulled.append(i)
            await anyio.sleep(0.02)
            yield piece
    return lambda request: httpx.Response(200, headers={"content-type": content_type}, content=drip())


@pytest.mark.parametrize(("content_type", "piece"), [
    ("text/plain", b"x"),
    ("text/event-stream", b": keep-alive\n\n"),
], ids=["one-byte-at-a-time", "keep-alive-comments"])
async def test_timeout_bounds_the_whole_call_not_each_read(content_type: str, piece: bytes) -> None:
    async def on_event(event: str, data: str) -> None:
        raise AssertionError("a comment is no event")

    pulled: list[int] = []
    recorded = Recorded(dripping(content_type, piece, pulled), timeout=0.3)
    with pytest.raises(UpstreamError) as raised:
        await recorded.send(on_event=on_event)
    text = str(raised.value)
    assert text.startswith(f"GET {BASE}/pets timed out after 0.3s") and "the whole call" in text
    assert "try again later" in text
    assert len(pulled) < 250


# -- failures ----------------------------------------------------------------------------------------------------


def raising(error: type[httpx.TransportError], message: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error(message.format(url=request.url), request=request)
    return handler


@pytest.mark.parametrize(("error", "expected"), [
    (httpx.ConnectError, ["could not connect", "check the base URL"]),
    (httpx.ReadTimeout, ["timed out after 5s", "try again later"]),
    (httpx.RemoteProtocolError, ["RemoteProtocolError", "server closed the connection"]),
])
@pytest.mark.parametrize("auth", [QUERY_KEY, BEARER], ids=["query", "bearer"])
async def test_transport_failure_is_a_readable_error_without_the_key(
        error: type[httpx.TransportError], expected: list[str], auth: dict[str, Any]) -> None:
    recorded = Recorded(raising(error, "server closed the connection while sending {url} " + KEY), auth)
    with pytest.raises(UpstreamError) as raised:
        await recorded.send()
    text = str(raised.value)
    assert text.startswith(f"GET {BASE}/pets")
    assert all(part in text for part in expected)
    assert KEY not in text and quote(KEY, safe="") not in text


async def test_invalid_header_value_from_an_argument_is_an_error_without_the_key() -> None:
    recorded = Recorded(ok, BEARER)
    with pytest.raises(UpstreamError, match="check the arguments") as raised:
        await recorded.send(RequestParts("GET", "/pets", headers={"X-Note": "café"}))
    assert KEY not in str(raised.value) and recorded.requests == []


# -- connections ----------------------------------------------------------------------------------------------


@dataclass
class NetworkStream:
    """Stands in for the connection httpcore hands over as the `network_stream` extension."""

    closed: bool = False

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize(("method", "status", "closed"), [
    ("GET", 204, True), ("DELETE", 204, True), ("GET", 304, True), ("GET", 101, True), ("HEAD", 200, True),
    ("GET", 200, False), ("POST", 201, False),
])
async def test_an_answer_that_cannot_have_a_body_never_goes_back_to_the_pool(method: str, status: int,
                                                                             closed: bool) -> None:
    """Bytes after such an answer would be read as the next call's answer on a reused connection."""
    stream = NetworkStream()
    recorded = Recorded(lambda r: httpx.Response(status, extensions={"network_stream": stream}))
    await recorded.send(RequestParts(method, "/pets"))
    assert stream.closed is closed


# -- retries, the breaker, the concurrency limit --------------------------------------------------------------


def answers(*replies: httpx.Response | type[httpx.TransportError]) -> Handler:
    """Each request gets the next of `replies` (an exception class is raised instead), the last one from then on."""
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, type):
            raise reply(f"failed while sending {request.url}", request=request)
        return reply
    return handler


BUSY = httpx.Response(503, headers={"retry-after": "0"}, json={"error": "busy"})


@pytest.mark.parametrize("failure", [BUSY, httpx.Response(429), httpx.Response(502), httpx.Response(504),
                                     httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError])
async def test_an_idempotent_request_is_sent_again_after_a_passing_failure(
        failure: httpx.Response | type[httpx.TransportError], caplog: pytest.LogCaptureFixture) -> None:
    recorded = Recorded(answers(failure, httpx.Response(200, json={"ok": True})), QUERY_KEY)
    call = recorded.upstream.call()
    reply = await recorded.send(call=call)
    assert reply.status == 200 and call.attempts == 2 and len(recorded.requests) == 2
    assert "attempt 1 of 3; sending it again" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(("method", "headers", "sent"), [
    ("POST", {}, 1), ("PATCH", {}, 1), ("POST", {"Idempotency-Key": "k-1"}, 3), ("PUT", {}, 3), ("DELETE", {}, 3),
    ("HEAD", {}, 3), ("OPTIONS", {}, 3),
])
async def test_only_requests_safe_to_repeat_are_sent_again(method: str, headers: dict[str, str], sent: int) -> None:
    recorded = Recorded(answers(BUSY))
    call = recorded.upstream.call()
    reply = await recorded.send(RequestParts(method, "/pets", headers=headers), call=call)
    assert reply.status == 503 and len(recorded.requests) == call.attempts == sent


async def test_a_generated_idempotency_key_makes_a_post_repeatable_with_the_same_key() -> None:
    recorded = Recorded(answers(BUSY, httpx.Response(200)), retry=RetryPolicy(idempotency_keys=True, rand=lambda: 0.0))
    reply = await recorded.send(RequestParts("POST", "/pets", content=b"{}"))
    first, second = recorded.requests
    assert reply.status == 200 and first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.content == second.content == b"{}"


async def test_a_retry_after_over_the_cap_is_reported_not_waited_for() -> None:
    recorded = Recorded(answers(httpx.Response(429, headers={"retry-after": "60"})),
                        retry=RetryPolicy(max_delay=10, rand=lambda: 0.0))
    reply = await recorded.send()
    assert reply.status == 429 and reply.headers["retry-after"] == "60" and len(recorded.requests) == 1


async def test_a_failure_that_stays_gives_its_last_outcome_and_the_attempts() -> None:
    recorded = Recorded(answers(httpx.ConnectError), QUERY_KEY)
    call = recorded.upstream.call()
    with pytest.raises(UpstreamError, match="could not connect") as raised:
        await recorded.send(call=call)
    assert call.attempts == 3 and KEY not in str(raised.value)


async def test_a_stream_that_breaks_after_it_began_is_not_sent_again() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b'data: {"n": 1}\n\n'
        raise httpx.ReadError("connection reset")

    events: list[tuple[str, str]] = []

    async def on_event(event: str, data: str) -> None:
        events.append((event, data))

    recorded = Recorded(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                 content=broken()))
    call = recorded.upstream.call()
    with pytest.raises(UpstreamError, match="ReadError"):
        await recorded.send(on_event=on_event, call=call)
    assert call.attempts == 1 and events == [("message", '{"n": 1}')]


async def test_no_attempt_is_made_when_its_wait_would_outlast_the_deadline() -> None:
    recorded = Recorded(answers(httpx.Response(503, headers={"retry-after": "3"})), timeout=2.0)
    reply = await recorded.send()
    assert reply.status == 503 and len(recorded.requests) == 1


async def test_the_breaker_opens_and_then_fails_calls_without_a_request() -> None:
    recorded = Recorded(answers(httpx.Response(500)), retry=RetryPolicy(attempts=1), breaker={"failures": 2})
    for _ in range(2):
        assert (await recorded.send()).status == 500
    with pytest.raises(UpstreamUnavailable, match=r"pets upstream unavailable, retry after 30 s \(2 failed attempts"):
        await recorded.send()
    assert len(recorded.requests) == 2


async def test_retries_stop_once_the_breaker_opens() -> None:
    recorded = Recorded(answers(BUSY), retry=RetryPolicy(attempts=5, rand=lambda: 0.0), breaker={"failures": 2})
    call = recorded.upstream.call()
    reply = await recorded.send(call=call)
    assert reply.status == 503 and call.attempts == 2 and recorded.upstream.breaker.state == "open"


async def test_a_call_that_waits_too_long_for_a_slot_says_so() -> None:
    recorded = Recorded(ok, max_concurrency=1, timeout=0.2)
    async with recorded.upstream.limit:  # another call holds the only slot
        with pytest.raises(UpstreamError, match="waiting for a free slot: 1 calls to pets were in flight"):
            await recorded.send()
    assert recorded.requests == [] and recorded.upstream.limit.in_flight == 0


async def test_a_callers_own_key_replaces_the_servers_and_is_masked_in_the_answer() -> None:
    own = "caller-own-key-5678"
    recorded = Recorded(lambda r: httpx.Response(200, json={"echo": r.url.params["api_key"]}), QUERY_KEY)
    call = recorded.upstream.call(own)
    reply = await recorded.send(call=call)
    assert recorded.requests[0].url.params.get_list("api_key") == [own]
    assert reply.body == b'{"echo":"***"}' and call.redactor.text(own) == "***"
    assert recorded.upstream.redactor.text(own) == own  # the server's redactor is not widened by a call


# -- OAuth2 client credentials --------------------------------------------------------------------------------


OAUTH = {"type": "oauth2_client_credentials", "token_url": "http://auth.test/token", "client_id_env": "PETS_USER",
         "client_secret_env": "PETS_KEY", "scopes": ["pets:read"]}


class TokenServer:
    """A token endpoint and an API on one mock transport: the API accepts only the latest token issued."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            self.issued.append(f"token-{len(self.issued) + 1}-abcdefgh")
            return httpx.Response(200, json={"access_token": self.issued[-1], "expires_in": 3600})
        if request.headers.get("authorization") != f"Bearer {self.issued[-1]}":
            return httpx.Response(401, json={"error": "expired"})
        return httpx.Response(200, json={"seen": request.headers["authorization"]})


async def test_oauth2_token_is_fetched_once_sent_and_masked() -> None:
    server = TokenServer()
    recorded = Recorded(server, OAUTH)
    calls = [recorded.upstream.call() for _ in range(3)]
    replies = [await recorded.send(call=call) for call in calls]
    assert server.issued == ["token-1-abcdefgh"] and [r.status for r in replies] == [200, 200, 200]
    assert all(r.body == b'{"seen":"Bearer ***"}' for r in replies)
    assert [r.url.host for r in recorded.requests] == ["auth.test", "api.test", "api.test", "api.test"]


async def test_oauth2_token_refused_with_401_is_fetched_again_and_the_request_sent_once_more() -> None:
    server = TokenServer()
    recorded = Recorded(server, OAUTH, retry=RetryPolicy(attempts=1))
    await recorded.send()
    server.issued.append("token-revoked-on-the-server")  # the upstream now wants a token the gateway has not seen
    call = recorded.upstream.call()
    reply = await recorded.send(call=call)
    assert reply.status == 200 and call.attempts == 2
    assert server.issued[-1] == "token-3-abcdefgh"
    assert reply.body == b'{"seen":"Bearer ***"}'


async def test_oauth2_is_not_used_for_a_call_with_the_callers_own_key() -> None:
    server = TokenServer()
    server.issued.append("the-callers-own-token")
    recorded = Recorded(server, {**OAUTH, "user_key": {"header": "X-Upstream-Authorization"}})
    reply = await recorded.send(call=recorded.upstream.call("Bearer the-callers-own-token"))
    assert reply.status == 200 and [r.url.host for r in recorded.requests] == ["api.test"]
