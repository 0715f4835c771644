"""Normalise a document to the OpenAPI 3.x shape: Swagger 2.0 is converted, 3.0 and 3.1 pass through.

Only the shape changes here (servers, requestBody, content, components); schema dialect details
(3.0 `nullable`, boolean `exclusiveMinimum`) are handled once, in the schema converter.
"""

from __future__ import annotations

from typing import Any

from mcp_gateway.errors import DocumentError
from mcp_gateway.openapi import METHODS, as_dict

_REF_PREFIXES = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "maximum", "minimum", "exclusiveMaximum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf",
)
_OAUTH_FLOWS = {"implicit": "implicit", "password": "password", "application": "clientCredentials",
                "accessCode": "authorizationCode"}
_COLLECTION_STYLES = {
    "csv": ("form", False),
    "multi": ("form", True),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "tsv": ("form", False),
}


def normalise(document: dict[str, Any], source: str) -> dict[str, Any]:
    """Return the document in OpenAPI 3.x shape, or raise DocumentError if it is neither OpenAPI nor Swagger."""
    openapi_3 = str(document.get("openapi", "")).startswith("3.")  # a YAML `openapi: 3.1` is a number
    if not openapi_3 and not str(document.get("swagger", "")).startswith("2"):
        raise DocumentError(
            source,
            "is not an OpenAPI 3.x or Swagger 2.0 document (no `openapi: 3.x` or `swagger: \"2.0\"` key at the top); "
            "give one of those",
        )
    if not isinstance(document.get("paths", {}), dict):
        raise DocumentError(source, "`paths` must be a mapping of paths to path items; fix the document there",
                            "/paths")
    return document if openapi_3 else _Swagger2(document).convert()


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _parameters(value: Any) -> list[dict[str, Any]]:
    """The usable entries of a `parameters` list: refs, and objects with a string name and location."""
    return [p for p in value if isinstance(p, dict) and (
        "$ref" in p or (isinstance(p.get("name"), str) and isinstance(p.get("in"), str)))] \
        if isinstance(value, list) else []


def _collection(param: dict[str, Any]) -> tuple[str, bool] | None:
    """OpenAPI 3 (style, explode) for an array parameter's Swagger `collectionFormat`."""
    fmt = param.get("collectionFormat")
    return _COLLECTION_STYLES.get(fmt) if isinstance(fmt, str) and param.get("type") == "array" else None


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for old, new in _REF_PREFIXES.items():
                    if value.startswith(old):
                        value = new + value[len(old):]
                        break
                out[key] = value
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _fix_schema(node: Any) -> Any:
    """Swagger-only schema words: `type: file` and `x-nullable`."""
    if isinstance(node, dict):
        out = {key: _fix_schema(value) for key, value in node.items()}
        if out.get("type") == "file":
            out["type"] = "string"
            out["format"] = "binary"
        if out.pop("x-nullable", False) is True:
            out["nullable"] = True
        return out
    if isinstance(node, list):
        return [_fix_schema(item) for item in node]
    return node


