"""The upstream API: one pooled httpx client, credentials and static headers, size-capped reads, masked answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from mcp_gateway.credentials import Credentials
from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.media import essence
from mcp_gateway.redaction import Redactor
from mcp_gateway.streaming import SSEParser

EventHandler = Callable[[str, str], Awaitable[None]]
MAX_STREAM_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 10


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
        headers = _merged(self.static_headers, parts.headers, self.credentials.headers)
        cookies = parts.cookies + self.credentials.cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies)
        path = parts.path if parts.path.startswith("/") else "/" + parts.path  # never a way off the base URL's host
        query: list[tuple[str, str | int | float | bool | None]] = [*parts.query, *self.credentials.query]
        return self.client.build_request(parts.method, base_url.rstrip("/") + path, params=query or None,
                                         headers=headers, content=parts.content, timeout=self.timeout)

    async def send(self, parts: RequestParts, base_url: str, on_event: EventHandler | None = None) -> Reply:
        """Send one request to `base_url` and read at most `max_response_bytes` of the answer, secrets masked.

        A successful text/event-stream answer is handed to `on_event` event by event instead of being
        kept (the Reply's body is then empty and `streamed` is true).
        """
        redact = self.redactor.text
        try:
            request = self._request(parts, base_url)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as exc:
            raise UpstreamError(redact(f"the request could not be built ({exc}); check the arguments")) from None
        target = f"{request.method} {request.url.copy_with(query=None)}"
        try:
            response = await self._follow(request)
        except httpx.TimeoutException:
            raise UpstreamError(
                f"{target} timed out after {self.timeout:g}s; the upstream may be slow or down, try again later"
            ) from None
        except httpx.ConnectError:
            raise UpstreamError(f"{target}: could not connect to the upstream; check the base URL and "
                                f"that the service is running") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(redact(f"{target} failed: {type(exc).__name__}: {exc}")) from None
        url = str(response.request.url.copy_with(query=None))
        try:
            if on_event is not None and essence(response.headers.get("content-type", "")) == "text/event-stream" \
                    and response.status_code < 400:
                total = await _read_events(response, on_event, self.redactor)
                return Reply(response.status_code, response.reason_phrase, response.headers, b"", total, url,
                             streamed=True)
            body, total, size_known = await self._read_capped(response)
        except httpx.TimeoutException:
            raise UpstreamError(f"{target} timed out while reading the answer") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(redact(f"{target}: reading the answer failed ({type(exc).__name__})")) from None
        finally:
            await response.aclose()
        masked = self.redactor.bytes(body)  # whatever the media type: a key inside a blob is still a key
        return Reply(response.status_code, response.reason_phrase, response.headers, masked,
                     total - len(body) + len(masked), url, size_known=size_known)

    async def _read_capped(self, response: httpx.Response) -> tuple[bytes, int, bool]:
        """The first `max_response_bytes` + 1 bytes, how many the upstream sent or announced, and whether
        that is the whole size (not when the read stopped early with no Content-Length)."""
        body = bytearray()
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            room = self.max_response_bytes + 1 - len(body)
            if room > 0:
                body += chunk[:room]
            if len(body) > self.max_response_bytes:
                announced = response.headers.get("content-length", "")
                if announced.isdigit():
                    return bytes(body), max(total, int(announced)), True
                return bytes(body), total, False  # stop reading: the rest would be thrown away
        return bytes(body), total, True

    async def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send, following redirects by hand: auth, profile headers and cookies go to the first origin only."""
        response = await self.client.send(request, stream=True, follow_redirects=False)
        for _ in range(MAX_REDIRECTS):
            if not response.has_redirect_location:
                return response
            await response.aclose()
            response = await self.client.send(self._redirected(response), stream=True, follow_redirects=False)
        if not response.has_redirect_location:
            return response
        await response.aclose()
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)

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


async def _read_events(response: httpx.Response, on_event: EventHandler, redactor: Redactor) -> int:
    """Feed a server-sent event stream to `on_event`, secrets masked; stops after MAX_STREAM_BYTES."""
    parser = SSEParser()
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        for event, data in parser.feed(chunk):
            await on_event(event, redactor.text(data))
        if total > MAX_STREAM_BYTES:
            break
    for event, data in parser.close():
        await on_event(event, redactor.text(data))
    return total
