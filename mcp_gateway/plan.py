"""The compiled form of an operation: plain frozen data that the runtime interprets, no closures, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mcp_gateway.media import BodyKind

Location = Literal["path", "query", "header", "cookie"]
DEPRECATED = "[Deprecated] "  # what a deprecated operation's description starts with


@dataclass(frozen=True, slots=True)
class ParamBinding:
    """One argument that goes into the URL, a header or a cookie."""

    argument: str
    name: str
    location: Location
    style: str
    explode: bool
    as_json: bool = False  # the parameter is described with `content: application/json`


@dataclass(frozen=True, slots=True)
class FieldEncoding:
    """How one form or multipart field is written (from the document's `encoding`)."""

    style: str = "deepObject"
    explode: bool = True
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class BodyPlan:
    """Where the request body comes from and how it is encoded.

    Either `argument` names one argument that is the whole body, or `fields` maps each argument to
    the body property it fills (a flattened object body).
    """

    media_type: str
    kind: BodyKind
    argument: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    encoding: tuple[tuple[str, FieldEncoding], ...] = ()
    binary_fields: frozenset[str] = frozenset()
    required: bool = False


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Everything needed to turn arguments into an HTTP request for one operation."""

    method: str
    path: str
    params: tuple[ParamBinding, ...] = ()
    body: BodyPlan | None = None
    base_url: str | None = None  # compile: the operation's own server as written; once built: the absolute URL
    idempotency_header: str | None = None  # generate a key here when the caller gives none


@dataclass(frozen=True, slots=True)
class PagePlan:
    """Bounded auto-pagination of one operation (a profile's `overrides.<op>.paginate`): follow `Link: rel="next"`,
    send the cursor found at `cursor` in the `cursor_param` query parameter, or count up `page_param`; and merge
    the items at `items`."""

    max_pages: int
    max_bytes: int | None = None  # stop once the pages read hold this many bytes; None: the profile's size cap
    items: str | None = None  # dot-separated keys to each page's item list; None: the page is the list
    cursor: str | None = None  # dot-separated keys to the next page's cursor; None: follow Link rel="next"
    cursor_param: str | None = None
    page_param: str | None = None  # the query parameter of a page number, counted up from the request's (or 1)
    more: str | None = None  # with page_param: dot-separated keys to a boolean saying more pages remain


@dataclass(frozen=True, slots=True)
class JobPlan:
    """An operation that starts an upstream job (a profile's `overrides.<op>.job`): the id's keys in the start
    answer, the operations (`METHOD /path`) that read and stop the job, the state's keys and the states that end it
    (lower case), the progress keys, and how long a call waits and how often it polls."""

    poll: str
    cancel: str | None
    id_keys: tuple[str, ...]
    status: str
    done: frozenset[str]
    failed: frozenset[str]
    progress: str | None
    wait: float
    interval: float


@dataclass(frozen=True, slots=True)
class CompiledTool:
    """An MCP tool (as plain data) and the plan that serves it."""

    name: str
    title: str | None
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any]
    plan: CallPlan
    operation: str  # "METHOD /path", for messages and overrides
    # the schema calls are checked against when `input_schema` was rewritten for a model API (schema profiles):
    # the portable one, whose every constraint still holds; None: `input_schema` itself
    argument_schema: dict[str, Any] | None = None
    # openai-strict: a null for an optional property means it was left out, JSON text where an object belongs is it
    strict_arguments: bool = False
    select_argument: str | None = None  # the reserved argument holding a JMESPath selection (selection.py), if any
    pagination: PagePlan | None = None
    job: JobPlan | None = None

    def to_mcp(self) -> dict[str, Any]:
        """The tool exactly as tools/list sends it (camelCase wire names), with nothing said twice.

        The title is left out when the description already starts with it: models are shown the
        description, never the title, and clients that display a title fall back to the name.
        """
        tool: dict[str, Any] = {"name": self.name}
        if self.title and not self.description.removeprefix(DEPRECATED).startswith(self.title):
            tool["title"] = self.title
        tool["description"] = self.description
        tool["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            tool["outputSchema"] = self.output_schema
        if self.annotations:
            tool["annotations"] = self.annotations
        if self.job is not None:  # a 2025-11-25 client may ask for a task; the SDK leaves this out of 2026 lists
            tool["execution"] = {"taskSupport": "optional"}
        return tool


@dataclass(frozen=True, slots=True)
class Skipped:
    """An operation that did not become a tool, and why."""

    operation: str
    reason: str
