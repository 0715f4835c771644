"""OAuth2 client credentials (RFC 6749 4.4) to an upstream: an access token fetched on first use, kept until shortly
before it expires, dropped when the upstream rejects it; callers that need one at the same time share one fetch."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import quote

import anyio
import httpx

from mcp_gateway.decoding import ACCEPT_ENCODING, ContentDecoder, UndecodableError
from mcp_gateway.errors import UpstreamError
from mcp_gateway.jsontext import parse_json
from mcp_gateway.profile import Auth
from mcp_gateway.redaction import Redactor

MAX_TOKEN_RESPONSE_BYTES = 65_536
EARLY_REFRESH = 60.0  # seconds before expiry a token is no longer used (a tenth of its life when that is shorter)


class TokenError(UpstreamError):
    """The token endpoint gave no usable access token; the text names the endpoint and the variables to check."""


@dataclass(frozen=True)
class Token:
    """An access token and the clock time after which it is not used (None: until the upstream rejects it)."""

    value: str
    use_until: float | None


def use_until(expires_in: object, now: float) -> float | None:
    """When to stop using a token that lives `expires_in` seconds: a minute early, or a tenth of its life early when
    that is shorter; None when the endpoint did not say how long it lives."""
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        return None
    return now + expires_in - min(EARLY_REFRESH, expires_in / 10)


class TokenSource:
    """Access tokens for one upstream from its token endpoint, with the client id and secret of the profile's
    `auth`; `clock` is monotonic seconds (a fake one in tests)."""

    def __init__(self, auth: Auth, client: tuple[str, str], http: httpx.AsyncClient, redactor: Redactor,
                 timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.auth = auth
        self._client = client
        self._http = http
        self._redactor = redactor
        self._timeout = timeout
        self._clock = clock
        self._lock = anyio.Lock()
        self._token: Token | None = None
        self._error: TokenError | None = None
        self._fetches = 0  # fetches finished, well or not: a caller that waited for one takes its outcome

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and (token.use_until is None or self._clock() < token.use_until):
            return token.value
        return None

    async def token(self) -> str:
        """A usable access token: the cached one, else one fetch shared with every caller waiting meanwhile.

        Raises TokenError (masked text) when the endpoint fails; callers that waited for that fetch get its error.
        """
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        seen = self._fetches
        async with self._lock:
            if self._fetches != seen:  # another caller fetched while this one waited
                fresh = self._fresh()
                if fresh is not None:
                    return fresh
                if self._error is not None:
                    raise self._error
            try:
                self._token, self._error = await self._fetch(), None
            except TokenError as exc:
                self._token, self._error = None, exc
                raise
            finally:
                self._fetches += 1
            return self._token.value

    def rejected(self, token: str) -> None:
        """The upstream answered 401 to `token`: the next caller fetches a new one (once, however many calls saw
        the same rejection)."""
        if self._token is not None and self._token.value == token:
            self._token = None

    async def _fetch(self) -> Token:
        """One token request: grant_type client_credentials, the scopes and audience, the client authenticated as
        the profile says."""
        auth = self.auth
        client_id, secret = self._client
        form = {"grant_type": "client_credentials"}
        if auth.scopes:
            form["scope"] = " ".join(auth.scopes)
        if auth.audience:
            form["audience"] = auth.audience
        headers = {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        if auth.client_auth == "basic":  # RFC 6749 2.3.1: each form-encoded, then HTTP Basic
            pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": client_id, "client_secret": secret}
        try:
            request = self._http.build_request("POST", auth.token_url or "", data=form, headers=headers,
                                               timeout=self._timeout)
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                body = await _capped(response)
            finally:
                await response.aclose()
        except (httpx.HTTPError, UndecodableError) as exc:
            raise self._failure(f"{type(exc).__name__}: {exc}") from None
        return self._token_from(response.status_code, body)

    def _token_from(self, status: int, body: bytes) -> Token:
        """The token in a token endpoint's answer, or TokenError saying what the endpoint answered instead."""
        try:
            data = parse_json(body.decode("utf-8", errors="replace")) if body.strip() else None
        except (ValueError, RecursionError):
            data = None
        fields = data if isinstance(data, dict) else {}
        if status != 200:
            detail = " ".join(str(fields[k]) for k in ("error", "error_description") if isinstance(fields.get(k), str))
            return self._raise(f"HTTP {status}" + (f" ({detail})" if detail else ""))
        value = fields.get("access_token")
        if not isinstance(value, str) or not value.strip():
            return self._raise("HTTP 200 without an access_token")
        kind = fields.get("token_type", "Bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            return self._raise(f"a token of type {kind!r}; only Bearer tokens can be sent")
        return Token(value.strip(), use_until(fields.get("expires_in"), self._clock()))

    def _raise(self, what: str) -> NoReturn:
        raise self._failure(f"it answered {what}")

    def _failure(self, what: str) -> TokenError:
        auth = self.auth
        return TokenError(self._redactor.text(
            f"could not get an OAuth2 access token from {auth.token_url}: {what}; check the token URL and the client "
            f"credentials in {auth.client_id_env} and {auth.client_secret_env}"))


async def _capped(response: httpx.Response) -> bytes:
    """The decoded body, no further than MAX_TOKEN_RESPONSE_BYTES (a token answer is a few hundred bytes)."""
    decoder = ContentDecoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            chunks.append(piece)
            size += len(piece)
            if size >= MAX_TOKEN_RESPONSE_BYTES:
                return b"".join(chunks)[:MAX_TOKEN_RESPONSE_BYTES]
    return b"".join(chunks)
