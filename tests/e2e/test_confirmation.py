"""Confirmation before chosen calls, end to end: the official client's elicitation callback answers the question, and
the recording upstream shows that only an accepted call was sent; over stdio and streamable HTTP, in both eras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from tests.common import FIXTURES
from tests.servers import run_cli, serve_http, serve_stdio, text_of

pytestmark = pytest.mark.anyio

ECHO = FIXTURES / "echo.yaml"


class User:
    """An elicitation callback that gives the queued answers in turn and keeps each question it was shown."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    async def __call__(self, _: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.questions.append(params.message)
        action = self.answers.pop(0)
        return types.ElicitResult(action=action, content={} if action == "accept" else None)  # type: ignore[arg-type]


def profile(tmp_path: Path, upstream_url: str, extra: str = "") -> str:
    path = tmp_path / "confirming.yaml"
    path.write_text(f"spec: {ECHO}\nbase_url: {upstream_url}\nconfirm: [destructive]\n{extra}")
    return str(path)


@asynccontextmanager
async def connected(args: list[str], transport: str, era: str, user: User | None) -> AsyncIterator[Client]:
    """The official client, with `user` as its elicitation callback (None: a client without elicitation), on a
    server over stdio or over HTTP (with sessions for 2025-11-25, whose questions need a session's stream)."""
    options: dict[str, Any] = {"elicitation_callback": user} if user is not None else {}
    if transport == "stdio":
        async with serve_stdio(args, mode=era, **options) as served:
            yield served.client
    else:
        async with serve_http([*args, *(["--stateful"] if era == "legacy" else [])]) as url, \
                Client(url, mode=era, read_timeout_seconds=30, **options) as client:
            yield client


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_only_an_accepted_call_is_sent(tmp_path: Path, upstream, era: str, transport: str) -> None:
    user = User("accept", "decline", "cancel")
    async with connected([profile(tmp_path, upstream.url)], transport, era, user) as client:
        accepted = await client.call_tool("deleteItem", {"id": "gpu-1"})
        declined = await client.call_tool("deleteItem", {"id": "gpu-2"})
        cancelled = await client.call_tool("deleteItem", {"id": "gpu-3"})
        unasked = await client.call_tool("createItem", {"name": "n"})  # a POST: not destructive
    assert user.questions == [f"deleteItem (DELETE /items/{{id}}) with id `gpu-{n}`. It may not be undone. Send this "
                              "request?" for n in (1, 2, 3)]
    assert not accepted.is_error and accepted.structured_content["path"] == "/items/gpu-1"
    assert declined.is_error and "The user declined the confirmation of deleteItem (DELETE /items/{id}); nothing " \
                                 "was sent. Do not call it again unless the user asks for it." in text_of(declined)
    assert cancelled.is_error and "dismissed without answering" in text_of(cancelled)
    assert not unasked.is_error
    assert [(request.method, request.raw_path) for request in upstream.requests] == [
        ("DELETE", "/items/gpu-1"), ("POST", "/items")]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_client_without_elicitation_is_refused(tmp_path: Path, upstream, era: str, transport: str) -> None:
    async with connected([profile(tmp_path, upstream.url)], transport, era, None) as client:
        refused = await client.call_tool("putItem", {"id": "a", "body_id": "a", "name": "b"})
    assert refused.is_error
    assert "putItem (PUT /items/{id}) needs the user's confirmation before it is sent" in text_of(refused)
    assert "does not support elicitation" in text_of(refused) and "nothing was sent" in text_of(refused)
    assert "remove the operation from `confirm` in the profile" in text_of(refused)
    assert upstream.requests == []


async def test_stateless_http_cannot_ask_a_2025_client_and_says_what_to_do(tmp_path: Path, upstream) -> None:
    user = User("accept")
    async with serve_http([profile(tmp_path, upstream.url)]) as url, \
            Client(url, mode="legacy", elicitation_callback=user) as client:
        refused = await client.call_tool("deleteItem", {"id": "a"})
    assert refused.is_error and "start the server with --stateful" in text_of(refused)
    assert "2026-07-28" in text_of(refused) and user.questions == [] and upstream.requests == []


async def test_calls_through_discovery_are_asked_too(tmp_path: Path, upstream, era: str) -> None:
    user = User("decline", "accept")
    async with serve_stdio([profile(tmp_path, upstream.url, "discovery: 'on'\n")], mode=era,
                           elicitation_callback=user) as served:
        declined = await served.client.call_tool("call_operation", {"name": "deleteItem", "arguments": {"id": "x"}})
        accepted = await served.client.call_tool("call_operation", {"name": "deleteItem", "arguments": {"id": "y"}})
    assert declined.is_error and "nothing was sent" in text_of(declined) and not accepted.is_error
    assert [question.split(" with ")[1][:5] for question in user.questions] == ["id `x", "id `y"]
    assert [request.raw_path for request in upstream.requests] == ["/items/y"]


def test_the_cli_asks_at_a_terminal_and_refuses_when_piped(tmp_path: Path, upstream) -> None:
    done = run_cli("call", profile(tmp_path, upstream.url), "deleteItem", "--args", '{"id": "a"}')
    assert done.returncode == 1 and "not started at a terminal" in done.stdout and upstream.requests == []


async def test_a_client_that_fails_to_ask_sends_nothing(tmp_path: Path, upstream) -> None:
    async def broken(_: Any, __: types.ElicitRequestParams) -> types.ErrorData:
        return types.ErrorData(code=types.INTERNAL_ERROR, message="no window to ask in")

    async with serve_stdio([profile(tmp_path, upstream.url)], elicitation_callback=broken) as served:
        refused = await served.client.call_tool("deleteItem", {"id": "a"})
    assert refused.is_error and "the client could not ask the user (no window to ask in)" in text_of(refused)
    assert upstream.requests == []
