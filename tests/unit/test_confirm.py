"""Which calls a profile's `confirm` asks about, the question put to the user, and what each answer does."""

from __future__ import annotations

import io
from typing import Any

import mcp_types as types
import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.confirm import (
    NO_ELICITATION,
    Answer,
    CannotAsk,
    Question,
    can_elicit,
    confirm_wanted,
    confirmed,
    question_for,
    terminal_confirmer,
)
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile

pytestmark = pytest.mark.anyio

OK = {"200": {"description": "ok"}}
POD = {"name": "pod_id", "in": "path", "required": True, "schema": {"type": "string"}}
DOCUMENT = {
    "openapi": "3.0.3", "info": {"title": "pods", "version": "1"},
    "paths": {
        "/pods/{pod_id}": {
            "get": {"operationId": "get_pod", "parameters": [POD], "responses": OK},
            "delete": {"operationId": "delete_pod", "summary": "Delete Pod", "responses": OK, "parameters": [
                POD,
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                {"name": "api_token", "in": "query", "schema": {"type": "string"}},
                {"name": "X-Reason", "in": "header", "schema": {"type": "string"}}]},
            "put": {"operationId": "replace_pod", "parameters": [POD], "responses": OK, "requestBody": {
                "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "template": {"type": "string"}, "gpus": {"type": "integer"}, "note": {"type": "string"},
                    "labels": {"type": "array", "items": {"type": "string"}}, "size": {"type": "integer"}}}}}}},
        },
        "/pods": {"post": {"operationId": "rent_pod", "responses": OK}},
        "/volumes/{volume_id}": {"delete": {"operationId": "delete_volume", "responses": OK, "parameters": [
            {"name": "volume_id", "in": "path", "required": True, "schema": {"type": "string"}}]}},
    },
}


def tools(**profile: Any) -> tuple[Profile, dict[str, CompiledTool]]:
    chosen = Profile(spec="x", **profile)
    return chosen, {tool.name: tool for tool in compile_document(DOCUMENT, chosen).tools}


def asked(**profile: Any) -> set[str]:
    chosen, compiled = tools(**profile)
    return {name for name, tool in compiled.items() if confirm_wanted(chosen, tool)}


def test_confirm_names_tools_by_glob_by_method_and_path_or_as_destructive() -> None:
    assert asked() == set()
    assert asked(confirm=["delete_*"]) == {"delete_pod", "delete_volume"}
    assert asked(confirm=["POST /pods", "PUT /pods/*"]) == {"rent_pod", "replace_pod"}
    # MCP's annotations: DELETE and PUT are destructive unless said otherwise, GET and POST are not
    assert asked(confirm=["destructive"]) == {"delete_pod", "delete_volume", "replace_pod"}
    assert asked(confirm=["destructive"], overrides={
        "replace_pod": {"annotations": {"destructiveHint": False}},
        "rent_pod": {"annotations": {"destructiveHint": True}}}) == {"delete_pod", "delete_volume", "rent_pod"}


def test_the_question_names_the_operation_and_its_decisive_arguments_and_no_secret() -> None:
    _, compiled = tools()
    question = question_for(compiled["delete_pod"], {"pod_id": "gpu-1", "force": True, "api_token": "tok-1",
                                                     "X-Reason": "sk-live-9"}, lambda text: text)
    assert question.message == ("Delete Pod: delete_pod (DELETE /pods/{pod_id}) with pod_id `gpu-1`, force `true`. "
                                "It may not be undone. Send this request?")
    masked = question_for(compiled["delete_volume"], {"volume_id": "v-secret"},
                          lambda text: text.replace("secret", "***"))
    assert masked.message == "delete_volume (DELETE /volumes/{volume_id}) with volume_id `v-***`. It may not be " \
                             "undone. Send this request?"


def test_the_question_shows_a_few_short_scalars_and_shortens_long_values() -> None:
    _, compiled = tools()
    arguments = {"pod_id": "p" * 100, "labels": ["a"], "template": "t1", "gpus": 2, "note": "n", "size": 9}
    message = question_for(compiled["replace_pod"], arguments, lambda text: text).message
    assert f"pod_id `{'p' * 59}…`" in message
    assert "template `t1`, gpus `2`, note `n`." in message and "labels" not in message and "size" not in message


def test_each_call_has_a_key_of_its_own() -> None:
    _, compiled = tools()
    delete = compiled["delete_pod"]
    same = question_for(delete, {"pod_id": "a", "force": True}, str).key
    assert same == question_for(delete, {"force": True, "pod_id": "a"}, str).key
    assert same != question_for(delete, {"pod_id": "b", "force": True}, str).key
    assert same != question_for(compiled["delete_volume"], {"volume_id": "a"}, str).key


async def answer(reply: Answer | Exception | None) -> types.CallToolResult | None:
    chosen, compiled = tools(name="pods", confirm=["destructive"])
    seen: list[Question] = []

    async def confirm(question: Question) -> Answer:
        seen.append(question)
        if isinstance(reply, Exception):
            raise reply
        assert reply is not None
        return reply

    result = await confirmed(compiled["delete_pod"], chosen, {"pod_id": "gpu-1"}, None if reply is None else confirm,
                             str)
    assert len(seen) == (0 if reply is None else 1)
    return result


def text(result: types.CallToolResult | None) -> str:
    assert result is not None and result.is_error
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_accept_goes_on_and_every_other_answer_stops_the_call() -> None:
    assert await answer("accept") is None
    assert "declined the confirmation of delete_pod (DELETE /pods/{pod_id}); nothing was sent. Do not call it " \
           "again unless the user asks" in text(await answer("decline"))
    assert "dismissed without answering" in text(await answer("cancel"))
    refused = text(await answer(None))
    assert NO_ELICITATION in refused and "nothing was sent" in refused
    assert "use a client that supports MCP elicitation, or remove the operation from `confirm`" in refused
    assert "the `confirm` setting of the pods profile" in refused
    assert "the client timed out" in text(await answer(CannotAsk("the client timed out")))


def test_form_elicitation_is_what_counts() -> None:
    caps = types.ClientCapabilities
    assert not can_elicit(None) and not can_elicit(caps())
    assert can_elicit(caps(elicitation=types.ElicitationCapability()))  # the bare `{}` of the first revisions
    assert can_elicit(caps(elicitation=types.ElicitationCapability(form=types.FormElicitationCapability())))
    assert not can_elicit(caps(elicitation=types.ElicitationCapability(url=types.UrlElicitationCapability())))


class Terminal(io.StringIO):
    """Typed answers, as a terminal would give them."""

    def isatty(self) -> bool:
        return True


async def test_the_terminal_asks_and_only_yes_accepts() -> None:
    prompts = io.StringIO()
    question = Question("Send DELETE /pods/a?", "confirm-1")
    assert await terminal_confirmer(Terminal("y\n"), prompts)(question) == "accept"
    assert await terminal_confirmer(Terminal("\n"), prompts)(question) == "decline"
    assert prompts.getvalue() == "Send DELETE /pods/a? [y/N] " * 2
    with pytest.raises(CannotAsk, match="not started at a terminal"):
        await terminal_confirmer(io.StringIO("y\n"), prompts)(question)
