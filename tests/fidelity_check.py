"""Check one raw HTTP request against the operation of the ORIGINAL document it is meant to call.

Independent of the gateway's compiler: parameters, styles and bodies are read from the document as
written (Swagger 2.0 natively, OpenAPI 3.0 and 3.1), and schemas are validated with `jsonschema`
(2020-12) against a "shadow" copy of the document in which the 3.0/2.0 dialect is mapped to JSON
Schema (`nullable` and `x-nullable`, also honoured in 3.1 documents that still use them; boolean
`exclusiveMinimum`; `$ref` siblings ignored before 3.1), malformed keywords (`type: null`) are
dropped, and `required` no longer lists `readOnly` properties (they are response-only).

A request is parsed the way a typical server reads it: query strings are percent-decoded with `+`
as a space and then split on the style's delimiter; cookies are percent-decoded; multipart field
names are taken literally (RFC 7578). What is not checked: security requirements, `discriminator`
mappings, XML and other non-JSON/non-form bodies (only the content type is checked), `format`s that
jsonschema has no checker for, and `pattern`s in ECMA-262 syntax that Python's `re` cannot compile
(that keyword alone is skipped; see UNCHECKED_PATTERNS).
"""

from __future__ import annotations

import email
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_URI = "urn:fidelity:doc"
_VAR = re.compile(r"{([^{}]+)}")
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_SCHEMA_VALUE_KEYS = {"example", "examples", "enum", "const", "default", "x-example", "x-examples"}
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_COLLECTION = {"csv": ("form", False), "multi": ("form", True), "ssv": ("spaceDelimited", False),
               "tsv": ("tabDelimited", False), "pipes": ("pipeDelimited", False)}
_DELIMITER = {"form": ",", "simple": ",", "spaceDelimited": " ", "pipeDelimited": "|", "tabDelimited": "\t"}
_SWAGGER_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "maximum", "minimum", "exclusiveMaximum",
                        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
                        "uniqueItems", "multipleOf", "x-nullable")

_MAP_KEYS = {"properties", "patternProperties", "$defs", "definitions", "schemas", "dependentSchemas", "paths",
             "responses", "requestBodies", "securitySchemes", "headers", "content", "encoding", "callbacks",
             "links", "variables", "mapping", "webhooks", "pathItems", "securityDefinitions", "parameters",
             "x-bundled"}
_KEYWORD_TYPES: dict[str, Any] = {"type": (str, list), "required": (list, bool), "enum": list,
                                   "allOf": list, "anyOf": list, "oneOf": list, "pattern": str,
                                   "minLength": int, "maxLength": int, "minItems": int, "maxItems": int,
                                   "minimum": (int, float), "maximum": (int, float), "multipleOf": (int, float)}

def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Any:
    """`pattern`, skipping regexes Python cannot compile (ECMA `\\p{L}`...): one keyword unchecked, not a body."""
    if not isinstance(instance, str) or not isinstance(pattern, str):
        return
    try:
        compiled = re.compile(pattern)
    except re.error:
        UNCHECKED_PATTERNS.add(pattern)
        return
    if not compiled.search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


UNCHECKED_PATTERNS: set[str] = set()
Validator = extend(Draft202012Validator, {"pattern": _pattern})

FORMATS = FormatChecker(formats=())
FORMATS.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)  # 2020-12 meanings ("time" has a zone)


