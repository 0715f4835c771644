"""Operations -> tools + call plans. Pure: a function of the document and the profile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp_gateway.compile.filters import selected
from mcp_gateway.compile.naming import NameRegistry, by_parameters, clean, derived_name
from mcp_gateway.compile.refs import deref
from mcp_gateway.compile.schema import SchemaConverter
from mcp_gateway.compile.schema_profiles import SchemaProfileWriter
from mcp_gateway.errors import OperationSkipped
from mcp_gateway.media import BodyKind, body_kind
from mcp_gateway.openapi import METHODS, as_dict, as_list, as_text, server_url
from mcp_gateway.plan import (
    DEPRECATED,
    BodyPlan,
    CallPlan,
    CompiledTool,
    FieldEncoding,
    JobPlan,
    PagePlan,
    ParamBinding,
    Skipped,
)
from mcp_gateway.profile import Job, Override, Paginate, Profile
from mcp_gateway.selection import SELECT_SCHEMA, select_argument

_LOCATIONS = ("path", "query", "header", "cookie")
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_TEMPLATE_VAR = re.compile(r"{([^{}]+)}")
# MCP's defaults are left unsaid: not read-only, destructive, not idempotent, open world
_DEFAULT_HINTS = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}
_ANNOTATIONS = {
    "GET": {"readOnlyHint": True},
    "HEAD": {"readOnlyHint": True},
    "OPTIONS": {"readOnlyHint": True},
    "POST": {"destructiveHint": False},
    "PATCH": {"destructiveHint": False},
    "PUT": {"idempotentHint": True},
    "DELETE": {"idempotentHint": True},
}


@dataclass(frozen=True, slots=True)
class Compilation:
    """The result of compiling one document with one profile."""

    tools: tuple[CompiledTool, ...]
    skipped: tuple[Skipped, ...]
    operations: int
    default_base_url: str | None  # the document's first server, as written (it may be relative)


def _names(operation_id: str, method: str, path: str) -> Iterator[str]:
    """Tool names to try, best first: the operationId, the derived verb phrase, that told apart by path parameters."""
    if operation_id:
        yield operation_id
    derived = derived_name(method, path)
    yield derived
    yield by_parameters(derived, path)


def operation_tags(op: dict[str, Any]) -> list[str]:
    """The operation's tags that are strings (a malformed `tags` counts as none)."""
    tags = op.get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


