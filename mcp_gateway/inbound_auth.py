"""Who may call the HTTP transport: fixed bearer tokens from an environment variable, and OAuth 2.1 access tokens
(JWTs) checked against the issuer's published keys as the MCP authorization spec asks of a resource server.

Both are `TokenVerifier`s for the SDK's bearer middleware. A token reaches no upstream and no log line: what the
logs show of a caller is a fixed token's number or a JWT's subject (`observe.caller_of`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from starlette.routing import Route

from mcp_gateway.errors import GatewayError

log = logging.getLogger("mcp_gateway")

# Asymmetric algorithms only: a key published in a JWKS is public, so an HMAC "signature" made with it proves nothing.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
WELL_KNOWN = "/.well-known/oauth-protected-resource"


class StaticTokens:
    """Bearer tokens handed to the server in an environment variable, each compared in constant time.

    Every presented token is compared with every known one (SHA-256 digests, so lengths are equal too), whatever
    matched, so the time taken says nothing about which or how much of a token was right.
    """

    def __init__(self, tokens: Sequence[str], scopes: Sequence[str] = ()) -> None:
        self._digests = [hashlib.sha256(token.encode()).digest() for token in tokens]
        self._scopes = list(scopes)  # a fixed token is trusted with every scope the server asks for

    @classmethod
    def from_env(cls, name: str, scopes: Sequence[str] = (), environ: Mapping[str, str] = os.environ
                 ) -> StaticTokens:
        """The comma-separated tokens of the variable `name`; a GatewayError names it (never its value)."""
        raw = environ.get(name)
        if raw is None:
            raise GatewayError(f"--auth-token-env {name}: the environment variable {name} is not set; set it to the "
                               "token clients must send (several may be given, separated by commas)")
        tokens = [token.strip() for token in raw.split(",") if token.strip()]
        if not tokens:
            raise GatewayError(f"--auth-token-env {name}: the environment variable {name} holds no token; set it to "
                               "the token clients must send (several may be given, separated by commas)")
        if any(not token.isprintable() or " " in token or not token.isascii() for token in tokens):
            raise GatewayError(f"--auth-token-env {name}: a token in {name} has a space, a control character or a "
                               "character outside ASCII, which no Authorization header can carry; set it to "
                               "printable ASCII tokens separated by commas")
        return cls(tokens, scopes)

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = hashlib.sha256(token.encode()).digest()
        matched = 0
        for number, known in enumerate(self._digests, 1):
            if hmac.compare_digest(digest, known) and not matched:
                matched = number
        if not matched:
            return None
        return AccessToken(token=token, client_id=f"token#{matched}", scopes=self._scopes)


@dataclass(frozen=True)
class OAuthResource:
    """This server as an OAuth 2.1 resource server: who issues its tokens, the audience they must name (the URL
    clients reach /mcp at), where the issuer's keys are (None: read from the issuer's metadata), required scopes."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    scopes: tuple[str, ...] = ()


class JwtVerifier:
    """OAuth access tokens as signed JWTs: the signature by a key of the issuer's JWKS, then `iss`, `aud` (this
    server's resource URL) and `exp` (required, 30 s of clock skew allowed).

    The JWKS is fetched on first use and kept for `max_age` seconds; a token signed with a key id it does not hold
    fetches it again at once (key rotation), at most every `min_refetch` seconds.
    """

    def __init__(self, resource: OAuthResource, max_age: float = 300.0, min_refetch: float = 30.0,
                 leeway: float = 30.0, timeout: float = 10.0) -> None:
        self.resource = resource
        self.max_age = max_age
        self.min_refetch = min_refetch
        self.leeway = leeway
        self.timeout = timeout
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched = -float("inf")
        self._lock = anyio.Lock()

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            log.info("refused a bearer token signed with %r: only %s are accepted", algorithm, ", ".join(ALGORITHMS))
            return None
        key = await self._key(kid if isinstance(kid, str) else None)
        if key is None:
            return None
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.resource.audience,
                                issuer=self.resource.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:  # the message names the failed check, never the token
            log.info("refused a bearer token: %s", exc)
            return None
        subject = claims.get("sub")
        client = claims.get("client_id") or claims.get("azp") or subject or "oauth"
        return AccessToken(token=token, client_id=str(client), scopes=_scopes(claims), expires_at=int(claims["exp"]),
                           resource=self.resource.audience, subject=str(subject) if subject is not None else None,
                           claims={"iss": claims["iss"]})

    async def _key(self, kid: str | None) -> jwt.PyJWK | None:
        """The issuer's key for `kid` (a token without one: the only key), fetching the JWKS when due."""
        now = time.monotonic()
        if now - self._fetched > self.max_age or (self._pick(kid) is None and now - self._fetched > self.min_refetch):
            async with self._lock:
                if time.monotonic() - self._fetched > self.min_refetch:
                    await self._fetch()
        key = self._pick(kid)
        if key is None:
            log.info("refused a bearer token: the issuer's key set has no key %s", repr(kid) if kid else "(no kid)")
        return key

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        """Read the JWKS (its URL from the issuer's metadata when not given); on failure keep the keys held."""
        self._fetched = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                url = self.resource.jwks_url or await _discover_jwks_url(http, self.resource.issuer)
                response = await http.get(url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError, GatewayError) as exc:
            log.warning("could not read the OAuth issuer's keys (%s): %s; tokens are checked against the keys held "
                        "(%d)", self.resource.jwks_url or self.resource.issuer, exc, len(self._keys))
            return
        self._keys = {key.key_id: key for key in keys}


