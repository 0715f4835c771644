"""`mcp-gateway doctor TARGET`: one profile or document checked end to end, as `serve` would use it, with a
checklist of what passed and what to fix.

The checks, in order: the profile is valid; the document can be read (or its fallback stands in); the
environment variables it needs are set (names only, never values); the upstream answers; and the credentials
are accepted by one harmless request: a GET without path parameters or required arguments, a list or models
endpoint where there is one. Exit code 0 when nothing failed (warnings allowed), else 1.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TextIO

import anyio
import httpx

from mcp_gateway.build import TargetOptions, build_api, profile_for, refine_auth
from mcp_gateway.compile import Compilation, compile_document
from mcp_gateway.errors import DocumentError, GatewayError, UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.gateway import Api
from mcp_gateway.openapi import security_schemes
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile
from mcp_gateway.request import build_request
from mcp_gateway.response import error_message
from mcp_gateway.spec import read_document
from mcp_gateway.variables import variables_of

Status = Literal["ok", "warn", "fail", "skip"]
_LABELS: dict[Status, str] = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
_WHO = frozenset({"models", "me", "user", "account", "whoami"})  # answered for the key's owner: the key is needed
_HEALTH = frozenset({"health", "healthz", "livez", "readyz", "ping", "status", "version"})


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, and what to do when it did not go well."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    notes: tuple[str, ...] = ()


class _Kept(logging.Handler):
    """Keeps the warnings the gateway logs, so the checklist reports them where they belong."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _warnings_kept() -> Iterator[list[str]]:
    """The gateway's log lines withheld meanwhile (the checklist is the output), its warnings kept in a list."""
    logger = logging.getLogger("mcp_gateway")
    kept, propagate = _Kept(), logger.propagate
    logger.addHandler(kept)
    logger.propagate = False
    try:
        yield kept.messages
    finally:
        logger.removeHandler(kept)
        logger.propagate = propagate


def _skipped(names: list[str], why: str) -> list[Check]:
    """The checks an earlier failure leaves nothing to check for."""
    return [Check(name, "skip", f"not checked: {why}") for name in names]


def _read(profile: Profile, timeout: float, kept: list[str]) -> tuple[Check, dict[str, Any] | None]:
    """The document read as `serve` reads it: the live one, else the profile's fallback, with what happened."""
    start = len(kept)
    try:
        document = read_document(profile.spec, timeout)
    except DocumentError as exc:
        if not profile.spec_fallback:
            return Check("document", "fail", str(exc)), None
        try:
            document = read_document(profile.spec_fallback, timeout)
        except DocumentError as fallback_error:
            return Check("document", "fail", f"{exc}; the fallback failed too: {fallback_error}"), None
        return Check("document", "warn", f"{exc}; serve uses the fallback {profile.spec_fallback}",
                     "nothing, if the bundled copy will do; for the live document, fix what the message says"), document
    notes = tuple(kept[start:])  # e.g. the copy cached on disk stood in for a URL that failed
    return Check("document", "warn" if notes else "ok", f"{profile.spec} read", notes=notes), document


def _compiled(profile: Profile, document: dict[str, Any]) -> tuple[Check, Compilation | None]:
    """The document's tools under the profile: how many, and whether there is anything to serve."""
    try:
        compilation = compile_document(document, profile)
    except GatewayError as exc:
        return Check("tools", "fail", str(exc)), None
    counts = f"{compilation.operations} operations, {len(compilation.tools)} tools"
    if not compilation.tools:
        return Check("tools", "fail", f"{counts}: nothing to serve",
                     "loosen the profile's include/exclude/read_only filters"), None
    skipped = f" ({len(compilation.skipped)} operations skipped: `mcp-gateway check` says why)" \
        if compilation.skipped else ""
    return Check("tools", "ok", counts + skipped), compilation


