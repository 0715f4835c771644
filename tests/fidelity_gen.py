"""Seeded arguments for a tool from its inputSchema (JSON Schema 2020-12 with local `$defs`).

A small generator rather than hypothesis-jsonschema: real documents carry schemas that strategy
canonicalisation chokes on (thousands of `$defs`, recursive refs, odd formats, ECMA regexes), and a
harness over thousands of operations needs every call bounded. Required arguments are always
filled, optional ones by chance; recursion stops at a fixed depth (only required properties, minimal
arrays below it). Every result is checked against the inputSchema and retried a few times, so an
argument set that reaches the gateway is always one its own schema accepts.

`tricky` strings carry the characters that break naive encoders: `/ ? # & = + , ; %`, spaces,
dot segments, non-ASCII text. Header values stay visible ASCII (a header cannot carry more without
an encoding the document would have to name), and items inside arrays or objects of URL/header
parameters avoid their style's delimiters (those are ambiguous by the style itself, not the proxy).
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from typing import Any

import rstr
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mcp_gateway.selection import SELECT_NAME
from tests.fidelity_check import FORMATS

_SAFE = string.ascii_letters + string.digits + "-._~"
_TRICKY_PATH = ["a/b", "..", ".", "50% off", "x y", "ünï-cödé", "a?b#c", "a,b;c=d", "C++", "~user", "%2F", "[0]",
                "日本語", "a&b=c", "e\u0301", "emoji😀", "@at:colon", "dollar$(x)"]
_TRICKY_QUERY = ["a&b=c", "x y", "1+1=2", "50%", "#frag", "ünï", "a,b", "[x]", "日本", "?q", "a|b", "a;b", "'\"",
                 "emoji😀", "tab\tchar", "line\nbreak"]
_TRICKY_HEADER = ["a,b", "x y", "k=v;q=0.5", "\"quoted\"", "50%", "a/b?c#d", "(paren)", "{json:1}", "'"]
_TRICKY_COOKIE = ["a;b", "x y", "a,b", "50%", "\"q\"", "k=v", "a\\b"]
_TRICKY_BODY = ["x y", "\"quoted\" \\ back", "line\nbreak\ttab", "ünï-cödé 日本語 😀", "<tag>&amp;", "a&b=c+d", "%41",
                "", "\u0000nul", "[1,2]", "{\"k\":1}"]
_MAX_DEPTH = 12
_SHALLOW = 4


class _Xeger(rstr.Rstr):
    """rstr with open repeats (`*`, `+`, `{n,}`) kept short, to stay inside the maxLength that comes with them."""

    exact: int | None = None  # when set, every open repeat runs this many times (to reach a minLength)

    def _handle_repeat(self, start_range: int, end_range: int, value: Any) -> str:
        if self.exact is not None and end_range > start_range:
            times = max(start_range, min(end_range, self.exact))
            return super()._handle_repeat(times, times, value)
        return super()._handle_repeat(start_range, max(start_range, min(end_range, start_range + 8)), value)


class Unsatisfiable(Exception):
    """The generator found no value for a schema (recursion that never ends, contradictions)."""


class ArgumentGenerator:
    """Arguments for one tool; `tricky=False` gives plain alphanumeric strings."""

    def __init__(self, schema: dict[str, Any], modes: dict[str, str], rng: random.Random, tricky: bool,
                 optional_rate: float) -> None:
        self.root = schema
        self.modes = modes
        self.rng = rng
        self.tricky = tricky
        self.optional_rate = optional_rate
        self.xeger = _Xeger(rng)

    # -- public -------------------------------------------------------------------------------------
    def arguments(self, attempts: int = 6) -> tuple[dict[str, Any] | None, str | None]:
        """A valid argument object, or None and the last reason it could not be made."""
        try:
            validator = Draft202012Validator(self.root, format_checker=FORMATS)
        except Exception as exc:  # noqa: BLE001 - an inputSchema jsonschema cannot even build
            return None, f"inputSchema unusable: {type(exc).__name__}: {exc}"
        reason = "no attempt"
        for attempt in range(attempts):
            try:
                value = self.top(attempt)
            except (Unsatisfiable, RecursionError) as exc:
                reason = f"unsatisfiable: {exc}"[:300]
                continue
            try:
                error = best_match(validator.iter_errors(value))
            except Exception as exc:  # noqa: BLE001 - bad regex or ref inside the inputSchema
                return None, f"inputSchema unusable: {type(exc).__name__}: {str(exc)[:200]}"
            if error is None:
                return value, None
            reason = f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:240]}"
        return None, reason

    def top(self, attempt: int) -> dict[str, Any]:
        props = self.root.get("properties") or {}
        required = set(self.root.get("required") or [])
        out: dict[str, Any] = {}
        for name, schema in props.items():
            if name == SELECT_NAME and name not in required:
                continue  # the answer's selection (mcp_gateway/selection.py) shapes no request
            # later attempts drop optional arguments: fewer chances to hit an unsatisfiable corner
            keep = name in required or (attempt < 3 and self.rng.random() < self.optional_rate)
            if keep:
                out[name] = self.value(schema, self.modes.get(name, "body"), 0)
        return out

    # -- schemas ------------------------------------------------------------------------------------
    def resolve(self, schema: Any) -> Any:
        for _ in range(32):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                return schema
            target = self.lookup(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = merge(target, rest) if _constraining(rest) else target
        raise Unsatisfiable("reference chain too long")

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise Unsatisfiable(f"non-local ref {ref}")
        node: Any = self.root
        for part in ref[2:].split("/") if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit():
                node = node[int(part)]
            else:
                raise Unsatisfiable(f"dangling ref {ref}")
        return node

    def value(self, schema: Any, mode: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise Unsatisfiable("schema recursion deeper than the generator goes")
        schema = self.resolve(schema)
        if schema is False:
            raise Unsatisfiable("false schema")
        if not isinstance(schema, dict):
            return self.string({}, mode)
        if "allOf" in schema:
            parts = [self.resolve(p) for p in schema["allOf"]]
            if any(p is False for p in parts):
                raise Unsatisfiable("false schema in allOf")
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                merged = merge(merged, part if isinstance(part, dict) else {})
            return self.value(merged, mode, depth + 1)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                branches = list(schema[key])
                self.rng.shuffle(branches)
                rest = {k: v for k, v in schema.items() if k != key}
                branch = self.resolve(branches[0])
                return self.value(merge(rest, branch if isinstance(branch, dict) else {}), mode, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            choices = [e for e in schema["enum"] if e is not None] or schema["enum"]
            return self.rng.choice(choices)
        kind = self.pick_type(schema)
        if kind == "null":
            return None
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "array":
            return self.array(schema, mode, depth)
        if kind == "object":
            return self.obj(schema, mode, depth)
        return self.string(schema, mode)

    def pick_type(self, schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        kinds = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
        if not kinds:
            if "properties" in schema or "additionalProperties" in schema or "required" in schema:
                return "object"
            if "items" in schema or "prefixItems" in schema:
                return "array"
            if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum")):
                return "number"
            return "string"
        non_null = [k for k in kinds if k != "null"]
        if not non_null:
            return "null"
        return self.rng.choice(non_null)

    # -- scalars ----------------------------------------------------------------------------------
    def integer(self, schema: dict[str, Any]) -> int:
        lo, hi = _bounds(schema, True)
        fmt = schema.get("format")
        if fmt == "int32":
            lo, hi = max(lo if lo is not None else -(2**31), -(2**31)), min(hi if hi is not None else 2**31 - 1,
                                                                               2**31 - 1)
        mult = schema.get("multipleOf")
        if isinstance(mult, int) and mult > 0:
            start = lo if lo is not None else 0
            first = -(-start // mult) * mult
            value = first + mult * self.rng.randint(0, 3)
            return value if hi is None or value <= hi else first
        candidates = [0, 1, 2, 7, 42, 100, -1, 123456]
        if lo is not None or hi is not None:
            low = lo if lo is not None else (hi - 100 if hi is not None else 0)
            high = hi if hi is not None else low + 100
            if low > high:
                raise Unsatisfiable(f"integer range {low}..{high} is empty")
            candidates = [low, high, self.rng.randint(low, min(high, low + 1000))]
        return self.rng.choice(candidates)

    def number(self, schema: dict[str, Any]) -> float | int:
        mult = schema.get("multipleOf")
        lo, hi = _bounds(schema, False)
        if isinstance(mult, int | float) and mult > 0:
            start = lo if lo is not None else 0
            k = int(-(-start // mult)) + self.rng.randint(0, 3)
            value = round(k * mult, 10)
            return int(value) if float(value).is_integer() else value
        low = lo if lo is not None else (hi - 100 if hi is not None else -50.0)
        high = hi if hi is not None else low + 100
        if low > high:
            raise Unsatisfiable("number range is empty")
        value = self.rng.choice([low, high, round(self.rng.uniform(low, high), 3), (low + high) / 2])
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            value = (low + high) / 2
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            value = (low + high) / 2
        return value

    def string(self, schema: dict[str, Any], mode: str) -> str:
        fmt = schema.get("format")
        lo = schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0
        hi = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        if mode == "path":
            lo = max(lo, 1)
        if isinstance(schema.get("pattern"), str):
            return self.patterned(schema["pattern"], lo, hi)
        formatted = self.formatted(fmt) if isinstance(fmt, str) else None
        if formatted is not None:
            return formatted
        pool = self.tricky_pool(mode)
        if pool and self.rng.random() < 0.6:
            pick = self.rng.choice(pool)
            if lo <= len(pick) and (hi is None or len(pick) <= hi):
                return pick
        upper = hi if hi is not None else max(lo, 1) + 10
        length = self.rng.randint(lo, max(lo, min(upper, lo + 16)))
        text = "".join(self.rng.choice(self.alphabet(mode)) for _ in range(length))
        if mode.startswith(("header", "cookie")) and text != text.strip():
            text = "x" + text[1:-1] + "x" if len(text) > 1 else "x"  # HTTP trims header values
        return text

    def tricky_pool(self, mode: str) -> list[str]:
        if not self.tricky:
            return []
        return {"path": _TRICKY_PATH, "query": _TRICKY_QUERY, "header": _TRICKY_HEADER, "cookie": _TRICKY_COOKIE,
                "body": _TRICKY_BODY}.get(mode, [])

    def alphabet(self, mode: str) -> str:
        if not self.tricky or mode.endswith("-item"):
            return string.ascii_letters + string.digits if mode.endswith("-item") else _SAFE
        if mode in ("header", "cookie"):
            return string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/?% "
        return _SAFE + " /?#&=+,;%é日😀"

    def patterned(self, pattern: str, lo: int, hi: int | None) -> str:
        try:
            compiled = re.compile(pattern)
        except (re.error, OverflowError, RecursionError):
            raise Unsatisfiable(f"pattern Python cannot compile: {pattern[:80]}") from None
        for attempt in range(25):
            self.xeger.exact = None if attempt < 10 else max(1, lo - (attempt - 10))
            try:
                text = self.xeger.xeger(pattern)
            except Exception:  # noqa: BLE001 - rstr does not know every construct
                break
            if compiled.search(text) and len(text) >= lo and (hi is None or len(text) <= hi):
                return text
        raise Unsatisfiable(f"no string for pattern {pattern[:80]!r} within length {lo}..{hi}")

    def formatted(self, fmt: str) -> str | None:
        rng = self.rng
        day = f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        values = {
            "date-time": f"{day}T{clock}Z",
            "date": day,
            "time": f"{clock}Z",
            "email": f"user{rng.randint(1, 99)}@example.com",
            "idn-email": f"user{rng.randint(1, 99)}@example.com",
            "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "uri": f"https://example.com/p/{rng.randint(1, 999)}?q=a%20b",
            "url": f"https://example.com/p/{rng.randint(1, 999)}",
            "uri-reference": f"/p/{rng.randint(1, 999)}",
            "iri": f"https://example.com/ü/{rng.randint(1, 9)}",
            "hostname": f"host{rng.randint(1, 99)}.example.com",
            "ipv4": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "ipv6": f"2001:db8::{rng.randint(1, 65535):x}",
            "byte": base64.b64encode(bytes(rng.getrandbits(8) for _ in range(6))).decode(),
            "binary": "file content ✓",
            "int32": str(rng.randint(-1000, 1000)),
            "int64": str(rng.randint(0, 10**12)),
            "uint64": str(rng.randint(0, 10**12)),
            "double": "2.5",
            "float": "0.5",
            "decimal": "12.25",
            "duration": "P1DT2H",
            "regex": "^a+$",
            "json-pointer": "/a/b",
        }
        return values.get(fmt)

    # -- containers -------------------------------------------------------------------------------
    def array(self, schema: dict[str, Any], mode: str, depth: int) -> list[Any]:
        lo = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        hi = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        top = lo if depth >= _SHALLOW else lo + (3 if depth == 0 else 2)
        count = self.rng.randint(lo, min(hi, top) if hi is not None else top)
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {})
        item_mode = mode if mode == "body" or mode.endswith("-item") else f"{mode}-item"
        out: list[Any] = []
        seen: set[str] = set()
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            for _ in range(8):
                value = self.value(sub, item_mode, depth + 1)
                key = json.dumps(value, sort_keys=True, default=str)
                if not schema.get("uniqueItems") or key not in seen:
                    break
            if schema.get("uniqueItems") and key in seen:
                if len(out) >= lo:
                    break
                raise Unsatisfiable("no unique array items")
            seen.add(key)
            out.append(value)
        return out

    def obj(self, schema: dict[str, Any], mode: str, depth: int) -> dict[str, Any]:
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        item_mode = mode if mode == "body" or mode.endswith("-item") else f"{mode}-item"
        out: dict[str, Any] = {}
        rate = 0.0 if depth >= _SHALLOW else (0.6 if depth == 0 else 0.35)
        for name, sub in props.items():
            if name in required or self.rng.random() < rate:
                out[name] = self.value(sub, item_mode, depth + 1)
        extra = schema.get("additionalProperties")
        for name in required:
            if name not in out:
                out[name] = self.value(extra if isinstance(extra, dict) else {}, item_mode, depth + 1)
        lo = schema.get("minProperties", 0) if isinstance(schema.get("minProperties"), int) else 0
        want = lo if props or depth >= _SHALLOW else max(lo, self.rng.randint(0, 2))
        for name, sub in props.items():
            if len(out) >= want:
                break
            out.setdefault(name, self.value(sub, item_mode, depth + 1))
        n = 0
        while len(out) < want and extra is not False and n < 10:
            n += 1
            key = "k" + "".join(self.rng.choice(string.ascii_lowercase) for _ in range(4))
            out.setdefault(key, self.value(extra if isinstance(extra, dict) else {"type": "string"}, item_mode,
                                           depth + 1))
        return out


def _constraining(rest: dict[str, Any]) -> bool:
    return any(k not in ("description", "title", "examples", "default", "deprecated") for k in rest)


def _bounds(schema: dict[str, Any], integral: bool) -> tuple[Any, Any]:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    step = 1 if integral else 0.001
    if isinstance(schema.get("exclusiveMinimum"), int | float) and not isinstance(schema["exclusiveMinimum"], bool):
        bound = schema["exclusiveMinimum"] + step
        lo = bound if lo is None else max(lo, bound)
    if isinstance(schema.get("exclusiveMaximum"), int | float) and not isinstance(schema["exclusiveMaximum"], bool):
        bound = schema["exclusiveMaximum"] - step
        hi = bound if hi is None else min(hi, bound)
    if integral:
        import math
        lo = math.ceil(lo) if isinstance(lo, int | float) else None
        hi = math.floor(hi) if isinstance(hi, int | float) else None
    return lo, hi


def merge(a: Any, b: Any) -> dict[str, Any]:
    """A shallow intersection of two schemas, good enough to generate from (the result is validated)."""
    if not isinstance(a, dict):
        return dict(b) if isinstance(b, dict) else {}
    if not isinstance(b, dict):
        return dict(a)
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "properties" and isinstance(value, dict) and isinstance(out[key], dict):
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(value, list) and isinstance(out[key], list):
            out[key] = list(dict.fromkeys(out[key] + value))
        elif key == "type":
            left = set(out[key]) if isinstance(out[key], list) else {out[key]}
            right = set(value) if isinstance(value, list) else {value}
            both = left & right or ({"integer"} if {"integer", "number"} <= left | right else left)
            out[key] = sorted(both) if len(both) > 1 else next(iter(both))
        elif key in ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum"):
            out[key] = max(out[key], value) if _num(out[key]) and _num(value) else out[key]
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum"):
            out[key] = min(out[key], value) if _num(out[key]) and _num(value) else out[key]
        elif key == "enum" and isinstance(value, list) and isinstance(out[key], list):
            common = [v for v in out[key] if v in value]
            out[key] = common or out[key]
        elif key in ("items", "additionalProperties") and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = {"allOf": [out[key], value]}
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list) and isinstance(out[key], list):
            if key == "allOf":
                out[key] = out[key] + value
            else:
                out["allOf"] = [*(out.get("allOf") or []), {key: value}]
    return out


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
