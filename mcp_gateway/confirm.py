"""Confirmation before chosen calls (a profile's `confirm`): the user is asked through MCP elicitation, and nothing is
sent upstream unless they accept.

The gateway sees a `Confirmer`, an async callable that puts a `Question` to the user and returns their answer; the
server builds one per request from the SDK's request context (`confirmer_for`). In 2025-11-25 the question is an
`elicitation/create` request sent during the call; in 2026-07-28 the call returns an `InputRequiredResult` holding
it, and the client calls again with the answer, which is found by a key naming the exact call (tool and arguments),
so an answer given for one call is never taken for another. `mcp-gateway call` asks on the terminal instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal, TextIO

import anyio
import mcp_types as types

from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile
from mcp_gateway.response import error_result

if TYPE_CHECKING:  # the SDK is loaded once the server runs, not when the gateway is imported (early.py)
    from mcp.server.context import ServerRequestContext

DESTRUCTIVE = "destructive"  # in `confirm`: every tool whose destructiveHint is true
Answer = Literal["accept", "decline", "cancel"]
_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}  # nothing to fill in: accepting is the answer
_MORE_ARGUMENTS = 3  # scalar arguments shown beside the path's
_VALUE_CHARS = 60
_SECRET_NAME = re.compile(r"pass|secret|token|key|auth|credential|cookie|session", re.IGNORECASE)
NO_ELICITATION = "this client does not support elicitation (it declared no form `elicitation` capability)"
NO_BACK_CHANNEL = ("this server runs stateless HTTP, where a 2025-11-25 client cannot be asked during a call (start "
                   "the server with --stateful, or connect with a client that speaks 2026-07-28)")


@dataclass(frozen=True)
class Question:
    """What the user is asked before one call: the message shown, and the key that names this exact call."""

    message: str
    key: str


Confirmer = Callable[[Question], Awaitable[Answer]]


class CannotAsk(Exception):
    """The user cannot be asked through this client or transport; the text says why."""


class AskFirst(Exception):
    """2026-07-28: the call ends with the question (`result`) and is made again with the user's answer."""

    def __init__(self, result: types.InputRequiredResult) -> None:
        super().__init__("the user's confirmation is asked for")
        self.result = result


def is_destructive(tool: CompiledTool) -> bool:
    """Whether a tool's annotations call it destructive (MCP's default where unsaid: not read-only, destructive)."""
    return not tool.annotations.get("readOnlyHint", False) and bool(tool.annotations.get("destructiveHint", True))


def confirm_wanted(profile: Profile, tool: CompiledTool) -> bool:
    """Whether the profile wants the user asked before this tool's calls (globs on name or `METHOD /path`, or
    `destructive`)."""
    return any((is_destructive(tool) if glob == DESTRUCTIVE else
                fnmatchcase(tool.name, glob) or fnmatchcase(tool.operation, glob)) for glob in profile.confirm)


def question_for(tool: CompiledTool, arguments: Mapping[str, Any], mask: Callable[[str], str]) -> Question:
    """The question for one call: what the operation is, its path arguments and a few short ones, masked by `mask`
    (no known secret is shown), e.g. "Delete Pod: lium_delete_pod (DELETE /pods/{pod_id}) with pod_id `gpu-1`. It
    may not be undone. Send this request?"."""
    shown = ", ".join(f"{name} `{value}`" for name, value in _decisive(tool, arguments))
    message = (f"{tool.title}: " if tool.title else "") + f"{tool.name} ({tool.operation})"
    message += (f" with {shown}." if shown else ".") + (" It may not be undone." if is_destructive(tool) else "")
    digest = hashlib.sha256(json.dumps([tool.name, arguments], sort_keys=True, default=str).encode()).hexdigest()
    return Question(mask(message + " Send this request?"), f"confirm-{digest[:32]}")