class _Arguments:
    """Argument names of one tool: each input gets one, clashes get a location prefix."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, name: str, prefix: str) -> str:
        spelled = name.replace("<", "_lt_").replace(">", "_gt_")  # `StartTime<` and `StartTime>` stay apart
        base = clean(spelled, r"A-Za-z0-9_.-")[:64] or prefix
        for candidate in (base, f"{prefix}_{base}"[:64]):
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        n = 2
        while f"{prefix}_{base}"[:60] + f"_{n}" in self.taken:
            n += 1
        candidate = f"{prefix}_{base}"[:60] + f"_{n}"
        self.taken.add(candidate)
        return candidate


_KIND_ORDER: dict[BodyKind, int] = {"json": 0, "form": 1, "multipart": 2, "text": 3, "binary": 4}


def _pick_media(content: Any, exclude: tuple[BodyKind, ...] = ()) -> tuple[str, BodyKind, dict[str, Any]] | None:
    """The body media type to offer: JSON first, then form, multipart, text, raw bytes."""
    if not isinstance(content, dict):
        return None
    options = [(str(m), body_kind(str(m)), v if isinstance(v, dict) else {}) for m, v in content.items()]
    options = [o for o in options if o[1] not in exclude]
    if not options:
        return None
    return min(options, key=lambda o: _KIND_ORDER[o[1]])


class _OperationCompiler:
    def __init__(self, document: dict[str, Any], profile: Profile, converter: SchemaConverter) -> None:
        self.document = document
        self.profile = profile
        self.converter = converter
        self.schema_profile = SchemaProfileWriter(profile.schema_profile)
        auth = profile.auth
        self.auth_slot: tuple[str, str] | None = None
        if auth.type == "api_key":
            self.auth_slot = (auth.in_, auth.name.lower())
        elif auth.type in ("bearer", "basic"):
            self.auth_slot = ("header", "authorization")

    # -- parameters --------------------------------------------------------------------------
    def parameters(self, item: dict[str, Any], op: dict[str, Any], path: str) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in as_list(item.get("parameters")) + as_list(op.get("parameters")):
            param = deref(self.document, raw)
            if not isinstance(param, dict):
                continue
            name, location = param.get("name"), param.get("in")
            if not isinstance(name, str) or not name or location not in _LOCATIONS:
                continue
            if location == "header" and name.lower() in ("content-type", "content-length"):
                continue
            key_name = name.lower() if location == "header" else name
            if self.auth_slot == (location, name.lower()):
                continue
            merged[(location, key_name)] = param
        declared = {p["name"] for (loc, _), p in merged.items() if loc == "path"}
        route, _, fixed_query = path.split("#", 1)[0].partition("?")
        template = _TEMPLATE_VAR.findall(route)
        for (loc, key), param in list(merged.items()):
            if loc == "path" and param["name"] not in template:
                del merged[(loc, key)]  # declared but absent from the template: cannot be placed
        for var in template:
            if var not in declared:
                merged[("path", var)] = {"name": var, "in": "path", "required": True, "schema": {"type": "string"}}
        for var in _TEMPLATE_VAR.findall(fixed_query):  # `?q={q}` in a path key: a query parameter
            merged.setdefault(("query", var), {"name": var, "in": "query", "required": True,
                                               "schema": {"type": "string"}})
        order = {loc: i for i, loc in enumerate(_LOCATIONS)}
        return sorted(merged.values(), key=lambda p: order[p["in"]])

    def param_schema(self, param: dict[str, Any], refs: set[str]) -> tuple[dict[str, Any], bool]:
        as_json = False
        raw = param.get("schema")
        if raw is None and isinstance(param.get("content"), dict) and param["content"]:
            media, body = next(iter(param["content"].items()))
            raw = body.get("schema") if isinstance(body, dict) else None
            as_json = body_kind(str(media)) == "json"
        schema, found = self.converter.convert(raw if raw is not None else {"type": "string"})
        refs |= found
        description = param.get("description")
        if isinstance(description, str) and description.strip():
            schema = {**schema, "description": description.strip()}  # beside a `$ref` too: this is 2020-12
        if param.get("deprecated") is True:
            schema = {**schema, "deprecated": True}
        return schema, as_json

    # -- body -----------------------------------------------------------------------------------
    def object_fields(self, schema: Any, depth: int = 0) -> tuple[dict[str, Any], set[str]] | None:
        """Properties and required names when the body is a plain object (allOf parts merged)."""
        if depth > 8:
            return None
        schema = self.converter.resolve(schema)
        if not isinstance(schema, dict) or schema.get("oneOf") or schema.get("anyOf"):
            return None
        kind = schema.get("type")
        if kind not in (None, "object") and kind != ["object"]:
            return None
        props: dict[str, Any] = {}
        required: set[str] = set()
        for part in as_list(schema.get("allOf")):
            merged = self.object_fields(part, depth + 1)
            if merged is None:
                return None
            props.update(merged[0])
            required |= merged[1]
        if isinstance(schema.get("properties"), dict):
            props.update({str(k): v for k, v in schema["properties"].items()})
        if isinstance(schema.get("required"), list):
            required |= {r for r in schema["required"] if isinstance(r, str)}
        if not props:
            return None
        return props, required

    def body(self, op: dict[str, Any], names: _Arguments, properties: dict[str, Any], required: list[str],
             dependent: dict[str, list[str]], refs: set[str], override: Override | None) -> BodyPlan | None:
        request_body = deref(self.document, op.get("requestBody"))
        if override is not None and override.request_body is not None:
            media = override.request_body_media_type or "application/json"
            request_body = {"required": True, "content": {media: {"schema": override.request_body}}}
        if not isinstance(request_body, dict):
            return None
        picked = _pick_media(request_body.get("content"))
        if picked is None:
            return None
        if picked[1] == "multipart" and self.object_fields(picked[2].get("schema")) is None:
            # a multipart body with no named fields: the raw bytes, where also offered, are the clearer input
            picked = _pick_media(request_body.get("content"), exclude=("multipart",)) or picked
        media, kind, content = picked
        body_required = request_body.get("required") is True
        raw_schema = content.get("schema")
        encoding = tuple(
            (str(field), FieldEncoding(
                style=enc["style"] if isinstance(enc.get("style"), str) else "form",
                explode=enc.get("explode", True) if isinstance(enc.get("explode"), bool) else True,
                content_type=enc.get("contentType") if isinstance(enc.get("contentType"), str) else None,
            ))
            for field, enc in as_dict(content.get("encoding")).items() if isinstance(enc, dict)
        )
        fields = self.object_fields(raw_schema) if kind in ("json", "form", "multipart") else None
        if fields is not None:
            props, req = fields
            bound: list[tuple[str, str]] = []
            binary: set[str] = set()
            for prop, sub in props.items():
                resolved = self.converter.resolve(sub)
                if isinstance(resolved, dict) and resolved.get("readOnly") is True:
                    continue
                argument = names.claim(prop, "body")
                if kind == "multipart" and _is_binary(resolved, self.converter):
                    binary.add(prop)
                    properties[argument] = _file_schema(resolved)
                else:
                    schema, found = self.converter.convert(sub)
                    refs |= found
                    properties[argument] = schema
                if body_required and prop in req:
                    required.append(argument)
                bound.append((argument, prop))
            needed = [arg for arg, prop in bound if prop in req]
            if not body_required:  # an optional body, once sent, still needs its required fields
                dependent.update({arg: others for arg, _ in bound if (others := [n for n in needed if n != arg])})
            return BodyPlan(media_type=media, kind=kind, fields=tuple(bound), encoding=encoding,
                            binary_fields=frozenset(binary), required=body_required)
        argument = names.claim("body", "request")
        if kind == "binary":
            properties[argument] = {"type": "string",
                                    "description": f"Request body ({media}): base64-encoded bytes, or plain text"}
        elif kind == "text":
            properties[argument] = {"type": "string", "description": f"Request body ({media})"}
        else:
            schema, found = self.converter.convert(raw_schema if raw_schema is not None else {})
            refs |= found
            properties[argument] = schema
        if body_required:
            required.append(argument)
            if kind in ("text", "binary"):
                properties[argument]["minLength"] = 1
        return BodyPlan(media_type=media, kind=kind, argument=argument, encoding=encoding,
                        required=body_required)

    # -- output -----------------------------------------------------------------------------------
    def success_media(self, op: dict[str, Any]) -> tuple[str, BodyKind, dict[str, Any]] | None:
        """The media type (and its entry) the operation's first success response answers with, if it says."""
        responses = op.get("responses")
        if not isinstance(responses, dict):
            return None
        by_code = {str(code): value for code, value in responses.items()}
        codes = sorted((c for c in by_code if c.startswith("2")), key=lambda c: (c != "200", c))
        if not codes:
            return None
        response = deref(self.document, by_code[codes[0]])
        return _pick_media(response.get("content")) if isinstance(response, dict) else None

    def answers_json(self, op: dict[str, Any]) -> bool:
        """Whether the operation's success answer is JSON: its tool then takes a selection (selection.py)."""
        picked = self.success_media(op)
        return picked is not None and picked[1] == "json"

    def output_schema(self, op: dict[str, Any]) -> dict[str, Any] | None:
        if not self.profile.output_schemas:
            return None
        picked = self.success_media(op)
        if picked is None or picked[1] != "json" or "schema" not in picked[2]:
            return None
        schema = picked[2]["schema"]
        try:
            if self.object_fields(schema) is None:
                return None
            return {"type": "object", **self.converter.shape(schema)}
        except OperationSkipped:
            return None  # a broken response description costs the tool its outputSchema, not the tool

    # -- the operation --------------------------------------------------------------------------
    def compile(self, path: str, method: str, item: dict[str, Any], op: dict[str, Any], registry: NameRegistry,
                base_url: str | None) -> CompiledTool:
        label = f"{method.upper()} {path}"
        names = _Arguments()
        properties: dict[str, Any] = {}
        required: list[str] = []
        refs: set[str] = set()
        bindings: list[ParamBinding] = []
        idempotency_header = None
        for param in self.parameters(item, op, path):
            location = param["in"]
            argument = names.claim(param["name"], location)
            schema, as_json = self.param_schema(param, refs)
            if location == "path" or param.get("required") is True:
                required.append(argument)
                schema = _non_empty(schema, location)  # an empty value would drop the parameter or change the path
            properties[argument] = schema
            style = param.get("style")
            style = style if isinstance(style, str) else _DEFAULT_STYLE[location]
            explode = param["explode"] if isinstance(param.get("explode"), bool) else style == "form"
            bindings.append(ParamBinding(argument, param["name"], location, style, explode, as_json))
            if location == "header" and param["name"].lower() == "idempotency-key":
                idempotency_header = param["name"]
        dependent: dict[str, list[str]] = {}
        operation_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
        override = self.profile.overrides.get(operation_id or "") or self.profile.overrides.get(label)
        body = self.body(op, names, properties, required, dependent, refs, override)
        if idempotency_header is None and (label in self.profile.idempotent_operations
                                           or operation_id in self.profile.idempotent_operations):
            idempotency_header = "Idempotency-Key"
        select_name = select_argument(properties) if self.answers_json(op) else None
        if select_name is not None:
            properties[select_name] = SELECT_SCHEMA
        input_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = list(dict.fromkeys(required))
        if dependent:
            input_schema["dependentRequired"] = dependent
        input_schema["additionalProperties"] = False
        input_schema = self.converter.finish(input_schema, refs)
        served = self.schema_profile.served(input_schema)
        chosen = clean(override.name or "") if override else ""
        candidates = iter([chosen]) if chosen else _names(clean(operation_id or ""), method, path)
        if self.profile.tool_prefix:
            candidates = (f"{self.profile.tool_prefix}_{name}" for name in candidates)
        summary = as_text(op.get("summary"))
        annotations = {**_ANNOTATIONS.get(method.upper(), {}), **(override.annotations if override else {})}
        description = override.description if override and override.description else self.description(op, summary)
        if override and override.job:
            description = f"{description}\n\n{_job_note(override.job)}".strip()
        # a job's call answers with the job as its poll reads it, not with the start answer the document describes
        output_schema = None if override and override.job else self.output_schema(op)
        return CompiledTool(
            # claimed last: an operation that fails above must not hold a name
            name=registry.claim(next(candidates), candidates),
            title=(override.title if override and override.title else summary[:120] or None),
            description=f"{description}\n\n{label}".strip(),
            input_schema=served,
            output_schema=output_schema,
            annotations={key: value for key, value in annotations.items() if value != _DEFAULT_HINTS.get(key)},
            plan=CallPlan(method=method.upper(), path=path, params=tuple(bindings), body=body,
                          base_url=base_url, idempotency_header=idempotency_header),
            operation=label,
            argument_schema=None if served is input_schema else input_schema,
            strict_arguments=self.profile.schema_profile == "openai-strict",
            select_argument=select_name,
            pagination=_page_plan(override.paginate) if override and override.paginate and method == "get" else None,
            job=_job_plan(override.job) if override and override.job else None,
        )

    def description(self, op: dict[str, Any], summary: str) -> str:
        text = as_text(op.get("description"))
        parts = [summary] if summary else []
        if text and text != summary:
            parts.append(text)
        joined = "\n\n".join(parts)
        limit = self.profile.description_limit
        if len(joined) > limit:
            joined = joined[: limit - 1].rstrip() + "…"
        if op.get("deprecated") is True:
            joined = f"{DEPRECATED}{joined}".strip()
        return joined


