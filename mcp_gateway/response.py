"""An upstream reply (or an assembled event stream) -> an MCP tool result written for an agent to read."""

from __future__ import annotations

import base64
from typing import Any

import mcp_types as types

from mcp_gateway.exchange import Reply
from mcp_gateway.jsontext import json_text, parse_json
from mcp_gateway.media import charset, essence, is_json, is_textual
from mcp_gateway.plan import CompiledTool
from mcp_gateway.redaction import Redactor
from mcp_gateway.selection import Selection, selected

_RATE_HEADERS = ("retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                 "x-ratelimit-reset-requests", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                 "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


def error_result(message: str) -> types.CallToolResult:
    """An `isError` result the agent can read and act on."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def _decode_text(reply: Reply) -> str:
    """The body as text in its declared charset, else UTF-8."""
    try:
        return reply.body.decode(charset(reply.headers.get("content-type", "")) or "utf-8", errors="replace")
    except LookupError:
        return reply.body.decode("utf-8", errors="replace")


def _cut(text: str, max_bytes: int) -> str:
    """At most `max_bytes` of UTF-8, never half a character."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def _size(reply: Reply, cut_at: int) -> str:
    """The whole answer's size as far as it is known: exact, else more than where it was cut."""
    return f"{reply.total_bytes:,}" if reply.size_known and reply.total_bytes > cut_at else f"more than {cut_at:,}"


def _truncated(whole: str, shown: str) -> str:
    """The note that ends a cut result: how big the whole was, what is shown of it, and what to do."""
    return f"\n\n[truncated: {whole} and {shown}; ask for less, e.g. with paging or filter arguments]"


def error_message(data: Any, raw: str) -> str:
    """The readable part of an error body: `{"error": {"message", "type", "code"}}` and its cousins."""
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail") or json_text(inner)[:500]
            extra = [f"{k}: {inner[k]}" for k in ("type", "code") if isinstance(inner.get(k), str | int)]
            return f"{message}" + (f" ({', '.join(extra)})" if extra else "")
        for key in ("message", "error", "detail", "title", "error_description", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value:  # FastAPI-style validation errors
                return json_text(value)[:1000]
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            return json_text(errors)[:1000]
    return raw.strip()[:1000]


def render_error(tool: CompiledTool, reply: Reply, auth_env: list[str]) -> types.CallToolResult:
    """A non-2xx reply: status, the upstream's own message, and what to do next."""
    raw = _decode_text(reply)
    try:
        data = parse_json(raw) if raw.strip() else None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes; shown as text
        data = None
    message = error_message(data, raw) or "(no message in the body)"
    lines = [f"{tool.name} failed: the upstream answered HTTP {reply.status} {reply.reason} to {tool.operation}.",
             f"Upstream message: {message}"]
    if reply.status == 401 and auth_env:
        lines.append(f"The credentials were rejected or missing: set a valid key in {' / '.join(auth_env)}.")
    elif reply.status == 403 and auth_env:
        lines.append(f"The key in {' / '.join(auth_env)} is not allowed to do this.")
    elif reply.status == 429 or reply.status == 503:
        limits = [f"{h}: {reply.headers[h]}" for h in _RATE_HEADERS if h in reply.headers]
        if limits:
            lines.append("Rate limit: " + "; ".join(limits))
        wait = reply.headers.get("retry-after", "").strip()
        if wait.isdigit():
            lines.append(f"Wait {wait}s before trying again.")
        else:  # RFC 9110: a number of seconds or an HTTP-date
            lines.append(f"Try again after {wait}." if wait else "Wait a little before trying again.")
    return error_result("\n".join(lines))


def render_success(tool: CompiledTool, reply: Reply, max_bytes: int, selection: Selection | None = None
                   ) -> types.CallToolResult:
    """A 2xx reply: JSON as text plus structuredContent (or, with a selection, what it selects), text as text,
    images and other bytes as such. The reply may have been read past `max_bytes` for a selection: a whole JSON
    answer is selected first and then held to `max_bytes`."""
    media = essence(reply.headers.get("content-type", ""))
    whole = reply.total_bytes <= len(reply.body)
    cut = not whole or len(reply.body) > max_bytes
    body = reply.body[:max_bytes]
    if not body:
        text = f"{tool.operation} succeeded with HTTP {reply.status} {reply.reason} and no content."
        return _with_structure(tool, types.TextContent(type="text", text=text))
    if media.startswith(("image/", "audio/")) and not cut:
        data = base64.b64encode(body).decode()
        if media.startswith("image/"):
            return _with_structure(tool, types.ImageContent(type="image", data=data, mime_type=media))
        return _with_structure(tool, types.AudioContent(type="audio", data=data, mime_type=media))
    if media and not is_textual(media):
        if cut:
            note = (f"{tool.operation} returned {_size(reply, max_bytes)} bytes of {media}, over the "
                    f"{max_bytes:,}-byte limit; it was not returned.")
            return _with_structure(tool, types.TextContent(type="text", text=note))
        resource = types.BlobResourceContents(uri=reply.url, mime_type=media or "application/octet-stream",
                                              blob=base64.b64encode(body).decode())
        return _with_structure(tool, types.EmbeddedResource(type="resource", resource=resource))
    raw = _decode_text(reply)  # the declared charset, else UTF-8
    parse = not cut or (whole and selection is not None)  # a selection may shrink an answer over the cap
    if parse and (is_json(media) or (not media and raw.lstrip().startswith(("{", "[")))):
        try:
            data = parse_json(raw)
        except (ValueError, RecursionError):
            pass
        else:
            return render_json(tool, data, max_bytes, selection)
    if cut:
        raw = _cut(raw, max_bytes) + _truncated(f"the response was {_size(reply, len(body))} bytes",
                                                f"only the first {len(body):,} are shown")
    if selection is not None:
        raw += _not_applied(selection, "JSON" if whole else "read whole")
    return _with_structure(tool, types.TextContent(type="text", text=raw))


def _not_applied(selection: Selection, why: str) -> str:
    """The note that ends an answer its selection could not be applied to."""
    return f"\n\n[`{selection.argument}` was not applied: the answer was not {why}]"


def render_json(tool: CompiledTool, data: Any, max_bytes: int, selection: Selection | None = None,
                note: str = "") -> types.CallToolResult:
    """A JSON answer (or what `selection` selects of it) as compact text held to `max_bytes`, then `note`.

    structuredContent is the answer when it fits the tool's outputSchema; a selection changes the answer's shape,
    so a selected answer is in the text only, with `{}` as structuredContent where an outputSchema is declared
    (SDK clients require one there, and the shape-only schema accepts it). SelectionError when the selection
    cannot be applied to the answer."""
    structured: dict[str, Any] | None
    if selection is not None:
        data = selected(selection, data)
        structured = {} if tool.output_schema else None
    else:
        structured = data if isinstance(data, dict) else {"result": data} if tool.output_schema else None
    compact = json_text(data)
    size = len(compact.encode())
    notes = [types.TextContent(type="text", text=note)] if note else []
    if size <= max_bytes:
        return types.CallToolResult(content=[types.TextContent(type="text", text=compact), *notes],
                                    structured_content=structured)
    whole = "the selected answer" if selection is not None else "the response"
    text = _cut(compact, max_bytes) + _truncated(f"{whole} was {size:,} bytes",
                                                 f"only the first {max_bytes:,} are shown")
    result = _with_structure(tool, types.TextContent(type="text", text=text))
    result.content.extend(notes)
    return result


def _with_structure(tool: CompiledTool, block: types.ContentBlock) -> types.CallToolResult:
    """One content block as a success; a declared outputSchema needs structuredContent on every success,
    and its shape-only schema accepts `{}`."""
    return types.CallToolResult(content=[block], structured_content={} if tool.output_schema else None)


def render_stream(tool: CompiledTool, reply: Reply, assembled: dict[str, Any], max_bytes: int,
                  selection: Selection | None = None) -> types.CallToolResult:
    """An event stream folded into one object (a chat completion, a message, or the events), held to `max_bytes`
    like any answer (after `selection`, when the stream was read whole); a stream that went on past the read limit is
    assembled from the events within it, with a note."""
    if selection is not None and reply.size_known:
        return render_json(tool, assembled, max_bytes, selection)
    text = json_text(assembled)
    size = len(text.encode())
    if not reply.size_known:
        read = reply.total_bytes - 1
        note = _truncated(f"the event stream went on past {read:,} bytes",
                          f"only the events in its first {read:,} are assembled here")
        if selection is not None:
            note += _not_applied(selection, "read whole")
    elif size > max_bytes:
        note = _truncated(f"the assembled result was {size:,} bytes", f"only the first {max_bytes:,} are shown")
    else:
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=assembled)
    return _with_structure(tool, types.TextContent(type="text", text=_cut(text, max_bytes) + note))


def redact_result(result: types.CallToolResult, redactor: Redactor) -> types.CallToolResult:
    """Mask every known secret in the text blocks, and in structuredContent when the text held one
    (the text is the same JSON, so a secret there means one, perhaps unescaped by parsing, in the structure)."""
    found = False
    for block in result.content:
        if isinstance(block, types.TextContent):
            masked = redactor.text(block.text)
            found = found or masked != block.text
            block.text = masked
    if found and result.structured_content is not None:
        result.structured_content = redactor.value(result.structured_content)
    return result