def _variables(profile: Profile, api: Api) -> Check:
    """Every environment variable the target reads, by name: set, missing, or unusable; never a value."""
    credentials = api.upstream.credentials
    found = variables_of(profile)
    unset = {v.name for v in found if v.name in credentials.missing or not os.environ.get(v.name)}
    own = _callers_own(profile)
    unused = set(credentials.env_names()) if own else set()  # each caller's own key replaces the server's
    missing = [v for v in found if v.required and v.name in unset and v.name not in unused]
    unnamed = [name for name in credentials.missing  # auth names no variable
               if name not in {v.name for v in found} and name not in unused]
    fixes = [f"export {v.name}=<{'your key' if v.kind == 'key' else 'value'}>" for v in missing]
    fixes += ["name the variable that holds the key in the profile's auth (e.g. `env: MY_API_KEY`)" for _ in unnamed]
    fixes += [f"set {name} to the value alone, without a line break" for name in credentials.malformed]
    present = [v.name for v in found if v.name not in unset and v.name not in credentials.malformed]
    parts = [f"not set: {', '.join([v.name for v in missing] + unnamed)}" if missing or unnamed else "",
             f"holding a control character: {', '.join(credentials.malformed)}" if credentials.malformed else "",
             f"set: {', '.join(present)}" if present else ""]
    notes = tuple(f"{v.name} is not set, so its default is used" for v in found if not v.required and v.name in unset)
    notes += tuple(f"{name} is not used: each caller sends its own key in the {own} header (auth.user_key.required)"
                   for name in sorted(unused & unset))
    detail = "; ".join(part for part in parts if part) or "none needed"
    return Check("variables", "fail" if fixes else "ok", detail, "; ".join(fixes), notes)


def _probe_rank(tool: CompiledTool) -> tuple[int, int] | None:
    """How good a harmless probe this tool is (lower is better); None when it is not harmless or needs arguments.

    A models or account endpoint first, then a list (they need the key and change nothing), health-like ones
    last (they often answer without a key, so they say little about it)."""
    plan = tool.plan
    if plan.method != "GET" or "{" in plan.path or tool.input_schema.get("required"):
        return None
    segments = [segment for segment in plan.path.lower().split("/") if segment]
    last = segments[-1] if segments else ""
    if last in _WHO:
        kind = 0
    elif last in _HEALTH:
        kind = 3
    elif tool.name.lower().startswith("list") or last.endswith("s"):
        kind = 1
    else:
        kind = 2
    return kind, len(segments)


def choose_probe(tools: tuple[CompiledTool, ...] | list[CompiledTool]) -> CompiledTool | None:
    """The tool whose call best tells whether upstream and key work without changing anything, if any."""
    ranked = [(rank, index, tool) for index, tool in enumerate(tools) if (rank := _probe_rank(tool)) is not None]
    return min(ranked, key=lambda entry: (entry[0], entry[1]))[2] if ranked else None


def _upstream_message(api: Api, reply: Reply) -> str:
    """The upstream's own words in an answer (masked, shortened), or nothing."""
    raw = reply.body.decode("utf-8", errors="replace")
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        data = None
    message = api.upstream.redactor.text(error_message(data, raw))[:200]
    return f": {message}" if message else ""


def _callers_own(profile: Profile) -> str | None:
    """The header of each caller's own key when the profile requires one (the server's key is then never used)."""
    own = profile.auth.user_key
    return own.header if own is not None and own.required else None


def _judged(api: Api, probe: CompiledTool | None, reply: Reply, asked: str) -> Check:
    """The auth check from the answer to the probe."""
    credentials = api.upstream.credentials
    keys = " / ".join(credentials.env_names())
    if probe is None:
        return Check("auth", "skip", "no GET operation without path parameters or required arguments to try the "
                                     "credentials on", "try them with `mcp-gateway call TARGET TOOL --args '{...}'`")
    own = _callers_own(api.profile)
    if own:
        return Check("auth", "skip", f"each caller sends its own key in the {own} header (auth.user_key.required), "
                                     f"so the server has none to try; {asked} answered HTTP {reply.status} without one",
                     f"try a caller's key: call a tool on the running server with the {own} header set")
    if 200 <= reply.status < 400:
        used = f"with the key from {keys}" if keys else "without credentials (the profile sends none)"
        return Check("auth", "ok", f"{asked} answered HTTP {reply.status} {used}")
    refused = f"{asked} answered HTTP {reply.status}{_upstream_message(api, reply)}"
    if reply.status in (401, 403):
        if api.profile.auth.type == "none":
            return Check("auth", "fail", f"the upstream wants credentials: {refused}",
                         "add an `auth` section to the profile (or pass --bearer-env VAR or --api-key-env VAR)")
        if credentials.missing:
            return Check("auth", "fail", f"no key was sent: {refused}",
                         "; ".join(f"export {name}=<your key>" for name in credentials.missing))
        allowed = "a valid key" if reply.status == 401 else f"a key allowed to call {probe.operation}"
        return Check("auth", "fail", f"the key was refused: {refused}", f"set {keys} to {allowed}")
    return Check("auth", "warn", f"{refused}; the credentials could not be judged",
                 f"try a call of your own: `mcp-gateway call TARGET {probe.name} --args '{{...}}'`")


