"""Answers the agent can trim: a reserved optional argument holds a JMESPath expression that is applied to the
tool's JSON answer before the answer is returned (and before the size cap).

The argument is `_select`. It cannot collide with an input of the document: argument names never start with `_`
(compile/naming.py cleans them, so a parameter `_select` is the argument `select`); should a tool ever have an
input of that name, it gets no selection rather than a different one (`select_argument`). The expression is
compiled before anything is sent, so a bad one costs no upstream call.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

SELECT_NAME = "_select"
MAX_EXPRESSION = 1000  # characters: a selection is a short expression
# a selected answer is read up to this many times max_response_bytes (1 MiB by default: 100 GitHub issues), selected,
# then held to max_response_bytes; kept small as an event stream's read limit grows with it (upstream.py)
SELECTION_READ_FACTOR = 4
# one short line: every JSON tool of a server carries it in tools/list (the length is checked when called)
SELECT_SCHEMA: dict[str, Any] = {"type": "string", "description": "JMESPath to trim the JSON answer, e.g. [].{id: id}"}


def select_argument(inputs: Collection[str]) -> str | None:
    """The name the selection argument takes beside these inputs: `_select`, or None when one of them has it."""
    return None if SELECT_NAME in inputs else SELECT_NAME


@dataclass(frozen=True)
class Selection:
    """A compiled JMESPath expression, and the argument it came in (for messages)."""

    argument: str
    expression: str
    parsed: ParsedResult

    def apply(self, data: Any) -> Any:
        """The part of `data` the expression selects (None when it selects nothing)."""
        return self.parsed.search(data)


class SelectionError(ValueError):
    """A selection that cannot be compiled or applied; the message names the argument and what to do."""


def compile_selection(argument: str, expression: Any) -> Selection:
    """The compiled selection, or SelectionError naming the argument."""
    if not isinstance(expression, str) or not expression.strip():
        raise SelectionError(f"argument `{argument}` must be a non-empty JMESPath expression, such as "
                             "`[].{id: id, name: name}` or `items[0].name`")
    if len(expression) > MAX_EXPRESSION:
        raise SelectionError(f"argument `{argument}` is longer than {MAX_EXPRESSION} characters; select less at once")
    try:
        parsed = jmespath.compile(expression)
    except JMESPathError as exc:
        raise SelectionError(f"argument `{argument}` is not a valid JMESPath expression ({_reason(exc)}); see "
                             "https://jmespath.org for the syntax, e.g. `[].{id: id, name: name}`") from None
    return Selection(argument, expression, parsed)


def take_selection(select_name: str | None, arguments: dict[str, Any]) -> tuple[dict[str, Any], Selection | None]:
    """The arguments without the selection argument, and the compiled selection when one was given (a null is
    none); SelectionError when the expression does not compile."""
    if select_name is None or select_name not in arguments:
        return arguments, None
    rest = {key: value for key, value in arguments.items() if key != select_name}
    expression = arguments[select_name]
    if expression is None:
        return rest, None
    return rest, compile_selection(select_name, expression)


def selected(selection: Selection, data: Any) -> Any:
    """`data` as the selection leaves it; SelectionError when the expression fails on it (a function given the
    wrong type, say)."""
    try:
        return selection.apply(data)
    except JMESPathError as exc:
        raise SelectionError(f"argument `{selection.argument}` could not be applied to the answer ({_reason(exc)}); "
                             "call again with an expression that fits the answer's shape, or without it") from None


def _reason(exc: JMESPathError) -> str:
    """The first line of the library's message, without its caret drawing."""
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
