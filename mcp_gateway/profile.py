"""Profiles (tool_specs/*.yaml): which document to serve, where, with what auth and which tools.

A profile is plain pydantic data. Errors name the file and the key. `${VAR}` (or `${VAR:-default}`)
in `base_url` and `headers` is expanded from the environment when the server starts, not here, so a
profile can be listed and checked without its secrets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mcp_gateway.errors import ProfileError
from mcp_gateway.spec.load import is_url, max_document_bytes, read_local_text

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Auth(_Model):
    """How each upstream request is authenticated; secrets come from environment variables only."""

    type: Literal["api_key", "bearer", "basic", "none"] = "none"
    in_: Literal["header", "query", "cookie"] = Field("header", alias="in")
    name: str = "X-API-Key"
    env: str | None = None
    username_env: str | None = None
    password_env: str | None = None

    @field_validator("env", "username_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value


class Filter(_Model):
    """Globs; an operation matches when, for every list given, one of its globs matches.

    `operations` globs match the operationId or `METHOD /path` (e.g. `POST /v1/files*`).
    """

    tags: list[str] = []
    operations: list[str] = []
    paths: list[str] = []
    methods: list[str] = []


class Override(_Model):
    """Per-operation changes, keyed by operationId or `METHOD /path`."""

    name: str | None = None
    title: str | None = None
    description: str | None = None
    annotations: dict[str, Any] = {}
    request_body: dict[str, Any] | None = None  # a JSON body schema, for documents that declare none


class Profile(_Model):
    """One API as the gateway serves it."""

    name: str = "api"
    spec: str
    spec_fallback: str | None = None
    base_url: str | None = None
    auth: Auth = Auth()
    headers: dict[str, str] = {}
    tool_prefix: str | None = None
    include: Filter | None = None
    exclude: Filter | None = None
    read_only: bool = False
    overrides: dict[str, Override] = {}
    idempotent_operations: list[str] = []
    name_limit: int = Field(64, ge=16, le=64)
    description_limit: int = Field(1024, ge=80, le=8192)
    output_schemas: bool = True
    timeout: float = Field(30.0, gt=0, le=600)
    max_response_bytes: int = Field(262_144, ge=1024)
    refresh: float | None = Field(None, ge=1)
    discovery: Literal["auto", "on", "off"] = "auto"  # serve search/describe/call meta-tools instead of every tool
    # `auto`: more tools than this switch discovery on (VS Code takes 128 tools, Cursor sends its model ~40)
    discovery_threshold: int = Field(100, ge=0)
    pinned: list[str] = []  # globs on tool names or `METHOD /path`: direct tools beside the meta-tools

    @field_validator("tool_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,24}", value):
            raise ValueError("must be 1-24 characters from A-Z a-z 0-9 _ -")
        return value


def expand_env(text: str, where: str) -> str:
    """Replace `${VAR}` / `${VAR:-default}`; a missing variable is an error that names it."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise ProfileError(where, f"environment variable {name} is not set; export {name}=... and start again")

    return _ENV.sub(replace, text)


def env_values(text: str) -> list[str]:
    """The values of the environment variables `text` refers to (those that are set), to be kept secret."""
    return [value for name, _ in _ENV.findall(text) if (value := os.environ.get(name))]


def _relative(value: str | None, folder: Path) -> str | None:
    if value is None or is_url(value) or Path(value).is_absolute():
        return value
    return str(folder / value)


def _format_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"key `{key}`: {err['msg']}")
    return "; ".join(lines)


def load_profile(path: str) -> Profile:
    """Read and validate a profile; `spec` and `spec_fallback` become paths relative to the profile."""
    file = Path(path)
    text = read_local_text(path, max_document_bytes(), ProfileError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(path, f"is not valid YAML ({exc.__class__.__name__})") from None
    except RecursionError:
        raise ProfileError(path, "nests too deeply to read") from None
    if not isinstance(data, dict):
        raise ProfileError(path, "a profile must be a mapping with at least a `spec` key")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(path, _format_error(exc)) from None
    folder = file.resolve().parent
    return profile.model_copy(
        update={"spec": _relative(profile.spec, folder), "spec_fallback": _relative(profile.spec_fallback, folder)}
    )


def looks_like_profile(path: str) -> bool:
    """A YAML file whose top level has `spec` and no `openapi`/`swagger` key is a profile."""
    if is_url(path) or not path.endswith((".yaml", ".yml")):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536).decode("utf-8", errors="replace")  # load_profile reports bad bytes
    except OSError:
        return False
    return bool(re.search(r"^spec\s*:", head, re.MULTILINE)) and not re.search(
        r"^(openapi|swagger)\s*:", head, re.MULTILINE
    )