async def _tried(api: Api) -> list[Check]:
    """The upstream and auth checks: one request, the probe's (or a GET of the base URL when there is none)."""
    tools = [tool for tool in api.compilation.tools if tool.plan.base_url]
    if not tools:
        return [Check("upstream", "fail", "no base URL is known: the document names no absolute server",
                      "pass --base-url URL, or set base_url in the profile"), *_skipped(["auth"], "no upstream")]
    probe = choose_probe(tools)
    base_url = (probe or tools[0]).plan.base_url or ""
    parts = build_request(probe.plan, {}) if probe else RequestParts("GET", "/")
    asked = f"{probe.operation} ({probe.name})" if probe else "GET /"
    try:
        reply = await api.upstream.send(parts, base_url)
    except UpstreamError as exc:
        return [Check("upstream", "fail", str(exc),
                      "check the base URL (base_url or --base-url), that the upstream is running, and the network"),
                *_skipped(["auth"], "the upstream was not reached")]
    finally:
        await api.upstream.client.aclose()
    upstream = Check("upstream", "ok", f"{base_url} answered HTTP {reply.status} to {asked}")
    return [upstream, _judged(api, probe, reply, asked)]


def diagnose(target: str, options: TargetOptions) -> list[Check]:
    """Every check of `target`, in order; the ones a failure makes meaningless are marked skipped."""
    with _warnings_kept() as kept:
        try:
            profile, from_file = profile_for(target, options, single=True)
        except GatewayError as exc:
            return [Check("profile", "fail", str(exc)),
                    *_skipped(["document", "tools", "variables", "upstream", "auth"], "the profile is invalid")]
        checks = [Check("profile", "ok", f"`{profile.name}` is valid" if from_file else
                        "none: an OpenAPI document served with the command-line flags")]
        read, document = _read(profile, options.spec_timeout, kept)
        checks.append(read)
        if document is None:
            return [*checks, *_skipped(["tools", "variables", "upstream", "auth"], "no document")]
        if not from_file:
            profile = refine_auth(profile, options, security_schemes(document))
        compiled, compilation = _compiled(profile, document)
        checks.append(compiled)
        if compilation is None:
            return [*checks, *_skipped(["variables", "upstream", "auth"], "no tools")]

        async def rest() -> list[Check]:
            api = build_api(profile, compilation, httpx.AsyncClient(), strict=False)
            return [_variables(profile, api), *await _tried(api)]

        return [*checks, *anyio.run(rest)]


def render(target: str, checks: list[Check]) -> str:
    """The checklist: one line per check, its fix and notes below it, and a closing verdict."""
    width = max(len(check.name) for check in checks)
    lines = [f"mcp-gateway doctor {target}"]
    indent = " " * (2 + 4 + 2 + width + 2)  # under the detail
    for check in checks:
        lines.append(f"  {_LABELS[check.status]:<4}  {check.name:<{width}}  {check.detail}")
        lines.extend(f"{indent}note: {note}" for note in check.notes)
        if check.fix and check.status in ("fail", "warn", "skip"):
            lines.append(f"{indent}fix: {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    if failed:
        lines.append(f"{failed} {'problem' if failed == 1 else 'problems'} to fix (marked FAIL).")
    else:
        lines.append("All checks passed" + (f", with {warned} {'warning' if warned == 1 else 'warnings'}." if warned
                                            else f": `mcp-gateway serve {target}` is ready."))
    return "\n".join(lines)


def run_doctor(target: str, options: TargetOptions, out: TextIO) -> int:
    """Check `target`, print the checklist to `out`; 0 when nothing failed, else 1."""
    checks = diagnose(target, options)
    print(render(target, checks), file=out, flush=True)
    return 1 if any(check.status == "fail" for check in checks) else 0
