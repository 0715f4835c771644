"""The upstream API: one pooled httpx client, credentials and static headers, one deadline per call, bounded
decoding and size-capped reads, masked answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import httpx

from mcp_gateway.credentials import Credentials
from mcp_gateway.decoding import ACCEPT_ENCODING, ContentDecoder, UndecodableError
from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.media import essence
from mcp_gateway.redaction import Redactor
from mcp_gateway.request import url_for
from mcp_gateway.streaming import SSEParser

EventHandler = Callable[[str, str], Awaitable[None]]
MAX_REDIRECTS = 10
STREAM_BYTES_PER_RESULT_BYTE = 64  # an OpenAI chunk is ~200 bytes for one token of a few characters


class LazyTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, made for the first request: making it loads the CA certificates, some 40 ms that a
    server starting up to answer tools/list need not spend."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(limits=self._limits)
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


@dataclass(frozen=True)
class Upstream:
    """Sends RequestParts with one API's credentials and static headers; never forwards client headers."""

    credentials: Credentials
    static_headers: dict[str, str]
    redactor: Redactor
    timeout: float
    max_response_bytes: int
    client: httpx.AsyncClient

    def _request(self, parts: RequestParts, base_url: str) -> httpx.Request:
        headers = _merged({"Accept-Encoding": ACCEPT_ENCODING}, self.static_headers, parts.headers,
                          self.credentials.headers)
        cookies = parts.cookies + self.credentials.cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies)
        query: list[tuple[str, str | int | float | bool | None]] = [*parts.query, *self.credentials.query]
        return self.client.build_request(parts.method, url_for(base_url, parts.path), params=query or None,
                                         headers=headers, content=parts.content, timeout=self.timeout)

    async def send(self, parts: RequestParts, base_url: str, on_event: EventHandler | None = None) -> Reply:
        """Send one request to `base_url` and read at most `max_response_bytes` of the decoded answer, secrets
        masked, all within `timeout` seconds: connecting, redirects and reading together.

        A successful text/event-stream answer is handed to `on_event` event by event instead of being
        kept (the Reply's body is then empty and `streamed` is true).
        """
        try:
            request = self._request(parts, base_url)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as exc:
            raise UpstreamError(self.redactor.text(f"the request could not be built ({exc}); check the arguments")
                                ) from None
        hops = [request]
        with anyio.move_on_after(self.timeout):
            try:
                return await self._exchange(hops, on_event)
            except httpx.HTTPError as exc:
                raise UpstreamError(self.redactor.text(self._failure(hops, exc))) from None
        raise UpstreamError(self._timed_out(request))

    async def _exchange(self, hops: list[httpx.Request], on_event: EventHandler | None) -> Reply:
        """The whole call: send, follow redirects, read the answer."""
        response = await self._follow(hops)
        url = str(response.request.url.copy_with(query=None))
        try:
            if on_event is not None and essence(response.headers.get("content-type", "")) == "text/event-stream" \
                    and response.status_code < 400:
                total = await self._read_events(response, on_event)
                return Reply(response.status_code, response.reason_phrase, response.headers, b"", total, url,
                             streamed=True, size_known=total <= self.stream_limit)
            body, total, size_known = await self._read_body(response)
        except UndecodableError as exc:
            raise UpstreamError(f"{_line(hops[0])}: the upstream answered HTTP {response.status_code} with "
                                f"{_undecodable(exc)}") from None
        finally:
            await _release(response)
        masked = self.redactor.bytes(body)  # whatever the media type: a key inside a blob is still a key
        return Reply(response.status_code, response.reason_phrase, response.headers, masked,
                     total - len(body) + len(masked), url, size_known=size_known)

    async def _decoded(self, response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
        """The answer with its content codings undone, piece by piece, `limit` + 1 bytes at most: the byte
        past the limit tells that there was more, and nothing beyond it is read or decoded."""
        decoder = ContentDecoder(response.headers.get("content-encoding", ""))
        room = limit + 1
        async for raw in response.aiter_raw():
            for piece in decoder.decode(raw):
                yield piece[:room]
                room -= len(piece)
                if room <= 0:
                    return

    async def _read_body(self, response: httpx.Response) -> tuple[bytes, int, bool]:
        """The first `max_response_bytes` + 1 decoded bytes, how many the upstream sent or announced, and whether
        that is the whole size: not when the read stopped early, unless an unencoded answer announced its length
        (an encoded one announces the length of its encoded form)."""
        body = b"".join([piece async for piece in self._decoded(response, self.max_response_bytes)])
        if len(body) <= self.max_response_bytes:
            return body, len(body), True
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and "content-encoding" not in response.headers:
            return body, max(len(body), int(announced)), True
        return body, len(body), False

    async def _read_events(self, response: httpx.Response, on_event: EventHandler) -> int:
        """Feed `on_event` the events that end within the first `stream_limit` bytes of the stream, secrets
        masked; how many bytes were read (one past the limit when there were more, and the rest was left)."""
        parser = SSEParser()
        total = 0
        async for piece in self._decoded(response, self.stream_limit):
            for event, data in parser.feed(piece[:self.stream_limit - total]):
                await on_event(event, self.redactor.text(data))
            total += len(piece)
        if total <= self.stream_limit:  # a cut stream's last event is unfinished: it is not handed over
            for event, data in parser.close():
                await on_event(event, self.redactor.text(data))
        return total

    @property
    def stream_limit(self) -> int:
        """How much of an event stream is read: a multiple of `max_response_bytes`, as a stream spends tens of
        bytes of framing on each token it carries; the assembled result is then held to `max_response_bytes`."""
        return self.max_response_bytes * STREAM_BYTES_PER_RESULT_BYTE

    async def _follow(self, hops: list[httpx.Request]) -> httpx.Response:
        """Send `hops[0]`, following redirects by hand, each one appended to `hops`: auth, profile headers and
        cookies go to the first origin only."""
        response = await self.client.send(hops[0], stream=True, follow_redirects=False)
        while response.has_redirect_location:
            await _release(response)
            if len(hops) > MAX_REDIRECTS:
                raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)
            hops.append(self._redirected(response))
            response = await self.client.send(hops[-1], stream=True, follow_redirects=False)
        return response

    def _redirected(self, response: httpx.Response) -> httpx.Request:
        previous = response.request
        url = previous.url.join(response.headers["location"])
        method = previous.method
        if (response.status_code == 303 and method != "HEAD") or (response.status_code in (301, 302)
                                                                   and method == "POST"):
            method = "GET"
        headers = httpx.Headers(previous.headers)
        for name in ("host", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        if method != previous.method:
            headers.pop("content-type", None)
        if not _same_origin(previous.url, url):
            for name in [*self.credentials.headers, *self.static_headers, "authorization", "cookie"]:
                headers.pop(name, None)
        content = previous.content if method == previous.method and previous.content else None
        return self.client.build_request(method, url, headers=headers, content=content, timeout=self.timeout)

    def _failure(self, hops: list[httpx.Request], exc: httpx.HTTPError) -> str:
        """What went wrong, and where: at the base URL, or at the redirect target the call was sent on to."""
        target = _line(hops[0])
        if isinstance(exc, httpx.TimeoutException):
            return self._timed_out(hops[0])
        if len(hops) == 1:
            if isinstance(exc, httpx.ConnectError):
                return (f"{target}: could not connect to the upstream; check the base URL and that the service is "
                        "running")
            return f"{target} failed: {type(exc).__name__}: {exc}"
        hop = f"its redirect target {_line(hops[-1])}"
        if isinstance(exc, httpx.ConnectError):
            return (f"{target}: could not connect to {hop}; the upstream redirected the call to a service that is "
                    "down or unreachable")
        return f"{target} failed at {hop}: {type(exc).__name__}: {exc}"

    def _timed_out(self, request: httpx.Request) -> str:
        """The call ran out of time: the limit, what it covers, and what to do."""
        return (f"{_line(request)} timed out after {self.timeout:g}s: the whole call (connecting, redirects, reading "
                "the answer) took longer than the profile's timeout; the upstream may be slow or down, try again "
                "later or ask for less")


def _undecodable(exc: UndecodableError) -> str:
    """What about an answer's body could not be decoded, completing "the upstream answered HTTP N with ..."."""
    if exc.unknown:
        return (f"Content-Encoding {', '.join(map(repr, exc.unknown))}, which mcp-gateway cannot decode (it asks "
                f"for {ACCEPT_ENCODING})")
    return f"a corrupt {exc.coding} body ({exc})"


def _line(request: httpx.Request) -> str:
    """`METHOD URL`, without the query: a key placed there never reaches a message."""
    return f"{request.method} {request.url.copy_with(query=None)}"


async def _release(response: httpx.Response) -> None:
    """Close `response`, even past the call's deadline. An answer that has no body by HTTP's framing (to HEAD;
    1xx, 204, 304) closes its connection too: bytes an upstream sent after it would be read, on a reused
    connection, as the next call's answer."""
    with anyio.CancelScope(shield=True):
        if response.request.method == "HEAD" or response.status_code < 200 or response.status_code in (204, 304):
            stream = response.extensions.get("network_stream")  # httpcore's connection; absent in other transports
            if stream is not None:
                await stream.aclose()
        await response.aclose()


def _merged(*layers: dict[str, str]) -> dict[str, str]:
    """Headers from each layer in turn, a later one replacing an earlier one of the same name in any case
    (one field line per name, RFC 9110 5.3)."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        merged.update((name.lower(), (name, value)) for name, value in layer.items())
    return dict(merged.values())


def _same_origin(first: httpx.URL, then: httpx.URL) -> bool:
    """The same scheme, host and port, or an upgrade from http to https on the same host's default ports."""
    if first.host != then.host:
        return False
    if first.scheme == then.scheme:
        return first.port == then.port
    return first.scheme == "http" and then.scheme == "https" and first.port in (None, 80) and then.port in (None, 443)