def _page_plan(paginate: Paginate) -> PagePlan:
    """A profile's `paginate` setting as plan data."""
    return PagePlan(max_pages=paginate.max_pages, max_bytes=paginate.max_bytes, items=paginate.items,
                    cursor=paginate.cursor, cursor_param=paginate.cursor_param, page_param=paginate.page_param,
                    more=paginate.more)


def _job_note(job: Job) -> str:
    """What a job's tool says of how its call goes."""
    return (f"When the answer is a job, the call waits up to {job.wait:g} s for it to finish, reporting progress; a "
            "job still running by then is returned as it stands, with its id and the tool that checks on it. "
            "Calling this again starts another job.")


def _job_plan(job: Job) -> JobPlan:
    """A profile's `job` setting as plan data, its states in lower case."""
    return JobPlan(poll=job.poll, cancel=job.cancel, id_keys=tuple(job.id), status=job.status,
                   done=frozenset(state.lower() for state in job.done),
                   failed=frozenset(state.lower() for state in job.failed), progress=job.progress, wait=job.wait,
                   interval=job.interval)


def _non_empty(schema: dict[str, Any], location: str) -> dict[str, Any]:
    """A required parameter must not vanish when serialised: `""` in a path names the parent resource,
    and an empty array or object in a query, header or cookie writes nothing at all."""
    kind = schema.get("type")
    if kind == "string" and location == "path" and "enum" not in schema and "const" not in schema:
        return {**schema, "minLength": max(1, schema.get("minLength", 0))}
    if kind == "array":
        return {**schema, "minItems": max(1, schema.get("minItems", 0))}
    if kind == "object" and location != "path":
        return {**schema, "minProperties": max(1, schema.get("minProperties", 0))}
    return schema