@FORMATS.checks("int32")
def _int32(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


@dataclass(frozen=True)
class Problem:
    """One reason a request does not fit the document; `fatal=False` marks a note, not a failure."""

    kind: str
    detail: str
    fatal: bool = True


@dataclass
class RawRequest:
    """A request exactly as the upstream received it (path relative to the API root)."""

    method: str
    path: str  # still percent-encoded
    query: str  # raw query string, without `?`
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass
class Verdict:
    """Problems found, plus the values the request carried as the document reads them."""

    problems: list[Problem] = field(default_factory=list)
    values: dict[tuple[str, str], Any] = field(default_factory=dict)  # (location, name) -> parsed value
    body: Any = None
    body_kind: str | None = None

    @property
    def valid(self) -> bool:
        return not any(p.fatal for p in self.problems)

    def add(self, kind: str, detail: str, fatal: bool = True) -> None:
        self.problems.append(Problem(kind, detail, fatal))


@dataclass
class ParamSpec:
    name: str
    location: str
    required: bool
    style: str
    explode: bool
    schema: Any  # shadow-document schema (refs point into the shadow document)
    content_json: bool = False
    content_other: bool = False


@dataclass
class MediaSpec:
    media: str
    schema: Any
    encoding: dict[str, dict[str, Any]]


@dataclass
class BodySpec:
    required: bool
    media: list[MediaSpec]


@dataclass
class OperationSpec:
    method: str
    path: str  # the document's key, as written
    params: list[ParamSpec]
    body: BodySpec | None
    notes: list[str] = field(default_factory=list)

    @property
    def path_part(self) -> str:
        return split_template(self.path)[0]

    @property
    def query_part(self) -> str:
        return split_template(self.path)[1]


def split_template(key: str) -> tuple[str, str]:
    """A path key -> (path template, query template): some documents put `?a={b}` or `#x` in their keys."""
    key = key.split("#", 1)[0]
    path, _, query = key.partition("?")
    return path, query


# -- the shadow document --------------------------------------------------------------------------------


def _shadow(node: Any, dialect30: bool, original: Any, as_map: bool = False) -> Any:
    """A copy of the document whose schemas are JSON Schema 2020-12 as far as requests are concerned."""
    if isinstance(node, list):
        return [_shadow(item, dialect30, original) for item in node]
    if not isinstance(node, dict):
        return node
    if as_map:  # names -> objects (properties, $defs, paths, ...): the names are not keywords
        return {key: _shadow(value, dialect30, original) for key, value in node.items()}
    if dialect30 and isinstance(node.get("$ref"), str):
        return {"$ref": _uri(node["$ref"])}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = _uri(value)
        elif key in _SCHEMA_VALUE_KEYS:
            out[key] = value
        else:
            out[key] = _shadow(value, dialect30, original, key in _MAP_KEYS)
    for key, kinds in _KEYWORD_TYPES.items():
        if key in out and not isinstance(out[key], kinds):
            del out[key]  # malformed keyword (e.g. `type: null`): ignored, as the gateway does
    # `nullable` is honoured in 3.1 documents too: authors still write it there, and mean it
    nullable = out.pop("nullable", None) is True
    nullable = out.pop("x-nullable", None) is True or nullable
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if out.get(key) is True and bound in out:
            out[key] = out.pop(bound)
        elif isinstance(out.get(key), bool):
            del out[key]
    if out.get("type") == "file":
        del out["type"]
    if nullable:
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out and any(k in out for k in ("$ref", "allOf", "anyOf", "oneOf", "enum")):
            out = {"anyOf": [out, {"type": "null"}]}
    required, props = out.get("required"), out.get("properties")
    if isinstance(required, list) and isinstance(props, dict):
        out["required"] = [r for r in required if not _read_only(props.get(r), original)]
    return out


def _uri(ref: str) -> str:
    return DOC_URI + ref if ref.startswith("#") else ref


def _lookup(document: Any, ref: str) -> Any:
    if ref.startswith(DOC_URI):
        ref = ref[len(DOC_URI):]
    if not ref.startswith("#"):
        return None
    node = document
    for part in unquote(ref[1:]).split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _deref(document: Any, node: Any) -> Any:
    for _ in range(32):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = _lookup(document, node["$ref"])
        else:
            return node
    return None


def _read_only(schema: Any, original: Any) -> bool:
    if isinstance(schema, dict) and schema.get("readOnly") is True:
        return True
    target = _deref(original, schema)
    return isinstance(target, dict) and target.get("readOnly") is True


# -- the document model ---------------------------------------------------------------------------------


class DocumentModel:
    """Operations of one original document, and validators for its schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.original = document
        self.swagger2 = str(document.get("swagger", "")).startswith("2")
        self.openapi31 = str(document.get("openapi", "")).startswith("3.1")
        self.shadow = _shadow(document, not self.openapi31, document)
        resource = Resource(contents=self.shadow, specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(DOC_URI, resource)
        self._validators: dict[str, Any] = {}
        self.operations: dict[tuple[str, str], OperationSpec] = {}
        paths = self.shadow.get("paths") if isinstance(self.shadow.get("paths"), dict) else {}
        for path, item in paths.items():
            item = self.deref(item)
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                op = self.deref(item.get(method))  # some multi-file documents `$ref` whole operations
                if isinstance(op, dict):
                    spec = self._operation(str(path), method, item, op)
                    self.operations[(method.upper(), str(path))] = spec

    def deref(self, node: Any) -> Any:
        return _deref(self.shadow, node)

    # building -----------------------------------------------------------------------------------------
    def _operation(self, path: str, method: str, item: dict[str, Any], op: dict[str, Any]) -> OperationSpec:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in list(item.get("parameters") or []) + list(op.get("parameters") or []):
            param = self.deref(raw)
            if isinstance(param, dict) and isinstance(param.get("name"), str) and isinstance(param.get("in"), str):
                key = param["name"].lower() if param["in"] == "header" else param["name"]
                merged[(param["in"], key)] = param
        spec = OperationSpec(method.upper(), path, [], None)
        template = set(_VAR.findall(path))
        form: list[dict[str, Any]] = []
        for param in merged.values():
            location = param["in"]
            if location == "body":
                spec.body = self._swagger_body(op, param)
                continue
            if location == "formData":
                form.append(param)
                continue
            if location not in _DEFAULT_STYLE:
                continue
            if location == "header" and param["name"].lower() in _IGNORED_HEADERS:
                continue
            if location == "path" and param["name"] not in template:
                spec.notes.append(f"path parameter {param['name']!r} is not in the template")
                continue
            spec.params.append(self._param(param))
        declared = {p.name for p in spec.params if p.location == "path"}
        for var in template - declared:
            spec.params.append(ParamSpec(var, "path", True, "simple", False, {"type": "string"}))
            spec.notes.append(f"path variable {var!r} is not declared")
        if form:
            spec.body = self._swagger_form(op, form)
        elif not self.swagger2:
            body = self.deref(op.get("requestBody"))
            if isinstance(body, dict) and isinstance(body.get("content"), dict):
                media = [MediaSpec(str(m), (v or {}).get("schema"),
                                   {str(k): e for k, e in ((v or {}).get("encoding") or {}).items()
                                    if isinstance(e, dict)})
                         for m, v in body["content"].items() if isinstance(v, dict) or v is None]
                spec.body = BodySpec(body.get("required") is True, media)
        return spec

    def _param(self, param: dict[str, Any]) -> ParamSpec:
        location = param["in"]
        required = location == "path" or param.get("required") is True
        if self.swagger2:
            schema = {k: param[k] for k in _SWAGGER_SCHEMA_KEYS if k in param}
            style, explode = _DEFAULT_STYLE[location], location in ("query", "cookie")
            if param.get("type") == "array":
                style, explode = _COLLECTION.get(param.get("collectionFormat", "csv"), ("form", False))
                if style == "form" and location in ("path", "header"):
                    style = "simple"
            return ParamSpec(param["name"], location, required, style, explode, _shadow(schema, True, {}))
        style = param.get("style") if isinstance(param.get("style"), str) else _DEFAULT_STYLE[location]
        explode = param["explode"] if isinstance(param.get("explode"), bool) else style == "form"
        schema = param.get("schema")
        content_json = content_other = False
        if schema is None and isinstance(param.get("content"), dict) and param["content"]:
            media, body = next(iter(param["content"].items()))
            schema = body.get("schema") if isinstance(body, dict) else None
            content_json = _is_json(str(media))
            content_other = not content_json
        return ParamSpec(param["name"], location, required, style, explode, schema if schema is not None else {},
                         content_json, content_other)

    def _consumes(self, op: dict[str, Any]) -> list[str]:
        return [str(m) for m in op.get("consumes") or self.shadow.get("consumes") or ["application/json"]]

    def _swagger_body(self, op: dict[str, Any], param: dict[str, Any]) -> BodySpec:
        media = [m for m in self._consumes(op) if "form" not in m] or ["application/json"]
        schema = param.get("schema") if param.get("schema") is not None else {}
        return BodySpec(param.get("required") is True, [MediaSpec(m, schema, {}) for m in media])

    def _swagger_form(self, op: dict[str, Any], form: list[dict[str, Any]]) -> BodySpec:
        props: dict[str, Any] = {}
        encoding: dict[str, dict[str, Any]] = {}
        required = []
        for p in form:
            schema = {k: p[k] for k in _SWAGGER_SCHEMA_KEYS if k in p}
            if p.get("type") == "file":
                schema = {"type": "string", "format": "binary"}
            props[p["name"]] = _shadow(schema, True, {})
            if p.get("required") is True:
                required.append(p["name"])
            if p.get("type") == "array":
                style, explode = _COLLECTION.get(p.get("collectionFormat", "csv"), ("form", False))
                encoding[p["name"]] = {"style": style, "explode": explode}
        schema = {"type": "object", "properties": props, "required": required}
        consumes = [m for m in self._consumes(op) if "form" in m] or ["application/x-www-form-urlencoded"]
        return BodySpec(bool(required), [MediaSpec(m, schema, encoding) for m in consumes])

    # validation ---------------------------------------------------------------------------------------
    def validate(self, schema: Any, value: Any) -> str | None:
        """None when `value` fits `schema`, else a message; raises SchemaTrouble when it cannot tell."""
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = self._validators.get(key)
        try:
            if validator is None:
                root = schema if isinstance(schema, dict | bool) else {}
                validator = Validator(root, registry=self.registry, format_checker=FORMATS)
                self._validators[key] = validator
            error = best_match(validator.iter_errors(value))
        except Exception as exc:  # noqa: BLE001 - malformed schemas, bad regexes, dangling refs
            raise SchemaTrouble(f"{type(exc).__name__}: {str(exc)[:160]}") from None
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{where or '(root)'}: {error.message[:300]}"

    def types(self, schema: Any, depth: int = 0) -> set[str] | None:
        """The JSON types a schema admits at its root (None: any)."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > 12:
            return None
        kinds: set[str] | None = None
        if isinstance(schema.get("type"), str):
            kinds = {schema["type"]}
        elif isinstance(schema.get("type"), list):
            kinds = {str(t) for t in schema["type"]}
        for part in schema.get("allOf") or []:
            sub = self.types(part, depth + 1)
            if sub is not None:
                kinds = sub if kinds is None else kinds & sub
        branches = [self.types(b, depth + 1) for b in (schema.get("anyOf") or []) + (schema.get("oneOf") or [])]
        if branches and all(b is not None for b in branches):
            union = set().union(*branches)  # type: ignore[arg-type]
            kinds = union if kinds is None else kinds & union
        if kinds is None:
            if "properties" in schema or "additionalProperties" in schema:
                return {"object"}
            if "items" in schema:
                return {"array"}
        if kinds is not None and "integer" in kinds:
            kinds = kinds | {"number"} if "number" in kinds else kinds
        return kinds

    def subschema(self, schema: Any, key: str | None, depth: int = 0) -> Any:
        """The schema of property `key` (None: of array items), looking through refs and combinators."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > 12:
            return {}
        if key is None and "items" in schema:
            return schema["items"] if isinstance(schema["items"], dict | bool) else {}
        if key is None and isinstance(schema.get("prefixItems"), list) and schema["prefixItems"]:
            return schema["prefixItems"][0]
        if key is not None and isinstance(schema.get("properties"), dict) and key in schema["properties"]:
            return schema["properties"][key]
        for part in (schema.get("allOf") or []) + (schema.get("anyOf") or []) + (schema.get("oneOf") or []):
            found = self.subschema(part, key, depth + 1)
            if found != {}:
                return found
        if key is not None and isinstance(schema.get("additionalProperties"), dict):
            return schema["additionalProperties"]
        return {}

    def coerce(self, value: Any, schema: Any, depth: int = 0) -> Any:
        """Strings read from a URL, header or form -> the JSON values the schema describes."""
        if depth > 20:
            return value
        kinds = self.types(schema)
        if isinstance(value, list):
            if kinds is not None and "array" not in kinds and len(value) == 1:
                return self.coerce(value[0], schema, depth + 1)
            item = self.subschema(schema, None)
            return [self.coerce(v, item, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self.coerce(v, self.subschema(schema, k), depth + 1) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        enum = self.deref(schema).get("enum") if isinstance(self.deref(schema), dict) else None
        if isinstance(enum, list) and value not in enum:
            spelled = [e for e in enum if not isinstance(e, str) and _spell(e) == value]
            if spelled:
                return spelled[0]
        if kinds is None or "string" in kinds:
            return value
        return scalar(value, kinds)


class SchemaTrouble(Exception):
    """The document's schema cannot be evaluated (malformed, or a regex Python cannot compile)."""


def _spell(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def scalar(text: str, kinds: set[str]) -> Any:
    """A URL/header/form text read as the first JSON type in `kinds` that it spells."""
    if "integer" in kinds and re.fullmatch(r"-?\d+", text):
        return int(text)
    if "number" in kinds:
        try:
            number = float(text)
            if text.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"):
                return int(number) if number.is_integer() and re.fullmatch(r"-?\d+", text) else number
        except ValueError:
            pass
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    if "null" in kinds and text in ("", "null"):
        return None
    if kinds & {"object", "array"}:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base in ("application/json", "text/json") or base.endswith("+json")


def media_matches(sent: str, declared: str) -> bool:
    """Does a request Content-Type (parameters ignored) fall under a declared media type or range?"""
    sent = sent.split(";")[0].strip().lower()
    declared = declared.split(";")[0].strip().lower()
    if declared in ("*/*", "*", sent):
        return True
    if declared.endswith("/*"):
        return sent.startswith(declared[:-1])
    return False


# -- request parsing ------------------------------------------------------------------------------------


def _template_tokens(template: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    for match in _VAR.finditer(template):
        if match.start() > pos:
            tokens.append(("lit", template[pos:match.start()]))
        tokens.append(("var", match.group(1)))
        pos = match.end()
    if pos < len(template):
        tokens.append(("lit", template[pos:]))
    return tokens


def _match_literal(raw: str, pos: int, literal: str) -> int | None:
    for char in literal:
        if raw.startswith(char, pos):
            pos += 1
            continue
        encoded = "".join(f"%{b:02X}" for b in char.encode())
        if raw[pos:pos + len(encoded)].upper() == encoded:
            pos += len(encoded)
            continue
        return None
    return pos


def path_splits(template: str, raw: str, limit: int = 64) -> list[dict[str, str]]:
    """Every way the raw path fits the template; each maps a variable to its raw (encoded) text."""
    tokens = _template_tokens(template)
    found: list[dict[str, str]] = []

    def walk(i: int, pos: int, bound: dict[str, str]) -> None:
        if len(found) >= limit:
            return
        if i == len(tokens):
            if pos == len(raw):
                found.append(dict(bound))
            return
        kind, text = tokens[i]
        if kind == "lit":
            nxt = _match_literal(raw, pos, text)
            if nxt is not None:
                walk(i + 1, nxt, bound)
            return
        end = raw.find("/", pos)
        end = len(raw) if end < 0 else end
        for stop in range(end, pos - 1, -1):  # a variable never spans a `/`
            bound[text] = raw[pos:stop]
            walk(i + 1, stop, bound)
        bound.pop(text, None)

    walk(0, 0, {})
    return found


def _split(text: str, sep: str) -> list[str]:
    return text.split(sep) if text else []


def _pairs_to_object(items: list[str], explode: bool, decode: Any) -> dict[str, str] | None:
    if explode:
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                return None
            out[decode(key)] = decode(value)
        return out
    if len(items) % 2:
        return None
    return {decode(items[i]): decode(items[i + 1]) for i in range(0, len(items), 2)}


def parse_path_value(raw: str, param: ParamSpec, kinds: set[str] | None) -> tuple[bool, Any]:
    """One path variable's raw text -> its value by style; (False, reason) when it cannot be read."""
    style, explode, name = param.style, param.explode, param.name
    if style == "label":
        if not raw.startswith("."):
            return False, "label-style value does not start with '.'"
        body, sep = raw[1:], "." if explode else ","
    elif style == "matrix":
        prefix = f";{name}="
        if kinds and "array" in kinds and explode:
            items = raw.split(";")[1:]
            if any(not i.startswith(f"{name}=") for i in items):
                return False, f"exploded matrix array must repeat ;{name}="
            return True, [unquote(i[len(name) + 1:]) for i in items]
        if kinds and "object" in kinds and explode:
            obj = _pairs_to_object(raw.split(";")[1:], True, unquote)
            return (obj is not None), obj if obj is not None else "exploded matrix object is not ;k=v pairs"
        if raw == f";{name}":
            return True, ""
        if not raw.startswith(prefix):
            return False, f"matrix-style value does not start with {prefix!r}"
        body, sep = raw[len(prefix):], ","
    else:
        body, sep = raw, ","
    if param.content_json:
        try:
            return True, json.loads(unquote(body))
        except ValueError:
            return False, "content application/json value is not JSON"
    if kinds and kinds <= {"array", "null"}:
        return True, [unquote(v) for v in _split(body, sep)]
    if kinds and kinds <= {"object", "null"}:
        obj = _pairs_to_object(_split(body, sep), explode and style != "matrix", unquote)
        return (obj is not None), obj if obj is not None else "object value is not a list of key/value pairs"
    return True, unquote(body)


def parse_deep(pairs: list[tuple[str, str]], name: str) -> tuple[Any, list[str]]:
    """`name[a][b]=v` pairs -> a nested value; numeric and empty keys make lists."""
    root: dict[str, Any] = {}
    used: list[str] = []
    for key, value in pairs:
        if not key.startswith(name + "["):
            continue
        path = re.findall(r"\[([^\[\]]*)\]", key[len(name):])
        if "".join(f"[{p}]" for p in path) != key[len(name):]:
            continue
        used.append(key)
        node = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            part = part if part else f"\0{len(node)}"
            if last:
                if part in node and not isinstance(node[part], list | dict):
                    node[part] = [node[part], value] if not isinstance(node[part], list) else node[part] + [value]
                else:
                    node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
    return _listify(root), used


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() or k.startswith("\0") for k in node):
        keys = sorted(node, key=lambda k: int(k.lstrip("\0")))
        return [_listify(node[k]) for k in keys]
    return {k: _listify(v) for k, v in node.items()}


def parse_cookies(header: str | None) -> list[tuple[str, str]]:
    out = []
    for piece in (header or "").split(";"):
        name, sep, value = piece.strip().partition("=")
        if sep:
            out.append((name.strip(), value.strip()))
    return out


# -- the check --------------------------------------------------------------------------------------------


class RequestChecker:
    """Checks requests for the operations of one document."""

    def __init__(self, model: DocumentModel) -> None:
        self.model = model

    def check(self, method: str, template: str, request: RawRequest) -> Verdict:
        verdict = Verdict()
        op = self.model.operations.get((method.upper(), template))
        if op is None:
            verdict.add("operation not in document", f"{method} {template}")
            return verdict
        if request.method.upper() != op.method:
            verdict.add("wrong method", f"sent {request.method}, document says {op.method}")
        self._path(op, request, verdict)
        self._query(op, request, verdict)
        self._headers(op, request, verdict)
        self._cookies(op, request, verdict)
        self._body(op, request, verdict)
        return verdict

    def _value(self, verdict: Verdict, param: ParamSpec, value: Any) -> None:
        """Coerce and validate one parameter value; record it for the round-trip comparison."""
        model = self.model
        kinds = model.types(param.schema)
        coerced = value if param.content_json else model.coerce(value, param.schema)
        verdict.values[(param.location, param.name)] = coerced
        if param.content_other:
            verdict.add("parameter content not checked", f"{param.location} {param.name}", fatal=False)
            return
        try:
            problem = model.validate(param.schema, coerced)
            if problem and isinstance(value, str) and kinds and "string" in kinds:
                problem = None if model.validate(param.schema, value) is None else problem
        except SchemaTrouble as exc:
            verdict.add("schema not checkable", f"{param.location} {param.name}: {exc}", fatal=False)
            return
        if problem:
            verdict.add(f"{param.location} parameter invalid",
                        f"{param.name}={_short(value)}: {problem}")

    def _path(self, op: OperationSpec, request: RawRequest, verdict: Verdict) -> None:
        splits = path_splits(op.path_part, request.path)
        if not splits:
            verdict.add("path does not match template", f"{request.path!r} vs {op.path_part!r}")
            return
        params = {p.name: p for p in op.params if p.location == "path"}
        best: Verdict | None = None
        for bound in splits:
            trial = Verdict()
            for name, raw in bound.items():
                param = params.get(name)
                if param is None:
                    continue
                if raw == "":
                    trial.add("empty path parameter", f"{name} is empty in {request.path!r}")
                    continue
                ok, value = parse_path_value(raw, param, self.model.types(param.schema))
                if not ok:
                    trial.add("path parameter not in its style", f"{name}={raw!r}: {value}")
                    continue
                self._value(trial, param, value)
            if trial.valid:
                best = trial
                break
            best = best or trial
        assert best is not None
        if len(splits) > 1:
            verdict.add("ambiguous path template", f"{op.path} splits {len(splits)} ways", fatal=False)
        verdict.problems.extend(best.problems)
        verdict.values.update(best.values)
        for (other_method, other_key), other in self.model.operations.items():
            if other_method == op.method and other.path_part != op.path_part and not _VAR.search(
                    other.path_part) and path_splits(other.path_part, request.path, 1):
                verdict.add("path shadowed by a concrete path", f"{request.path} also fits {other_key}",
                            fatal=False)
                break

    def _query(self, op: OperationSpec, request: RawRequest, verdict: Verdict) -> None:
        pairs = parse_qsl(request.query, keep_blank_values=True)
        claimed: set[int] = set()
        spread: ParamSpec | None = None
        if op.query_part:
            self._query_template(op, pairs, claimed, verdict)
        for param in (p for p in op.params if p.location == "query"):
            kinds = self.model.types(param.schema)
            is_object = bool(kinds) and kinds <= {"object", "null"} and not param.content_json
            if param.style == "deepObject":
                value, used = parse_deep(pairs, param.name)
                claimed |= {i for i, (k, _) in enumerate(pairs) if k in used}
                exact = [(i, v) for i, (k, v) in enumerate(pairs) if k == param.name]
                if used:
                    self._value(verdict, param, value)
                elif exact and not is_object:
                    # deepObject says nothing about primitives; `name=value` is what servers read
                    claimed |= {i for i, _ in exact}
                    self._value(verdict, param, exact[0][1])
                elif param.required:
                    verdict.add("missing required parameter", f"query {param.name}")
                continue
            if is_object and param.explode and param.style == "form":
                spread = param  # takes every query pair no other parameter claims
                continue
            found = [(i, v) for i, (k, v) in enumerate(pairs) if k == param.name]
            claimed |= {i for i, _ in found}
            if not found:
                if param.required:
                    verdict.add("missing required parameter", f"query {param.name}")
                continue
            values = [v for _, v in found]
            is_array = bool(kinds) and "array" in kinds and not param.content_json
            if param.content_json:
                try:
                    value: Any = json.loads(values[0])
                except ValueError:
                    verdict.add("query parameter invalid", f"{param.name}: content application/json value is not JSON")
                    continue
            elif is_array and param.explode:
                value = values
            elif is_array or is_object:
                sep = _DELIMITER.get(param.style, ",")
                items = [i for v in values for i in _split(v, sep)]
                value = items if is_array else _pairs_to_object(items, False, str)
                if value is None:
                    verdict.add("query parameter not in its style", f"{param.name}={values[0]!r}")
                    continue
                encoded = _raw_values(request.query, param.name)
                if sep in "".join(values) and not any(sep in e for e in encoded) and sep != " ":
                    verdict.add("delimiter percent-encoded", f"{param.name}: {encoded[0][:60]!r}", fatal=False)
            else:
                if len(values) > 1:
                    verdict.add("query parameter repeated", f"{param.name} sent {len(values)} times")
                value = values[0]
            self._value(verdict, param, value)
        rest = [(k, v) for i, (k, v) in enumerate(pairs) if i not in claimed]
        if spread is not None:
            if rest:
                self._value(verdict, spread, dict(rest))
            elif spread.required:
                verdict.add("missing required parameter", f"query {spread.name}")
        elif rest:
            verdict.add("undeclared query parameter", ", ".join(sorted({k for k, _ in rest}))[:200])

    def _query_template(self, op: OperationSpec, pairs: list[tuple[str, str]], claimed: set[int],
                        verdict: Verdict) -> None:
        """`?a=1&b={x}` written into the path key: literal pairs must be sent, `{x}` binds a variable."""
        params = {p.name: p for p in op.params if p.location == "path"}
        for piece in op.query_part.split("&"):
            key, _, value = piece.partition("=")
            if not key:
                continue
            if _VAR.search(key):
                verdict.add("query template not checkable", f"{op.path}: variable parameter names", fatal=False)
                claimed |= set(range(len(pairs)))
                return
            found = [i for i, (k, _) in enumerate(pairs) if k == key]
            claimed |= set(found)
            var = _VAR.fullmatch(value)
            if not found:
                verdict.add("missing required parameter", f"query {key} (written in the path key {op.path})")
            elif var and var.group(1) in params:
                self._value(verdict, params[var.group(1)], pairs[found[0]][1])
            elif not _VAR.search(value) and pairs[found[0]][1] != value:
                verdict.add("query parameter invalid", f"{key}={pairs[found[0]][1]!r}, path key says {value!r}")

    def _headers(self, op: OperationSpec, request: RawRequest, verdict: Verdict) -> None:
        for param in (p for p in op.params if p.location == "header"):
            raw = request.header(param.name)
            if raw is None:
                if param.required:
                    verdict.add("missing required parameter", f"header {param.name}")
                continue
            kinds = self.model.types(param.schema)
            value: Any = raw
            if param.content_json:
                try:
                    value = json.loads(raw)
                except ValueError:
                    verdict.add("header parameter invalid", f"{param.name}: content application/json value is not JSON")
                    continue
            elif kinds and kinds <= {"array", "null"}:
                value = [v.strip() for v in _split(raw, ",")]
            elif kinds and kinds <= {"object", "null"}:
                value = _pairs_to_object([v.strip() for v in _split(raw, ",")], param.explode, str)
                if value is None:
                    verdict.add("header parameter not in its style", f"{param.name}={raw!r}")
                    continue
            self._value(verdict, param, value)

    def _cookies(self, op: OperationSpec, request: RawRequest, verdict: Verdict) -> None:
        pairs = [(k, unquote(v)) for k, v in parse_cookies(request.header("cookie"))]
        declared = {p.name for p in op.params if p.location == "cookie"}
        for param in (p for p in op.params if p.location == "cookie"):
            values = [v for k, v in pairs if k == param.name]
            if not values:
                if param.required:
                    verdict.add("missing required parameter", f"cookie {param.name}")
                continue
            kinds = self.model.types(param.schema)
            value: Any = values[0]
            if param.content_json:
                try:
                    value = json.loads(values[0])
                except ValueError:
                    verdict.add("cookie parameter invalid", f"{param.name}: content application/json value is not JSON")
                    continue
            elif kinds and kinds <= {"array", "null"}:
                value = values if param.explode else _split(values[0], ",")
            elif len(values) > 1:
                verdict.add("cookie repeated", f"{param.name} sent {len(values)} times")
            self._value(verdict, param, value)
        extra = sorted({k for k, _ in pairs} - declared)
        if extra:
            verdict.add("undeclared cookie", ", ".join(extra)[:200])

    # bodies -------------------------------------------------------------------------------------------
    def _body(self, op: OperationSpec, request: RawRequest, verdict: Verdict) -> None:
        body = request.body
        content_type = request.header("content-type")
        if op.body is None or not op.body.media:
            if body:
                verdict.add("body sent to an operation without one", f"{len(body)} bytes, {content_type}")
            return
        if not body:
            if op.body.required:
                verdict.add("required body missing", f"{op.method} {op.path}")
            return
        if not content_type:
            verdict.add("body without Content-Type", f"{len(body)} bytes")
            return
        media = next((m for m in op.body.media if media_matches(content_type, m.media)), None)
        if media is None:
            verdict.add("content type not accepted",
                        f"sent {content_type!r}, document accepts {[m.media for m in op.body.media]}")
            return
        base = content_type.split(";")[0].strip().lower()
        if _is_json(base) or (_is_json(media.media) and base != "application/x-www-form-urlencoded"):
            self._json_body(media, body, verdict)
        elif base == "application/x-www-form-urlencoded":
            self._form_body(media, body, verdict)
        elif base.startswith("multipart/"):
            self._multipart_body(media, content_type, body, verdict)
        elif base.startswith("text/") and self.model.types(media.schema) in ({"string"}, None):
            verdict.body_kind = "text"
            try:
                verdict.body = body.decode("utf-8")
            except UnicodeDecodeError:
                verdict.add("text body is not UTF-8", f"{len(body)} bytes")
                return
            if media.schema is not None:
                self._validate_body(media.schema, verdict.body, verdict)
        else:
            verdict.body_kind = "raw"
            verdict.body = body
            verdict.add("body not parsed", f"{base}: content type checked only", fatal=False)

    def _validate_body(self, schema: Any, value: Any, verdict: Verdict) -> None:
        try:
            problem = self.model.validate(schema, value)
        except SchemaTrouble as exc:
            verdict.add("schema not checkable", f"body: {exc}", fatal=False)
            return
        if problem:
            verdict.add(f"{verdict.body_kind} body invalid", problem)

    def _json_body(self, media: MediaSpec, body: bytes, verdict: Verdict) -> None:
        verdict.body_kind = "json"
        try:
            verdict.body = json.loads(body)
        except ValueError:
            verdict.add("body is not JSON", _short(body))
            return
        if media.schema is not None:
            self._validate_body(media.schema, verdict.body, verdict)

    def _field_style(self, media: MediaSpec, name: str) -> tuple[str, bool, str | None]:
        enc = media.encoding.get(name) or {}
        style = enc.get("style") if isinstance(enc.get("style"), str) else "form"
        explode = enc["explode"] if isinstance(enc.get("explode"), bool) else style == "form"
        content = enc.get("contentType") if isinstance(enc.get("contentType"), str) else None
        return style, explode, content

    def _declared(self, schema: Any) -> tuple[dict[str, Any], bool]:
        """Properties of an object body (allOf merged) and whether undeclared names are allowed."""
        props: dict[str, Any] = {}
        open_ = False
        stack, seen = [schema], 0
        while stack and seen < 64:
            seen += 1
            node = self.model.deref(stack.pop())
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("properties"), dict):
                for k, v in node["properties"].items():
                    props.setdefault(str(k), v)
            extra = node.get("additionalProperties")
            if extra is True or isinstance(extra, dict) or node.get("patternProperties"):
                open_ = True
            stack.extend((node.get("allOf") or []) + (node.get("anyOf") or []) + (node.get("oneOf") or []))
        return props, open_ or not props

    def _form_body(self, media: MediaSpec, body: bytes, verdict: Verdict) -> None:
        verdict.body_kind = "form"
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            verdict.add("form body is not URL-encoded ASCII", _short(body))
            return
        props, open_ = self._declared(media.schema)
        value: dict[str, Any] = {}
        claimed: set[int] = set()
        for name, schema in props.items():
            style, explode, content = self._field_style(media, name)
            kinds = self.model.types(schema)
            exact = [(i, v) for i, (k, v) in enumerate(pairs) if k == name]
            deep, used = parse_deep(pairs, name)
            if used:
                claimed |= {i for i, (k, _) in enumerate(pairs) if k in used}
                if style != "deepObject" and kinds and kinds <= {"array", "null"}:
                    verdict.add("form array in bracket notation",
                                f"{name}: sent {used[0]}=..., document says style={style}, explode={explode} "
                                f"({name}=a&{name}=b)")
                elif style != "deepObject":
                    verdict.add("form object in bracket notation", f"{name} (OpenAPI leaves nesting open)",
                                fatal=False)
                value[name] = deep
            if not exact:
                continue
            claimed |= {i for i, _ in exact}
            texts = [v for _, v in exact]
            if content and _is_json(content):
                try:
                    value[name] = json.loads(texts[0])
                except ValueError:
                    verdict.add("form field is not JSON", f"{name}={_short(texts[0])}")
                continue
            if kinds and kinds <= {"array", "null"}:
                if explode and style in ("form", "spaceDelimited", "pipeDelimited", "tabDelimited"):
                    value[name] = texts
                else:
                    value[name] = [i for t in texts for i in _split(t, _DELIMITER.get(style, ","))]
            else:
                if len(texts) > 1:
                    verdict.add("form field repeated", f"{name} sent {len(texts)} times")
                value[name] = texts[0]
        rest = [(k, v) for i, (k, v) in enumerate(pairs) if i not in claimed]
        if rest and not open_:
            verdict.add("undeclared form field", ", ".join(sorted({k for k, _ in rest}))[:200])
        for k, v in rest:
            value.setdefault(k, v)
        verdict.body = self.model.coerce(value, media.schema)
        if media.schema is not None:
            self._validate_body(media.schema, verdict.body, verdict)

    def _multipart_body(self, media: MediaSpec, content_type: str, body: bytes, verdict: Verdict) -> None:
        verdict.body_kind = "multipart"
        boundary = re.search(r'boundary="?([^";]+)"?', content_type)
        if boundary and f"--{boundary.group(1)}\r\n".encode() not in body:
            verdict.add("multipart body has no parts", "RFC 2046 requires at least one body part")
            verdict.body = {}
            return
        message = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        if not message.is_multipart() or message.defects:
            verdict.add("multipart body does not parse", f"defects: {message.defects}")
            return
        parts: dict[str, list[tuple[bytes, str, str | None, bool]]] = {}
        for part in message.get_payload():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                verdict.add("multipart part without a name", str(part.get("content-disposition")))
                continue
            explicit = part.get("content-type") is not None
            payload = part.get_payload(decode=True) or b""
            parts.setdefault(name, []).append((payload, part.get_content_type(), part.get_filename(), explicit))
        props, open_ = self._declared(media.schema)
        value: dict[str, Any] = {}
        for name, items in parts.items():
            schema = props.get(name)
            if schema is None and not open_:
                verdict.add("undeclared multipart field", name)
            resolved = self.model.deref(schema) if schema is not None else {}
            kinds = self.model.types(schema) if schema is not None else None
            item_schema = self.model.deref(self.model.subschema(schema, None)) if kinds and "array" in kinds else None
            if _binary(resolved) or (isinstance(item_schema, dict) and _binary(item_schema)):
                value[name] = "<binary>" if not (kinds and "array" in kinds) else ["<binary>"] * len(items)
                continue
            _, _, declared_ct = self._field_style(media, name)
            texts: list[Any] = []
            for payload, ctype, _, explicit in items:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    verdict.add("multipart text part is not UTF-8", name)
                    text = ""
                if explicit and _is_json(ctype):
                    try:
                        texts.append(json.loads(text))
                    except ValueError:
                        verdict.add("multipart JSON part is not JSON", f"{name}={_short(text)}")
                else:
                    texts.append(text)
            json_ok = declared_ct is not None and _is_json(declared_ct)
            if kinds and kinds <= {"array", "null"}:
                if len(texts) == 1 and isinstance(texts[0], list) and not json_ok:
                    verdict.add("multipart array sent as one JSON part",
                                f"{name}: OpenAPI sends one part per item unless encoding.contentType says JSON")
                    value[name] = texts[0]
                else:
                    value[name] = texts
            else:
                if len(texts) > 1:
                    verdict.add("multipart field repeated", f"{name} sent {len(texts)} times")
                value[name] = texts[0] if texts else ""
        verdict.body = self.model.coerce(value, media.schema)
        if media.schema is not None:
            self._validate_body(media.schema, verdict.body, verdict)


def _binary(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    media = schema.get("contentMediaType")
    return schema.get("format") in ("binary", "byte") or (isinstance(media, str) and not media.startswith("text/"))


def _raw_values(query: str, name: str) -> list[str]:
    out = []
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        if unquote_plus(key) == name:
            out.append(value)
    return out or [""]


def _short(value: Any, limit: int = 120) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"