def _decisive(tool: CompiledTool, arguments: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every path argument, then up to a few short scalar query or body arguments whose names do not look secret."""
    path = [binding.argument for binding in tool.plan.params if binding.location == "path"]
    others = [binding.argument for binding in tool.plan.params if binding.location == "query"]
    if tool.plan.body is not None:
        others += [argument for argument, _ in tool.plan.body.fields]
    for name in path:
        if name in arguments:
            yield name, _short(arguments[name])
    extra = [name for name in others if name in arguments and not _SECRET_NAME.search(name)
             and isinstance(arguments[name], str | int | float | bool)]
    for name in extra[:_MORE_ARGUMENTS]:
        yield name, _short(arguments[name])


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS - 1] + "…"


async def confirmed(tool: CompiledTool, profile: Profile, arguments: Mapping[str, Any], confirm: Confirmer | None,
                    mask: Callable[[str], str]) -> types.CallToolResult | None:
    """Ask the user about one call: None when they accepted (send it), else the isError result that says nothing was
    sent and why. `confirm` None: the client cannot be asked. Raises AskFirst when the question goes back to the
    client (2026-07-28)."""
    what = f"{tool.name} ({tool.operation})"
    try:
        if confirm is None:
            raise CannotAsk(NO_ELICITATION)
        answer = await confirm(question_for(tool, arguments, mask))
    except CannotAsk as exc:
        return error_result(f"{what} needs the user's confirmation before it is sent (the `confirm` setting of the "
                            f"{profile.name} profile), and {exc}; nothing was sent. To allow the call, use a client "
                            f"that supports MCP elicitation, or remove the operation from `confirm` in the profile.")
    if answer == "accept":
        return None
    how = "declined" if answer == "decline" else "dismissed without answering"
    return error_result(f"The user {how} the confirmation of {what}; nothing was sent. Do not call it again "
                        "unless the user asks for it.")


def can_elicit(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether a client declared form elicitation (a bare `elicitation: {}`, the shape before modes, counts)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def confirmer_for(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Confirmer:
    """The confirmer of one tools/call: an `elicitation/create` request on the call's channel (2025-11-25), or the
    answer the client brought back, else the question returned in an InputRequiredResult (2026-07-28)."""
    from mcp.shared.exceptions import MCPError
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    session = ctx.session

    async def ask_now(question: Question) -> Answer:
        if not session.can_send_request:
            raise CannotAsk(NO_BACK_CHANNEL)
        if not can_elicit(session.client_capabilities):
            raise CannotAsk(NO_ELICITATION)
        try:
            result = await session.elicit_form(question.message, _SCHEMA, related_request_id=ctx.request_id)
        except MCPError as exc:
            raise CannotAsk(f"the client could not ask the user ({exc.message})") from None
        return result.action

    async def ask_by_result(question: Question) -> Answer:
        if not can_elicit(session.client_capabilities):
            raise CannotAsk(NO_ELICITATION)
        answer = (params.input_responses or {}).get(question.key)
        if isinstance(answer, types.ElicitResult):
            return answer.action
        request = types.ElicitRequest(params=types.ElicitRequestFormParams(message=question.message,
                                                                           requested_schema=_SCHEMA))
        raise AskFirst(types.InputRequiredResult(input_requests={question.key: request}))

    return ask_by_result if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else ask_now


def terminal_confirmer(answers: TextIO | None = None, prompts: TextIO | None = None) -> Confirmer:
    """The confirmer of `mcp-gateway call`: the question on the terminal (stderr), answered y or n on stdin; a call
    not started at a terminal cannot be asked."""

    async def ask(question: Question) -> Answer:
        source = answers or sys.stdin
        if not source.isatty():
            raise CannotAsk("`mcp-gateway call` was not started at a terminal, so no one can be asked")
        print(f"{question.message} [y/N] ", end="", file=prompts or sys.stderr, flush=True)
        reply = await anyio.to_thread.run_sync(source.readline)
        return "accept" if reply.strip().lower() in {"y", "yes"} else "decline"

    return ask
