"""Argument checks before anything is sent: lossless scalar coercion, then the tool's inputSchema."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mcp_gateway.coerce import coerce_arguments, scalar_types
from mcp_gateway.plan import CompiledTool

if TYPE_CHECKING:  # jsonschema is loaded on the first call, not while a server starts (some 50 ms)
    from jsonschema import Draft202012Validator

_MESSAGE_LIMIT = 400


def unsendable(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(path, problem) for each value JSON and HTTP cannot carry: NaN and infinities, which JSON has no
    spelling for, and lone surrogates, which no UTF-8 text can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        yield where, f"{value} is not a number JSON can write"
    elif isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            yield where, "the text holds a lone surrogate (an unpaired \\ud800-\\udfff), which UTF-8 cannot encode"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from unsendable(key, where)
            yield from unsendable(item, f"{where}/{key}".lstrip("/"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unsendable(item, f"{where}/{index}".lstrip("/"))


def validator_for(schema: dict[str, Any]) -> Draft202012Validator:
    """A Draft 2020-12 validator of `schema`."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


def schema_problem(validator: Draft202012Validator, tool: str, arguments: dict[str, Any]) -> str | None:
    """None when the arguments fit the schema and JSON can carry them, else a message naming the argument."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        message = error.message if len(error.message) <= _MESSAGE_LIMIT else error.message[:_MESSAGE_LIMIT] + "…"
    else:
        where, message = next(unsendable(arguments), ("", ""))
        if not message:
            return None
    subject = f"argument `{where}`" if where else "the arguments"
    return (f"Invalid arguments for {tool}: {subject}: {message}. Nothing was sent upstream; "
            f"fix the arguments to match the tool's inputSchema and call again.")


def strict_reading(value: Any, schema: Any, root: dict[str, Any] | None = None) -> Any:
    """Arguments written for an `openai-strict` inputSchema, as the portable `schema` means them: that form makes
    every property required, so a null for an optional property means it was left out (it is dropped); and it
    asks for an object with free keys as JSON text, which is read back into the object."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = (root.get("$defs") or {}).get(ref.removeprefix("#/$defs/"), {})
        if not isinstance(schema, dict):
            return value
    for part in schema.get("allOf", []):
        value = strict_reading(value, part, root)
    union = schema.get("anyOf") or schema.get("oneOf") or []
    branches = [branch for branch in union if isinstance(branch, dict) and _fits_kind(value, branch)]
    if branches:
        value = strict_reading(value, branches[0], root)
    if isinstance(value, str) and schema.get("type") == "object" and not schema.get("properties"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        required = schema.get("required", [])
        return {key: strict_reading(item, properties.get(key), root) for key, item in value.items()
                if not (item is None and key in properties and key not in required)}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [strict_reading(item, schema["items"], root) for item in value]
    return value


def _fits_kind(value: Any, schema: dict[str, Any]) -> bool:
    """Whether a union branch could describe `value` at all (its type, or no type said)."""
    kind = schema.get("type")
    if kind is None:
        return "$ref" in schema or not ({"enum", "const"} & schema.keys())
    if kind == "object":
        return isinstance(value, dict | str)
    expected = {"array": list, "string": str, "boolean": bool, "null": type(None)}.get(kind)
    return isinstance(value, expected) if expected else isinstance(value, int | float) and not isinstance(value, bool)


class ArgumentChecker:
    """One compiled Draft 2020-12 validator per tool, made on the tool's first call (microseconds per call after)."""

    def __init__(self) -> None:
        self._checks: dict[str, tuple[Draft202012Validator, dict[str, str]]] = {}

    def clear(self) -> None:
        """Forget every validator (after the tools were rebuilt)."""
        self._checks.clear()

    def _for(self, tool: CompiledTool) -> tuple[Draft202012Validator, dict[str, str]]:
        checks = self._checks.get(tool.name)
        if checks is None:
            schema = tool.argument_schema or tool.input_schema  # the portable schema, with every constraint
            checks = (validator_for(schema), scalar_types(schema))
            self._checks[tool.name] = checks
        return checks

    def check(self, tool: CompiledTool, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The arguments (scalars coerced to their declared types) and None when they fit the inputSchema,
        else a message naming the argument and what to do."""
        validator, scalars = self._for(tool)
        if tool.strict_arguments:
            arguments = strict_reading(arguments, tool.argument_schema or tool.input_schema)
        arguments = coerce_arguments(arguments, scalars)
        return arguments, schema_problem(validator, tool.name, arguments)
