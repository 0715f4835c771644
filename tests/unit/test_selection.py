"""The `_select` argument: its name beside a tool's inputs, compiling the expression, applying it."""

from __future__ import annotations

import pytest

from mcp_gateway.selection import (
    MAX_EXPRESSION,
    SELECT_NAME,
    SelectionError,
    compile_selection,
    select_argument,
    selected,
    take_selection,
)

ISSUES = [{"number": 1, "title": "a", "user": {"login": "x"}, "body": "long"},
          {"number": 2, "title": "b", "user": {"login": "y"}, "body": "longer"}]


def test_the_reserved_name_is_left_out_rather_than_colliding():
    assert select_argument({"owner", "repo"}) == SELECT_NAME == "_select"
    assert select_argument({"owner", "_select"}) is None


def test_nested_fields_and_projections_are_selected():
    assert selected(compile_selection("_select", "[].{number: number, login: user.login}"), ISSUES) == [
        {"number": 1, "login": "x"}, {"number": 2, "login": "y"}]
    assert selected(compile_selection("_select", "[?number > `1`].title | [0]"), ISSUES) == "b"
    assert selected(compile_selection("_select", "missing.field"), {"a": 1}) is None


@pytest.mark.parametrize("expression", ["[].{", "foo[", "`unclosed", "a..b"])
def test_a_bad_expression_names_the_argument(expression):
    with pytest.raises(SelectionError) as caught:
        compile_selection("_select", expression)
    message = str(caught.value)
    assert message.startswith("argument `_select` is not a valid JMESPath expression (")
    assert "\n" not in message and "^" not in message  # the library's caret drawing is left out


@pytest.mark.parametrize("value", ["", "   ", 3, ["a"], "x" * (MAX_EXPRESSION + 1)])
def test_an_empty_long_or_non_text_expression_is_refused(value):
    with pytest.raises(SelectionError, match="argument `_select`"):
        compile_selection("_select", value)


def test_an_expression_that_fails_on_the_answer_names_the_argument():
    with pytest.raises(SelectionError, match="argument `_select` could not be applied to the answer"):
        selected(compile_selection("_select", "abs(@)"), {"a": 1})


def test_the_argument_is_taken_out_before_the_call_is_checked():
    rest, selection = take_selection("_select", {"owner": "o", "_select": "[].title"})
    assert rest == {"owner": "o"} and selection is not None and selection.expression == "[].title"
    assert take_selection("_select", {"owner": "o", "_select": None}) == ({"owner": "o"}, None)
    untouched = {"owner": "o", "_select": "x"}
    assert take_selection(None, untouched) == (untouched, None)  # a tool without selection: validation reports it
