"""The upstream API: one pooled httpx client, credentials (the server's, a caller's own key, or OAuth2 tokens) and
static headers, one deadline per call, retries that respect the upstream, a concurrency limit and a circuit breaker,
bounded decoding and size-capped reads, masked answers."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import anyio
import httpx

from mcp_gateway.credentials import Credentials
from mcp_gateway.decoding import ACCEPT_ENCODING, ContentDecoder, UndecodableError
from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.limits import CircuitBreaker, ConcurrencyLimit, UpstreamUnavailable
from mcp_gateway.media import essence
from mcp_gateway.oauth2 import TokenSource
from mcp_gateway.profile import Breaker, Profile
from mcp_gateway.redaction import Redactor
from mcp_gateway.request import url_for
from mcp_gateway.retry import RETRYABLE_STATUSES, RetryPolicy, repeatable, retryable_error, with_idempotency_key
from mcp_gateway.streaming import SSEParser

log = logging.getLogger("mcp_gateway")

EventHandler = Callable[[str, str], Awaitable[None]]
FAILURE_STATUSES = frozenset({500, 502, 503, 504})  # answers that count against the upstream for its breaker
MAX_REDIRECTS = 10
STREAM_BYTES_PER_RESULT_BYTE = 64  # an OpenAI chunk is ~200 bytes for one token of a few characters


class LazyTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, POOLS of them, made for the first request and taking requests in turn.

    Made late: loading the CA certificates (once, shared by all) takes some 40 ms that a server starting up to answer
    tools/list need not spend. Several: httpcore 1.0's connection pool does work that grows with the square of its
    connections on every request it takes in and every answer it finishes (each idle connection counts all the
    others, and probes its socket), so one pool serving 32 calls at once cost twice the CPU per call that it cost
    serving 10, and 100 calls in flight went slower than one at a time. Spread over POOLS pools, each holds an
    eighth of the connections. `limits` apply to each pool; what bounds the calls in flight to an upstream is its
    ConcurrencyLimit.
    """

    POOLS = 8

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._pools: list[httpx.AsyncHTTPTransport] = []
        self._turns: Iterator[httpx.AsyncHTTPTransport] = iter(())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._pools:
            certificates = httpx.create_ssl_context()
            self._pools = [httpx.AsyncHTTPTransport(verify=certificates, limits=self._limits)
                           for _ in range(self.POOLS)]
            self._turns = itertools.cycle(self._pools)
        return await next(self._turns).handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


@dataclass
class UpstreamCall:
    """One call's view of the upstream: the credentials it uses (the server's, or the caller's own key in their
    place), a redactor for every secret the call has met (an OAuth2 token once fetched), its attempts so far, and the
    request it is sending (`hops`: the first, then each redirect)."""

    credentials: Credentials
    redactor: Redactor
    attempts: int = 0
    hops: list[httpx.Request] = field(default_factory=list)
    streaming: bool = False  # an event stream is being handed over: the call is not sent again after that
    queued: bool = False  # waiting for a free slot under the upstream's concurrency limit

    def met(self, secret: str) -> None:
        """Mask `secret` too, wherever this call's text goes."""
        self.redactor = self.redactor.adding([secret])


