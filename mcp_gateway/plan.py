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
        return tool


@dataclass(frozen=True, slots=True)
class Skipped:
    """An operation that did not become a tool, and why."""

    operation: str
    reason: str
