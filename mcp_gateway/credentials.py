"""Upstream credentials: the server's, read once from the environment as the profile's `auth` says, or a caller's
own key, taken from the header of its request that the profile's `auth.user_key` names."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from mcp_gateway.errors import GatewayError
from mcp_gateway.profile import Auth


def has_control_character(value: str) -> bool:
    """Whether a value holds a character no header, query or cookie can carry as it is (CR, LF, NUL, ...)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


class CallerKeyError(GatewayError):
    """A call that needs the caller's own upstream key and has none it can use; the text says which header to send."""


def caller_key(auth: Auth, headers: Mapping[str, str] | None) -> str | None:
    """The caller's own upstream key from its request `headers` (None on stdio), when the profile asks for one;
    None when the profile asks for none or the caller sent none and the server's key may serve.

    Raises CallerKeyError when the profile requires the key and it is missing, or when it holds a control character.
    """
    setting = auth.user_key
    if setting is None:
        return None
    value = (_header(headers, setting.header) or "").strip() if headers is not None else ""
    if has_control_character(value):
        raise CallerKeyError(f"the {setting.header} header holds a control character; send the key alone")
    if value or not setting.required:
        return value or None
    if headers is None:
        raise CallerKeyError(f"this API needs each caller's own key in the {setting.header} header of the HTTP "
                             "request, and stdio has no headers: serve it over HTTP (--transport http)")
    raise CallerKeyError(f"this API needs your own key: send it in the {setting.header} header of your HTTP "
                         "requests to this server (the server's key is not used for it)")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name in `headers` (Starlette's are case-insensitive; a dict is not)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _without_scheme(value: str, scheme: str) -> str | None:
    """The rest of `value` when it starts with the authorization `scheme` (`Bearer xyz` -> `xyz`), else None."""
    word, _, rest = value.partition(" ")
    return rest.strip() if word.lower() == scheme.lower() and rest.strip() else None


class Credentials:
    """Where each credential goes (headers, query, cookies), which variables are missing, and what is secret.

    With `caller_key`, the caller's own key takes the server's place and nothing is read from the environment.
    """

    def __init__(self, auth: Auth, caller_key: str | None = None) -> None:
        self.auth = auth
        self.caller_key = caller_key
        self.missing: list[str] = []
        self.malformed: list[str] = []  # variables whose value holds a control character
        self.secrets: list[str] = []
        self.headers: dict[str, str] = {}
        self.query: list[tuple[str, str]] = []
        self.cookies: list[tuple[str, str]] = []
        self.client: tuple[str, str] | None = None  # oauth2_client_credentials: the client id and secret
        if caller_key is not None:
            self.secrets.append(caller_key)
            self._caller(auth, caller_key)
        elif auth.type == "basic":
            self._basic(auth)
        elif auth.type == "oauth2_client_credentials":
            self._client(auth)
        elif auth.type != "none":
            self._place(auth, self._read(auth.env))

    @property
    def oauth2(self) -> bool:
        """Whether each request needs an access token from the profile's token endpoint."""
        return self.auth.type == "oauth2_client_credentials" and self.caller_key is None

    def _caller(self, auth: Auth, key: str) -> None:
        """The caller's key where the server's would go: a bearer or OAuth2 token (`Bearer ` before it is
        optional), an API key, or `user:password` (or `Basic <base64>`) for basic auth."""
        if auth.type == "basic":
            token = _without_scheme(key, "Basic") or base64.b64encode(key.encode()).decode()
            self.secrets.append(token)
            self.headers["Authorization"] = f"Basic {token}"
        elif auth.type in ("bearer", "oauth2_client_credentials"):
            token = _without_scheme(key, "Bearer") or key
            self.secrets.append(token)
            self.headers["Authorization"] = f"Bearer {token}"
        else:
            self._place(auth, key)

    def _basic(self, auth: Auth) -> None:
        user = self._read(auth.username_env)
        password = self._read(auth.password_env)
        if user is not None and user != password:
            self.secrets.remove(user)  # a user name such as `api` is no secret, and masking it mangles answers
        if user is not None and password is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.secrets.append(token)
            self.headers["Authorization"] = f"Basic {token}"

    def _client(self, auth: Auth) -> None:
        """OAuth2 client credentials: both read (and the secret masked) now; tokens are fetched per call."""
        client_id = self._read(auth.client_id_env)
        secret = self._read(auth.client_secret_env)
        if client_id is not None and client_id != secret:
            self.secrets.remove(client_id)  # an identifier, not a secret
        if client_id is not None and secret is not None:
            self.client = (client_id, secret)
            self.secrets.append(base64.b64encode(f"{client_id}:{secret}".encode()).decode())

    def _place(self, auth: Auth, value: str | None) -> None:
        if value is None:
            return
        if auth.type == "bearer":
            self.headers["Authorization"] = f"Bearer {value}"
        elif auth.in_ == "header":
            self.headers[auth.name] = value
        elif auth.in_ == "query":
            self.query.append((auth.name, value))
        else:
            self.cookies.append((auth.name, value))

    def _read(self, name: str | None) -> str | None:
        if not name:
            self.missing.append("(no environment variable named in the profile's auth)")
            return None
        value = os.environ.get(name, "").strip()  # a trailing newline from a file or secret store is no part of it
        if not value:
            self.missing.append(name)
            return None
        self.secrets.append(value)
        if has_control_character(value):
            self.malformed.append(name)
            return None
        return value

    def env_names(self) -> list[str]:
        """Where this call's keys come from, for messages: the environment variables, or the caller's header."""
        if self.caller_key is not None and self.auth.user_key is not None:
            return [f"the {self.auth.user_key.header} header"]
        names = [self.auth.env, self.auth.username_env, self.auth.password_env, self.auth.client_id_env,
                 self.auth.client_secret_env]
        return [n for n in names if n]