@dataclass(frozen=True)
class Upstream:
    """Sends RequestParts with one API's credentials (or a caller's own key) and static headers, under its retry
    policy, concurrency limit and circuit breaker; never forwards client headers."""

    credentials: Credentials
    static_headers: dict[str, str]
    redactor: Redactor
    timeout: float
    max_response_bytes: int
    client: httpx.AsyncClient
    name: str = "api"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limit: ConcurrencyLimit = field(default_factory=lambda: ConcurrencyLimit(32))
    breaker: CircuitBreaker = field(default_factory=lambda: CircuitBreaker("api", Breaker()))
    tokens: TokenSource | None = None

    def call(self, caller_key: str | None = None) -> UpstreamCall:
        """A new call's view: the server's credentials, or `caller_key` (the caller's own) in their place."""
        if caller_key is None:
            return UpstreamCall(self.credentials, self.redactor)
        credentials = Credentials(self.credentials.auth, caller_key)
        return UpstreamCall(credentials, self.redactor.adding(credentials.secrets))

    def _request(self, parts: RequestParts, base_url: str, credentials: Credentials, token: str | None
                 ) -> httpx.Request:
        auth = {"Authorization": f"Bearer {token}"} if token is not None else credentials.headers
        headers = _merged({"Accept-Encoding": ACCEPT_ENCODING}, self.static_headers, parts.headers, auth)
        cookies = parts.cookies + credentials.cookies
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies)
        url = url_for(base_url, parts.path, [*parts.query, *credentials.query])
        return self.client.build_request(parts.method, url, headers=headers, content=parts.content,
                                         timeout=self.timeout)

    async def send(self, parts: RequestParts, base_url: str, on_event: EventHandler | None = None, *,
                   call: UpstreamCall | None = None) -> Reply:
        """Send one request to `base_url` and read at most `max_response_bytes` of the decoded answer, secrets
        masked, all within `timeout` seconds: waiting for a free slot, connecting, redirects, reading and retries
        together. `call` is the caller's view (its credentials, redactor and attempts), the server's by default.

        A successful text/event-stream answer is handed to `on_event` event by event instead of being
        kept (the Reply's body is then empty and `streamed` is true).
        """
        call = call or self.call()
        if self.retry.idempotency_keys:
            parts = with_idempotency_key(parts)
        with anyio.move_on_after(self.timeout) as scope:
            return await self._attempts(parts, base_url, on_event, call, scope.deadline)
        raise UpstreamError(call.redactor.text(self._timed_out(call, parts, base_url)))

    async def _attempts(self, parts: RequestParts, base_url: str, on_event: EventHandler | None, call: UpstreamCall,
                        deadline: float) -> Reply:
        """Attempts until one is answered with something other than a retryable failure, or the retry policy, the
        breaker or the deadline says to stop; then the last outcome is the call's."""
        last: Reply | httpx.HTTPError | None = None
        while True:
            try:
                probe = self.breaker.admit()
            except UpstreamUnavailable:
                if last is None:
                    raise
                return self._outcome(call, last)  # opened by this call's own failures: the last one is the answer
            call.attempts += 1
            try:
                last = await self._attempt(parts, base_url, on_event, call)
            except httpx.TransportError as exc:
                self.breaker.record(True, probe, type(exc).__name__)
                last = exc
            except httpx.HTTPError as exc:  # the upstream answered, but not in a way that can be followed or read
                self.breaker.abandon(probe)
                last = exc
            except anyio.get_cancelled_exc_class():
                if anyio.current_time() >= deadline:  # the call's deadline: the upstream was too slow
                    self.breaker.record(True, probe, f"no answer within {self.timeout:g}s")
                else:
                    self.breaker.abandon(probe)
                raise
            except BaseException:  # a request that could not be built, a token that could not be had
                self.breaker.abandon(probe)
                raise
            else:
                self.breaker.record(last.status in FAILURE_STATUSES, probe, f"HTTP {last.status}")
            retry_after = last.headers.get("retry-after") if isinstance(last, Reply) else None
            if not self._retryable(last, parts, call):
                return self._outcome(call, last)
            delay = self.retry.delay(call.attempts, retry_after, deadline - anyio.current_time())
            if delay is None or self.breaker.state != "closed":
                return self._outcome(call, last)
            what = f"was answered HTTP {last.status}" if isinstance(last, Reply) else f"failed ({type(last).__name__})"
            log.warning("%s: %s %s, attempt %d of %d; sending it again in %.1f s%s", self.name,
                        call.redactor.text(_line(call.hops[0])), what, call.attempts, self.retry.attempts, delay,
                        f" (Retry-After: {retry_after})" if retry_after else "")
            await anyio.sleep(delay)

    def _retryable(self, last: Reply | httpx.HTTPError, parts: RequestParts, call: UpstreamCall) -> bool:
        """Whether this outcome may be improved by sending the request again, and the request is safe to repeat."""
        if isinstance(last, Reply):
            failed = last.status in RETRYABLE_STATUSES
        else:
            failed = retryable_error(last) and not call.streaming
        return failed and repeatable(parts.method, parts.headers)

    def _outcome(self, call: UpstreamCall, last: Reply | httpx.HTTPError) -> Reply:
        """The last attempt's answer, or its failure as an UpstreamError (masked)."""
        if isinstance(last, Reply):
            return last
        raise UpstreamError(call.redactor.text(self._failure(call.hops, last))) from None

    async def _attempt(self, parts: RequestParts, base_url: str, on_event: EventHandler | None, call: UpstreamCall
                       ) -> Reply:
        """One attempt under the concurrency limit: send, follow redirects, read; with OAuth2, a token the upstream
        rejects (401) is fetched anew and the request sent once more."""
        call.queued = True
        async with self.limit:
            call.queued = False
            token = await self._token(call)
            reply = await self._exchange(self._first_hop(parts, base_url, call, token), on_event, call)
            if reply.status == 401 and token is not None and self.tokens is not None:
                self.tokens.rejected(token)
                token = await self._token(call)
                call.attempts += 1
                log.info("%s: %s was refused with HTTP 401; sending it again with a new OAuth2 access token",
                         self.name, call.redactor.text(_line(call.hops[0])))
                reply = await self._exchange(self._first_hop(parts, base_url, call, token), on_event, call)
        return reply

    async def _token(self, call: UpstreamCall) -> str | None:
        """An OAuth2 access token when this call uses the server's client credentials, masked from then on."""
        if self.tokens is None or not call.credentials.oauth2:
            return None
        token = await self.tokens.token()
        call.met(token)
        return token

    def _first_hop(self, parts: RequestParts, base_url: str, call: UpstreamCall, token: str | None
                   ) -> list[httpx.Request]:
        """The request built anew for an attempt, as `call.hops`'s first."""
        try:
            call.hops = [self._request(parts, base_url, call.credentials, token)]
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as exc:
            raise UpstreamError(call.redactor.text(f"the request could not be built ({exc}); check the arguments")
                                ) from None
        return call.hops

    async def _exchange(self, hops: list[httpx.Request], on_event: EventHandler | None, call: UpstreamCall
                        ) -> Reply:
        """One exchange: send, follow redirects, read the answer."""
        response = await self._follow(hops, call.credentials)
        url = str(response.request.url).partition("?")[0]  # no key placed in the query reaches a message
        try:
            if on_event is not None and essence(response.headers.get("content-type", "")) == "text/event-stream" \
                    and response.status_code < 400:
                call.streaming = True
                total = await self._read_events(response, on_event, call.redactor)
                return Reply(response.status_code, response.reason_phrase, response.headers, b"", total, url,
                             streamed=True, size_known=total <= self.stream_limit)
            body, total, size_known = await self._read_body(response)
        except UndecodableError as exc:
            raise UpstreamError(call.redactor.text(f"{_line(hops[0])}: the upstream answered HTTP "
                                                   f"{response.status_code} with {_undecodable(exc)}")) from None
        finally:
            await _release(response)
        masked = call.redactor.bytes(body)  # whatever the media type: a key inside a blob is still a key
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

    async def _read_events(self, response: httpx.Response, on_event: EventHandler, redactor: Redactor) -> int:
        """Feed `on_event` the events that end within the first `stream_limit` bytes of the stream, secrets
        masked; how many bytes were read (one past the limit when there were more, and the rest was left)."""
        parser = SSEParser()
        total = 0
        async for piece in self._decoded(response, self.stream_limit):
            for event, data in parser.feed(piece[:self.stream_limit - total]):
                await on_event(event, redactor.text(data))
            total += len(piece)
        if total <= self.stream_limit:  # a cut stream's last event is unfinished: it is not handed over
            for event, data in parser.close():
                await on_event(event, redactor.text(data))
        return total

    @property
    def stream_limit(self) -> int:
        """How much of an event stream is read: a multiple of `max_response_bytes`, as a stream spends tens of
        bytes of framing on each token it carries; the assembled result is then held to `max_response_bytes`."""
        return self.max_response_bytes * STREAM_BYTES_PER_RESULT_BYTE

    async def _follow(self, hops: list[httpx.Request], credentials: Credentials) -> httpx.Response:
        """Send `hops[0]`, following redirects by hand, each one appended to `hops`: auth, profile headers and
        cookies go to the first origin only."""
        response = await self.client.send(hops[0], stream=True, follow_redirects=False)
        while response.has_redirect_location:
            await _release(response)
            if len(hops) > MAX_REDIRECTS:
                raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)
            hops.append(self._redirected(response, credentials))
            response = await self.client.send(hops[-1], stream=True, follow_redirects=False)
        return response

    def _redirected(self, response: httpx.Response, credentials: Credentials) -> httpx.Request:
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
            for name in [*credentials.headers, *self.static_headers, "authorization", "cookie"]:
                headers.pop(name, None)
        content = previous.content if method == previous.method and previous.content else None
        return self.client.build_request(method, url, headers=headers, content=content, timeout=self.timeout)

    def _failure(self, hops: list[httpx.Request], exc: httpx.HTTPError) -> str:
        """What went wrong, and where: at the base URL, or at the redirect target the call was sent on to."""
        target = _line(hops[0])
        if isinstance(exc, httpx.TimeoutException):
            return self._timed_out_text(target)
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

    def _timed_out(self, call: UpstreamCall, parts: RequestParts, base_url: str) -> str:
        """The call ran out of time: the limit, what it covers, what it was waiting for, and what to do."""
        target = _line(call.hops[0]) if call.hops else f"{parts.method} {base_url.rstrip('/')}{parts.path}"
        if call.queued:
            return (f"{target} timed out after {self.timeout:g}s waiting for a free slot: {self.limit.limit} calls to "
                    f"{self.name} were in flight already (the profile's max_concurrency) and "
                    f"{self.limit.waiting} more waiting; try again later, or raise max_concurrency if the upstream "
                    "can take more")
        return self._timed_out_text(target)

    def _timed_out_text(self, target: str) -> str:
        return (f"{target} timed out after {self.timeout:g}s: the whole call (connecting, redirects, reading the "
                "answer) took longer than the profile's timeout; the upstream may be slow or down, try again later "
                "or ask for less")


def upstream_for(profile: Profile, credentials: Credentials, static_headers: dict[str, str], redactor: Redactor,
                 client: httpx.AsyncClient) -> Upstream:
    """The upstream of one profile: its timeout, size cap, retries, concurrency limit, breaker and, for OAuth2 client
    credentials, its token source."""
    retries = profile.retries
    tokens = None
    if credentials.client is not None:
        tokens = TokenSource(profile.auth, credentials.client, client, redactor, profile.timeout)
    return Upstream(credentials, static_headers, redactor, profile.timeout, profile.max_response_bytes, client,
                    name=profile.name, retry=RetryPolicy(retries.attempts, retries.max_delay, retries.idempotency_keys),
                    limit=ConcurrencyLimit(profile.max_concurrency), breaker=CircuitBreaker(profile.name,
                                                                                             profile.breaker),
                    tokens=tokens)


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