def _is_binary(schema: Any, converter: SchemaConverter) -> bool:
    if isinstance(schema, dict) and schema.get("type") == "array":
        schema = converter.resolve(schema.get("items"))  # an array of files; one level is all a form has
    if not isinstance(schema, dict):
        return False
    return schema.get("format") in ("binary", "byte") or (
        schema.get("type") == "string" and isinstance(schema.get("contentMediaType"), str)
        and not schema["contentMediaType"].startswith("text/"))


def _file_schema(schema: dict[str, Any]) -> dict[str, Any]:
    text = ("File content: base64-encoded bytes, a data: URL (data:audio/wav;name=talk.wav;base64,...: its type "
            "and name go with the file), or plain text")
    if isinstance(schema.get("description"), str):
        text = f"{schema['description'].strip()} ({text})"
    if schema.get("type") == "array":
        return {"type": "array", "items": {"type": "string"}, "description": text}
    return {"type": "string", "description": text}


def compile_document(document: dict[str, Any], profile: Profile, registry: NameRegistry | None = None) -> Compilation:
    """Compile every selected operation; a bad operation is skipped with its reason, never the whole document."""
    openapi_31 = str(document.get("openapi", "")).startswith("3.1")
    converter = SchemaConverter(document, openapi_31)
    compiler = _OperationCompiler(document, profile, converter)
    registry = registry or NameRegistry(profile.tool_name_limit)
    tools: list[CompiledTool] = []
    skipped: list[Skipped] = []
    operations = 0
    paths = document.get("paths") or {}
    for path, raw_item in paths.items() if isinstance(paths, dict) else ():
        path = str(path)
        if path.startswith("x-"):
            continue  # an extension of the Paths Object, not a path
        try:
            item = deref(document, raw_item)
            if not isinstance(item, dict):
                raise OperationSkipped("the path item is not an object")
        except OperationSkipped as exc:
            skipped.append(Skipped(f"* {path}", str(exc)))
            continue
        item_server = server_url(item.get("servers"))
        for method in METHODS:
            if method not in item:
                continue
            operations += 1
            label = f"{method.upper()} {path}"
            try:
                op = deref(document, item[method])  # multi-file documents may keep each operation in its own file
                if not isinstance(op, dict):
                    raise OperationSkipped("the operation is not an object")
                operation_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
                if not selected(profile, method.upper(), path, operation_id, operation_tags(op)):
                    continue
                base = server_url(op.get("servers")) or item_server
                tools.append(compiler.compile(path, method, item, op, registry, base))
            except OperationSkipped as exc:
                skipped.append(Skipped(label, str(exc)))
            except RecursionError:
                skipped.append(Skipped(label, "schema nests too deeply to convert"))
            except Exception as exc:  # noqa: BLE001 - one malformed operation must not cost the whole document
                skipped.append(Skipped(label, f"malformed operation ({type(exc).__name__}: {str(exc)[:200]})"))
    return Compilation(
        tools=tuple(tools),
        skipped=tuple(skipped),
        operations=operations,
        default_base_url=server_url(document.get("servers")),
    )
