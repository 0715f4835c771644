"""Argument checks before anything is sent: lossless scalar coercion, then the tool's inputSchema."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mcp_gateway.coerce import coerce_arguments, scalar_types
from mcp_gateway.plan import CompiledTool

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


def schema_problem(validator: Draft202012Validator, tool: str, arguments: dict[str, Any]) -> str | None:
    """None when the arguments fit the schema and JSON can carry them, else a message naming the argument."""
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
            checks = (Draft202012Validator(tool.input_schema), scalar_types(tool.input_schema))
            self._checks[tool.name] = checks
        return checks

    def check(self, tool: CompiledTool, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The arguments (scalars coerced to their declared types) and None when they fit the inputSchema,
        else a message naming the argument and what to do."""
        validator, scalars = self._for(tool)
        arguments = coerce_arguments(arguments, scalars)
        return arguments, schema_problem(validator, tool.name, arguments)
