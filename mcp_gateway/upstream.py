"""The upstream API: one pooled httpx client, auth from the environment, size-capped reads, redaction."""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from mcp_gateway.profile import Auth
from mcp_gateway.request import RequestParts
from mcp_gateway.streaming import SSEParser

EventHandler = Callable[[str, str], Awaitable[None]]
MAX_STREAM_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 10


class UpstreamError(Exception):
    """A call that could not reach the upstream or read its answer; the text is safe to show."""


@dataclass
class Reply:
    """What the upstream answered, with the body read up to the cap."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    total_bytes: int  # what the upstream sent or announced; > len(body) when the body was cut
    url: str
    streamed: bool = False


class Credentials:
    """Auth values read once from the environment; every secret is known so that it can be redacted."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self.missing: list[str] = []
        self.secrets: list[str] = []
        self.headers: dict[str, str] = {}
        self.query: list[tuple[str, str]] = []
        self.cookies: list[tuple[str, str]] = []
        if auth.type == "none":
            return
        if auth.type == "basic":
            user = self._read(auth.username_env)
            password = self._read(auth.password_env)
            if user is not None and user != password:
                self.secrets.remove(user)  # a user name such as `api` is no secret, and masking it mangles answers
            if user is not None and password is not None:
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                self.secrets.append(token)
                self.headers["Authorization"] = f"Basic {token}"
            return
        value = self._read(auth.env)
        if value is None:
            return
        if auth.type == "bearer":
            self.headers["Authorization"] = f"Bearer {value}"
        elif auth.in_ == "header":
            self.headers[auth.name] = value
        elif auth.in_ == "query":
            self.query.append((auth.name, value))
            self.secrets.append(quote(value, safe=""))
        else:
            self.cookies.append((auth.name, value))

    def _read(self, name: str | None) -> str | None:
        if not name:
            self.missing.append("(no environment variable named in the profile's auth)")
            return None
        value = os.environ.get(name, "")
        if not value:
            self.missing.append(name)
            return None
        self.secrets.append(value)
        return value

    def env_names(self) -> list[str]:
        """The environment variables this auth reads, for messages."""
        names = [self.auth.env, self.auth.username_env, self.auth.password_env]
        return [n for n in names if n]


class Upstream:
    """Sends RequestParts to one base URL with auth and static headers; never forwards client headers."""

    def __init__(self, base_url: str, credentials: Credentials, headers: dict[str, str], timeout: float,
                 max_response_bytes: int, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.static_headers = headers
        self.max_response_bytes = max_response_bytes
        self.timeout = timeout
        self.client = client

    def redact(self, message: str) -> str:
        """Remove every known secret from a message."""
        for secret in self.credentials.secrets:
            if secret:
                message = message.replace(secret, "***")
        return message

    def _request(self, parts: RequestParts, base_url: str | None) -> httpx.Request:
        headers = {**self.static_headers, **parts.headers, **self.credentials.headers}
        cookies = parts.cookies + self.credentials.cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies)
        url = (base_url or self.base_url).rstrip("/") + parts.path
        return self.client.build_request(
            parts.method, url, params=parts.query + self.credentials.query or None,
            headers=headers, content=parts.content, timeout=self.timeout,
        )

    async def send(self, parts: RequestParts, base_url: str | None = None,
                   on_event: EventHandler | None = None) -> Reply:
        """Send one request and read at most `max_response_bytes` of the answer.

        A successful text/event-stream answer is handed to `on_event` event by event instead of being
        kept (the Reply's body is then empty and `streamed` is true).
        """
        try:
            request = self._request(parts, base_url)
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as exc:
            raise UpstreamError(self.redact(f"the request could not be built ({exc}); check the arguments")) from None
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
            raise UpstreamError(self.redact(f"{target} failed: {type(exc).__name__}: {exc}")) from None
        try:
            media = response.headers.get("content-type", "")
            if on_event is not None and media.startswith("text/event-stream") and response.status_code < 400:
                handler = on_event

                async def masked(event: str, data: str) -> None:
                    await handler(event, self.redact(data))

                total = await _read_events(response, masked)
                return Reply(response.status_code, response.reason_phrase, response.headers, b"", total,
                             str(response.request.url.copy_with(query=None)), streamed=True)
            body = bytearray()
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                room = self.max_response_bytes + 1 - len(body)
                if room > 0:
                    body += chunk[:room]
                if len(body) > self.max_response_bytes:
                    announced = response.headers.get("content-length", "")
                    total = max(total, int(announced)) if announced.isdigit() else total
                    break  # stop reading: the rest would be thrown away
        except httpx.TimeoutException:
            raise UpstreamError(f"{target} timed out while reading the answer") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(self.redact(f"{target}: reading the answer failed ({type(exc).__name__})")) from None
        finally:
            await response.aclose()
        masked = self._mask_body(bytes(body), media)
        return Reply(response.status_code, response.reason_phrase, response.headers, masked,
                     total - len(body) + len(masked), str(response.request.url.copy_with(query=None)))

    def _mask_body(self, body: bytes, media: str) -> bytes:
        """Secrets a text answer echoes back (a query key in a `next` link, an error quoting the key) become `***`,
        so that no part of a result, structured content included, can carry them."""
        media = media.split(";")[0].strip().lower()
        if media and not (media.startswith("text/") or "json" in media or media.endswith(("xml", "javascript"))
                          or media == "application/x-www-form-urlencoded"):
            return body
        for secret in self.credentials.secrets:
            if secret:
                body = body.replace(secret.encode(), b"***")
        return body

    async def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send, following redirects by hand: auth, profile headers and cookies go to the first origin only."""
        response = await self.client.send(request, stream=True, follow_redirects=False)
        for _ in range(MAX_REDIRECTS):
            if not response.has_redirect_location:
                return response
            await response.aclose()
            response = await self.client.send(self._redirected(response), stream=True, follow_redirects=False)
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


def _same_origin(first: httpx.URL, then: httpx.URL) -> bool:
    """The same scheme, host and port, or an upgrade from http to https on the same host's default ports."""
    if first.host != then.host:
        return False
    if first.scheme == then.scheme:
        return first.port == then.port
    return first.scheme == "http" and then.scheme == "https" and first.port in (None, 80) and then.port in (None, 443)


async def _read_events(response: httpx.Response, on_event: EventHandler) -> int:
    """Feed a server-sent event stream to `on_event`; stops after MAX_STREAM_BYTES."""
    parser = SSEParser()
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        for event, data in parser.feed(chunk):
            await on_event(event, data)
        if total > MAX_STREAM_BYTES:
            break
    for event, data in parser.close():
        await on_event(event, data)
    return total