async def _discover_jwks_url(http: httpx.AsyncClient, issuer: str) -> str:
    """`jwks_uri` from the issuer's RFC 8414 metadata, else its OpenID Connect discovery document."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    for url in (f"{origin}/.well-known/oauth-authorization-server{path}",
                f"{origin}{path}/.well-known/openid-configuration"):
        response = await http.get(url)
        if response.status_code == 200:
            jwks_uri = response.json().get("jwks_uri")
            if isinstance(jwks_uri, str):
                check_fetchable(jwks_uri, "the issuer's jwks_uri")
                return jwks_uri
    raise GatewayError(f"the issuer {issuer} publishes no jwks_uri in its metadata: give --oauth-jwks-url")


def _scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` (space-separated, RFC 9068) or `scp` (a list, as some issuers send)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [str(s) for s in scp]
    return []


class AnyOf:
    """The first verifier that accepts a token: fixed tokens, then OAuth, when both are configured."""

    def __init__(self, verifiers: Sequence[TokenVerifier]) -> None:
        self.verifiers = list(verifiers)

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self.verifiers:
            found = await verifier.verify_token(token)
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class InboundAuth:
    """How /mcp requests are let in: the verifier, the scopes every token needs, and the OAuth resource, if any."""

    verifier: TokenVerifier
    scopes: tuple[str, ...] = ()
    oauth: OAuthResource | None = None

    def settings(self) -> AuthSettings | None:
        """The SDK's view of the OAuth resource (its URLs parsed as RFC 8414 wants: an issuer keeps no added `/`)."""
        if self.oauth is None:
            return None
        return AuthSettings.model_validate({"issuer_url": self.oauth.issuer, "resource_server_url": self.oauth.audience,
                                            "required_scopes": list(self.scopes) or None,
                                            "validate_token_resource": False})  # the verifier checks `aud` itself

    def metadata_url(self) -> AnyHttpUrl | None:
        """Where the protected resource metadata is (named in WWW-Authenticate), in OAuth mode."""
        settings = self.settings()
        return build_resource_metadata_url(settings.resource_server_url) if settings and settings.resource_server_url \
            else None

    def metadata_routes(self) -> list[Route]:
        """RFC 9728 protected resource metadata at /.well-known/oauth-protected-resource, and at the same path
        followed by the resource's own path (where RFC 9728 and the MCP spec look first)."""
        settings = self.settings()
        if settings is None or settings.resource_server_url is None:
            return []
        routes = create_protected_resource_routes(resource_url=settings.resource_server_url,
                                                  authorization_servers=[settings.issuer_url],
                                                  scopes_supported=settings.required_scopes,
                                                  resource_name="mcp-gateway")
        if all(route.path != WELL_KNOWN for route in routes):
            routes.append(Route(WELL_KNOWN, endpoint=routes[0].endpoint, methods=["GET", "OPTIONS"]))
        return routes


def check_fetchable(url: str, what: str) -> None:
    """An issuer or key URL must be https (plain http only on this machine, for tests and local issuers)."""
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or (parts.scheme != "https" and not (parts.scheme == "http" and loopback)):
        raise GatewayError(f"{what} {url!r} must be an https:// URL (http:// only for 127.0.0.1 or localhost)")


def inbound_auth(token_env: str | None, issuer: str | None = None, audience: str | None = None,
                 jwks_url: str | None = None, scopes: Sequence[str] = ()) -> InboundAuth | None:
    """The inbound auth the `serve` flags ask for; None when they ask for none. Raises GatewayError on bad flags."""
    verifiers: list[TokenVerifier] = []
    if token_env:
        verifiers.append(StaticTokens.from_env(token_env, scopes))
    oauth = None
    if issuer or audience or jwks_url:
        if not (issuer and audience):
            raise GatewayError("OAuth mode needs both --oauth-issuer URL (who issues the tokens) and "
                               "--oauth-audience URL (this server's /mcp URL as clients reach it, the tokens' aud)")
        check_fetchable(issuer, "--oauth-issuer")
        if jwks_url:
            check_fetchable(jwks_url, "--oauth-jwks-url")
        if urlsplit(audience).scheme not in ("http", "https") or not urlsplit(audience).hostname:
            raise GatewayError(f"--oauth-audience {audience!r} must be this server's URL, e.g. "
                               "https://gateway.example.com/mcp")
        oauth = OAuthResource(issuer, audience, jwks_url, tuple(scopes))
        verifiers.append(JwtVerifier(oauth))
    if not verifiers:
        if scopes:
            raise GatewayError("--oauth-scope needs inbound auth: add --auth-token-env VAR or --oauth-issuer URL")
        return None
    return InboundAuth(verifiers[0] if len(verifiers) == 1 else AnyOf(verifiers), tuple(scopes), oauth)