class _Swagger2:
    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = _fix_schema(_rewrite_refs(document))
        self.consumes = _strings(self.doc.get("consumes")) or ["application/json"]
        self.produces = _strings(self.doc.get("produces")) or ["application/json"]
        self.global_params = {name: p for name, p in as_dict(self.doc.get("parameters")).items()
                              if _parameters([p])}
        self.global_responses = as_dict(self.doc.get("responses"))

    def convert(self) -> dict[str, Any]:
        doc = self.doc
        out: dict[str, Any] = {"openapi": "3.0.3", "info": doc.get("info") or {"title": "API", "version": ""}}
        out["servers"] = [{"url": self.server_url()}]
        for key, kind in (("tags", list), ("security", list), ("externalDocs", dict)):
            if isinstance(doc.get(key), kind):
                out[key] = doc[key]
        components: dict[str, Any] = {}
        if isinstance(doc.get("definitions"), dict):
            components["schemas"] = doc["definitions"]
        params = {
            name: self.parameter(p)
            for name, p in self.global_params.items()
            if p.get("in") not in ("body", "formData")
        }
        if params:
            components["parameters"] = params
        if self.global_responses:
            components["responses"] = {
                name: self.response(r, self.produces) for name, r in self.global_responses.items()
            }
        schemes = self.security_schemes(as_dict(doc.get("securityDefinitions")))
        if schemes:
            components["securitySchemes"] = schemes
        out["components"] = components
        out["paths"] = {path: self.path_item(item) if isinstance(item, dict) and not str(path).startswith("x-")
                        else item for path, item in as_dict(doc.get("paths")).items()}  # compile names the bad ones
        for key, value in doc.items():
            if isinstance(key, str) and key.startswith("x-"):
                out[key] = value
        return out

    def server_url(self) -> str:
        doc = self.doc
        base_path = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
        host = doc.get("host")
        if not host or not isinstance(host, str):
            return base_path or "/"
        schemes = _strings(doc.get("schemes")) or ["https"]
        scheme = "https" if "https" in schemes else schemes[0]
        return f"{scheme}://{host}{base_path}"

    def security_schemes(self, definitions: dict[str, Any]) -> dict[str, Any]:
        schemes: dict[str, Any] = {}
        for name, d in definitions.items():
            if not isinstance(d, dict):
                continue
            kind = d.get("type")
            if kind == "basic":
                schemes[name] = {"type": "http", "scheme": "basic"}
            elif kind == "apiKey" and isinstance(d.get("name"), str):
                where = d.get("in") if d.get("in") in ("header", "query") else "header"
                schemes[name] = {"type": "apiKey", "in": where, "name": d["name"]}
            elif kind == "oauth2":
                flow_name = d.get("flow")
                flow = _OAUTH_FLOWS.get(flow_name, "implicit") if isinstance(flow_name, str) else "implicit"
                body = {k: d[k] for k in ("authorizationUrl", "tokenUrl") if isinstance(d.get(k), str)}
                body["scopes"] = as_dict(d.get("scopes"))
                schemes[name] = {"type": "oauth2", "flows": {flow: body}}
        return schemes

    def resolve_param(self, param: Any) -> Any:
        ref = param.get("$ref") if isinstance(param, dict) else None
        if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
            return self.global_params.get(ref.rsplit("/", 1)[-1], param)
        return param

    def parameter(self, p: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in p:
            return p
        out: dict[str, Any] = {
            k: p[k] for k in ("name", "in", "description", "required", "deprecated", "allowEmptyValue") if k in p}
        schema = {k: p[k] for k in _SCHEMA_KEYS if k in p}
        if isinstance(schema.get("items"), dict):
            schema["items"] = self.items(schema["items"])
        out["schema"] = schema
        collection = _collection(p)
        if collection is not None:
            style, explode = collection
            if p.get("in") in ("query", "cookie") or style != "form":
                out["style"] = style
            out["explode"] = explode
        for key, value in p.items():
            if isinstance(key, str) and key.startswith("x-"):
                out[key] = value
        return out

    def items(self, items: dict[str, Any]) -> dict[str, Any]:
        out = {k: items[k] for k in _SCHEMA_KEYS if k in items}
        if "$ref" in items:
            out["$ref"] = items["$ref"]
        if isinstance(out.get("items"), dict):
            out["items"] = self.items(out["items"])
        return out

    def response(self, r: Any, produces: list[str]) -> Any:
        if not isinstance(r, dict) or "$ref" in r:
            return r
        out: dict[str, Any] = {"description": r.get("description", "")}
        if "schema" in r:
            out["content"] = {media: {"schema": r["schema"]} for media in produces}
        if isinstance(r.get("headers"), dict):
            out["headers"] = {name: {"description": h.get("description", ""),
                                     "schema": {k: h[k] for k in _SCHEMA_KEYS if k in h}}
                              for name, h in r["headers"].items() if isinstance(h, dict)}
        return out

    def path_item(self, item: dict[str, Any]) -> dict[str, Any]:
        shared = _parameters([self.resolve_param(p) for p in _parameters(item.get("parameters"))])
        out: dict[str, Any] = {}
        if "$ref" in item:
            out["$ref"] = item["$ref"]
        for method in METHODS:
            if method in item:
                op = item[method]
                out[method] = self.operation(op, shared) if isinstance(op, dict) and "$ref" not in op else op
        return out

    def operation(self, op: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
        own = _parameters([self.resolve_param(p) for p in _parameters(op.get("parameters"))])
        own_keys = {(p.get("name"), p.get("in")) for p in own}
        params = [p for p in shared if (p.get("name"), p.get("in")) not in own_keys] + own
        consumes = _strings(op.get("consumes")) or self.consumes
        produces = _strings(op.get("produces")) or self.produces
        out = {k: v for k, v in op.items() if k not in ("parameters", "responses", "consumes", "produces", "schemes")}
        plain = [self.parameter(p) for p in params if p.get("in") not in ("body", "formData")]
        if plain:
            out["parameters"] = plain
        body = next((p for p in params if p.get("in") == "body"), None)
        form = [p for p in params if p.get("in") == "formData"]
        if body is not None:
            media = [m for m in consumes if "form" not in m] or ["application/json"]
            out["requestBody"] = {
                "required": bool(body.get("required")),
                "content": {m: {"schema": body.get("schema") or {}} for m in media},
            }
            if isinstance(body.get("description"), str):
                out["requestBody"]["description"] = body["description"]
        elif form:
            out["requestBody"] = self.form_body(form, consumes)
        out["responses"] = {str(code): self.response(r, produces) for code, r in as_dict(op.get("responses")).items()}
        return out

    def form_body(self, form: list[dict[str, Any]], consumes: list[str]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        encoding: dict[str, Any] = {}
        for p in form:
            field = {k: p[k] for k in _SCHEMA_KEYS if k in p}
            if p.get("description"):
                field["description"] = p["description"]
            properties[p["name"]] = field
            if p.get("required") is True:
                required.append(p["name"])
            collection = _collection(p)
            if collection is not None:
                encoding[p["name"]] = {"style": collection[0], "explode": collection[1]}
        has_file = any(s.get("format") == "binary" for s in properties.values())
        media = "multipart/form-data" if has_file or "multipart/form-data" in consumes else (
            "application/x-www-form-urlencoded")
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        content: dict[str, Any] = {"schema": schema}
        if encoding:
            content["encoding"] = encoding
        return {"required": bool(required), "content": {media: content}}
