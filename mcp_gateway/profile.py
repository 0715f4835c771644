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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcp_gateway.errors import ProfileError
from mcp_gateway.media import is_media_type
from mcp_gateway.spec.load import is_url, max_document_bytes, read_local_text

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# Headers of a request to this server that mean something to the server or its transport: a caller's own upstream
# key needs a header of its own (the token a client uses to reach this server is never passed on to an upstream)
_TRANSPORT_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "host", "origin", "accept",
                                "content-type", "content-length", "transfer-encoding", "connection", "last-event-id",
                                "mcp-session-id", "mcp-protocol-version"})


class UserKey(_Model):
    """A caller's own upstream key, taken from a header of its HTTP request to this server."""

    header: str
    required: bool = False  # true: no call without it; the server's own key is never used in its place

    @field_validator("header")
    @classmethod
    def _own_header(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        if value.lower() in _TRANSPORT_HEADERS:
            raise ValueError(f"{value} carries the request to this server and is never passed on upstream; name a "
                             "header of its own, e.g. X-Upstream-Authorization")
        return value


class Auth(_Model):
    """How each upstream request is authenticated; secrets come from environment variables (or, with `user_key`,
    from each caller's own request header)."""

    type: Literal["api_key", "bearer", "basic", "oauth2_client_credentials", "none"] = "none"
    in_: Literal["header", "query", "cookie"] = Field("header", alias="in")
    name: str = "X-API-Key"
    env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    token_url: str | None = None  # oauth2_client_credentials: the token endpoint
    client_id_env: str | None = None
    client_secret_env: str | None = None
    scopes: list[str] = []
    audience: str | None = None  # sent as `audience` with the token request where the provider asks for it
    client_auth: Literal["basic", "body"] = "basic"  # client id and secret as HTTP Basic (RFC 6749 2.3.1) or form
    user_key: UserKey | None = None

    @field_validator("env", "username_env", "password_env", "client_id_env", "client_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not an environment variable name (letters, digits and _, not starting "
                             "with a digit)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Auth:
        if self.type == "oauth2_client_credentials":
            if not (self.token_url and self.client_id_env and self.client_secret_env):
                raise ValueError("oauth2_client_credentials needs token_url, client_id_env and client_secret_env")
            if not re.match(r"https?://", self.token_url):
                raise ValueError(f"token_url {self.token_url!r} must be an http(s) URL")
        if self.user_key is not None and self.type == "none":
            raise ValueError("user_key needs an auth type that says where the key goes (bearer, api_key, basic or "
                             "oauth2_client_credentials)")
        return self


class Retries(_Model):
    """Retries of idempotent requests after connection errors and 429/502/503/504 answers."""

    attempts: int = Field(3, ge=1, le=10)  # in all, the first included; 1 turns retries off
    max_delay: float = Field(10.0, gt=0, le=300)  # seconds: the longest wait, a longer Retry-After is not waited for
    idempotency_keys: bool = False  # true: each POST/PATCH without an Idempotency-Key gets one, and is retried


class Breaker(_Model):
    """When an upstream counts as down: calls then fail at once until a probe after `cooldown` succeeds."""

    failures: int = Field(5, ge=1)  # failed attempts in a row that open it
    error_rate: float = Field(0.5, gt=0, le=1)  # or this share of failed attempts within `window`...
    window: float = Field(60.0, gt=0)  # ...seconds
    min_calls: int = Field(20, ge=1)  # ...once the window holds at least this many attempts
    cooldown: float = Field(30.0, gt=0)  # seconds open before one probe call is let through


class Filter(_Model):
    """Globs; an operation matches when, for every list given, one of its globs matches.

    `operations` globs match the operationId or `METHOD /path` (e.g. `POST /v1/files*`).
    """

    tags: list[str] = []
    operations: list[str] = []
    paths: list[str] = []
    methods: list[str] = []


class Paginate(_Model):
    """Bounded auto-pagination of one GET operation: `Link: rel="next"` (RFC 8288, the default), a cursor field sent
    back in a query parameter, or a page-number parameter counted up; the items of each page are merged into one
    answer."""

    max_pages: int = Field(5, ge=1, le=100)  # pages read in all, the first included
    max_bytes: int | None = Field(None, ge=1024)  # stop once the pages read hold this much; default max_response_bytes
    items: str | None = None  # dot-separated keys to each page's item list (e.g. `data`); default: the page is a list
    cursor: str | None = None  # dot-separated keys to the next cursor (e.g. `meta.next_cursor`); default: Link header
    cursor_param: str | None = None  # the query parameter the cursor is sent in (with `cursor`)
    page_param: str | None = None  # or: the query parameter of a page number (e.g. `page`), counted up from 1
    more: str | None = None  # with page_param: keys to a boolean saying more remain (`has_next`); default: items left

    @model_validator(mode="after")
    def _one_style(self) -> Paginate:
        if (self.cursor is None) != (self.cursor_param is None):
            raise ValueError("cursor and cursor_param go together: where the next cursor is in an answer, and the "
                             "query parameter it is sent in")
        if self.cursor is not None and self.page_param is not None:
            raise ValueError("give either cursor and cursor_param, or page_param, not both")
        if self.more is not None and self.page_param is None:
            raise ValueError("more goes with page_param (a cursor or a Link header already says whether more remain)")
        return self


_OPERATION = re.compile(r"^(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) /\S*$")


class Job(_Model):
    """An operation that starts upstream work to be followed (jobs.py): where the job's id is in the start answer,
    the operation that reads the job (and the one that cancels it), where its state is and which values end it."""

    poll: str  # `METHOD /path` of the operation that reads the job, e.g. `GET /v1/jobs/{id}`; the id fills its path
    cancel: str | None = None  # `METHOD /path` of the operation that stops it, e.g. `DELETE /v1/jobs/{id}`
    id: list[str] = ["id"]  # dot-separated keys to the id in the start answer; the first one present is used
    status: str = "status"  # dot-separated keys to the job's state in its answers
    done: list[str] = ["completed", "succeeded", "success", "done"]  # states of a finished job (any case)
    failed: list[str] = ["failed", "error", "cancelled", "canceled", "expired"]  # states of a job that ended badly
    progress: str | None = None  # dot-separated keys to a percentage (0-100), when the job reports one
    wait: float = Field(60.0, ge=0, le=3600)  # seconds a call waits for the job before answering with it as it is
    interval: float = Field(2.0, gt=0, le=300)  # the first pause between polls; it grows to 30 s (or Retry-After)

    @field_validator("poll", "cancel")
    @classmethod
    def _operation(cls, value: str | None) -> str | None:
        if value is not None and not _OPERATION.match(value):
            raise ValueError(f"{value!r} is not an operation: write it as METHOD /path, e.g. GET /v1/jobs/{{id}}")
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Override(_Model):
    """Per-operation changes, keyed by operationId or `METHOD /path`."""

    name: str | None = None
    title: str | None = None
    description: str | None = None
    annotations: dict[str, Any] = {}
    request_body: dict[str, Any] | None = None  # a body schema, for documents that declare none
    request_body_media_type: str | None = None  # how request_body is sent: default application/json
    paginate: Paginate | None = None  # follow next pages and merge their items (pagination.py)
    job: Job | None = None  # the operation starts a job: wait for it, or hand it over as an MCP task (jobs.py)

    @field_validator("request_body_media_type")
    @classmethod
    def _media_type(cls, value: str | None) -> str | None:
        if value is not None and not is_media_type(value):
            raise ValueError(f"{value!r} is not a media type: write type/subtype, e.g. multipart/form-data, "
                             "application/x-www-form-urlencoded or application/json")
        return value

    @model_validator(mode="after")
    def _body_for_media_type(self) -> Override:
        if self.request_body_media_type is not None and self.request_body is None:
            raise ValueError("request_body_media_type says how request_body is sent: give request_body (its schema) "
                             "too, or remove request_body_media_type")
        return self


# how input schemas are written (compile/schema_profiles.py): portable JSON Schema, or a model API's subset
SchemaProfile = Literal["portable", "gemini", "openai-strict"]


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
    # the longest tool name to list, prefix included: a client's limit less the prefix it adds (names are shortened
    # readably to fit); `name_limit` is its older spelling, and the smaller of the two applies
    name_budget: int | None = Field(None, ge=16, le=64)
    schema_profile: SchemaProfile = "portable"  # input schemas for picky model APIs: gemini, openai-strict
    description_limit: int = Field(1024, ge=80, le=8192)
    output_schemas: bool = True
    timeout: float = Field(30.0, gt=0, le=600)
    retries: Retries = Retries()
    max_concurrency: int = Field(32, ge=1, le=10_000)  # calls in flight to this upstream; later ones wait their turn
    breaker: Breaker = Breaker()
    max_response_bytes: int = Field(262_144, ge=1024)
    refresh: float | None = Field(None, ge=1)
    discovery: Literal["auto", "on", "off"] = "auto"  # serve search/describe/call meta-tools instead of every tool
    # `auto`: more tools than this switch discovery on (VS Code takes 128 tools, Cursor sends its model ~40)
    discovery_threshold: int = Field(100, ge=0)
    pinned: list[str] = []  # globs on tool names or `METHOD /path`: direct tools beside the meta-tools
    # globs on tool names or `METHOD /path`, or `destructive` (every destructiveHint tool): the user is asked through
    # elicitation before each such call is sent (confirm.py)
    confirm: list[str] = []

    @property
    def tool_name_limit(self) -> int:
        """The longest tool name to list: the smaller of `name_budget` and `name_limit`."""
        return min(self.name_budget or self.name_limit, self.name_limit)

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


def env_references(text: str) -> list[tuple[str, str | None]]:
    """Each `${VAR}` (default None) and `${VAR:-default}` in `text`, as (name, default), in order."""
    return [(match.group(1), match.group(2)) for match in _ENV.finditer(text)]


def _relative(value: str | None, folder: Path) -> str | None:
    if value is None or is_url(value) or Path(value).is_absolute():
        return value
    return str(folder / value)


def _format_error(exc: ValidationError) -> str:
    """Each problem by its key, with what to do about it where pydantic's words do not say."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"key `{key}` is not a profile setting; check its spelling (the README's Profiles section "
                         "lists every key)")
        elif err["type"] == "missing":
            lines.append(f"key `{key}` is required; add it")
        else:
            lines.append(f"key `{key}`: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(lines)


def load_profile(path: str) -> Profile:
    """Read and validate a profile; `spec` and `spec_fallback` become paths relative to the profile."""
    file = Path(path)
    text = read_local_text(path, max_document_bytes(), ProfileError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProfileError(path, f"is not valid YAML ({exc.__class__.__name__}{where}); fix the YAML there") from None
    except RecursionError:
        raise ProfileError(path, "nests too deeply to read; a profile is a few keys deep, check that this is one") \
            from None
    if not isinstance(data, dict):
        raise ProfileError(path, "a profile must be a mapping with at least a `spec` key, e.g. `spec: openapi.json`")
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
