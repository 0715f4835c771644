"""Upstream credentials, read once from the environment as the profile's `auth` says."""

from __future__ import annotations

import base64
import os

from mcp_gateway.profile import Auth


def has_control_character(value: str) -> bool:
    """Whether a value holds a character no header, query or cookie can carry as it is (CR, LF, NUL, ...)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


class Credentials:
    """Where each credential goes (headers, query, cookies), which variables are missing, and what is secret."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self.missing: list[str] = []
        self.malformed: list[str] = []  # variables whose value holds a control character
        self.secrets: list[str] = []
        self.headers: dict[str, str] = {}
        self.query: list[tuple[str, str]] = []
        self.cookies: list[tuple[str, str]] = []
        if auth.type == "basic":
            self._basic(auth)
        elif auth.type != "none":
            self._key(auth)

    def _basic(self, auth: Auth) -> None:
        user = self._read(auth.username_env)
        password = self._read(auth.password_env)
        if user is not None and user != password:
            self.secrets.remove(user)  # a user name such as `api` is no secret, and masking it mangles answers
        if user is not None and password is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.secrets.append(token)
            self.headers["Authorization"] = f"Basic {token}"

    def _key(self, auth: Auth) -> None:
        value = self._read(auth.env)
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
        """The environment variables this auth reads, for messages."""
        names = [self.auth.env, self.auth.username_env, self.auth.password_env]
        return [n for n in names if n]
