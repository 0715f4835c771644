"""Bounded auto-pagination, opt-in per operation (`PagePlan`): follow `Link: rel="next"` (RFC 8288), a cursor field
or a page number up to a number of pages or a byte budget, merge the items of every page into the first page's
answer, and say how many pages were read and whether more remain.

A next page is asked for only on the base URL's origin (scheme, host and port), with the same credentials (the
upstream adds them to every request) and the same headers; a link elsewhere ends the reading, as does a page that
fails, is not JSON or has no item list, repeats the last cursor or link, or comes too late for the call's deadline.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import httpx

from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import Reply, RequestParts
from mcp_gateway.jsontext import parse_json
from mcp_gateway.media import essence, is_json
from mcp_gateway.plan import PagePlan

Fetch = Callable[[RequestParts, str], Awaitable[Reply]]

# one link-value of a Link header: <target> then `;`-separated parameters (RFC 8288 section 3)
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[!#$%&\'*+.^_`|~0-9A-Za-z-]+\s*(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)')
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')


def next_link(header: str) -> str | None:
    """The target of the first link whose `rel` includes `next` (relation types are case-insensitive and a `rel`
    may list several, space-separated), as written: possibly relative."""
    for match in _LINK.finditer(header):
        for name, value in _PARAM.findall(match.group(2)):
            if name.lower() == "rel" and "next" in value.strip('"').lower().split():
                return match.group(1).strip()
    return None


def at_path(data: Any, path: str | None) -> Any:
    """The value at dot-separated keys in nested objects (the whole value for no path); None when absent."""
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def with_items(page: Any, path: str | None, items: list[Any]) -> Any:
    """`page` with the list at `path` replaced by `items` (copied along the path only, the page itself untouched);
    `items` itself for no path."""
    if not path:
        return items
    key, _, rest = path.partition(".")
    return {**page, key: with_items(page[key], rest or None, items)}


def origin(url: httpx.URL) -> str:
    """`scheme://host[:port]` of a URL."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def link_request(parts: RequestParts, target: str, page_url: str, base_url: str, credential_names: Collection[str]
                 ) -> tuple[RequestParts, str] | None:
    """The request for a next-page link (resolved against the page's own URL) and the base URL to send it to
    (the origin), or None when the link leaves the base URL's origin. Query parameters that carry a credential
    are dropped from the link: the upstream adds the credential itself."""
    url = httpx.URL(page_url).join(target)
    base = httpx.URL(base_url)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return None
    query = [(name, value) for name, value in parse_qsl(url.query.decode("ascii"), keep_blank_values=True)
             if name not in credential_names]
    return replace(parts, path=url.raw_path.decode("ascii").split("?", 1)[0], query=query), origin(base)


def with_query(parts: RequestParts, param: str, cursor: Any) -> RequestParts:
    """The same request with `cursor` (a cursor or page number) in query parameter `param`, in place of any value
    it had."""
    value = cursor if isinstance(cursor, str) else str(cursor).lower() if isinstance(cursor, bool) else str(cursor)
    return replace(parts, query=[*((name, old) for name, old in parts.query if name != param), (param, value)])


def page_json(reply: Reply) -> Any:
    """A whole 2xx JSON page's value; ValueError when the page is not one."""
    if not 200 <= reply.status < 300:
        raise ValueError(f"the upstream answered HTTP {reply.status} {reply.reason}")
    if reply.streamed or reply.total_bytes > len(reply.body):
        raise ValueError("the page was larger than the size limit")
    media = essence(reply.headers.get("content-type", ""))
    if media and not is_json(media):
        raise ValueError(f"the page was {media}, not JSON")
    try:
        return parse_json(reply.body)
    except (ValueError, RecursionError):
        raise ValueError("the page was not valid JSON") from None


@dataclass
class Pages:
    """The merged answer of the pages read, how many were read and how many bytes they held, and whether more
    remain (with what asks for the next one, and why the reading stopped when it was not a bound)."""

    data: Any
    read: int
    bytes: int
    more: bool
    next_page: str = ""  # what asks for the next page, for the agent: `cursor=abc` or a link's query
    stopped: str = ""  # why the reading stopped early: a failed page, a foreign link...

    def note(self, plan: PagePlan, max_bytes: int) -> str:
        """One line for the agent: pages read, the bounds, and whether (and how) more can be had."""
        line = f"[pages: {self.read} read ({self.bytes:,} bytes; at most {plan.max_pages} pages, {max_bytes:,} bytes)"
        if self.stopped:
            line += f"; stopped: {self.stopped}"
        if self.more:
            line += "; more remain" + (f", next page: {self.next_page}" if self.next_page else "")
        else:
            line += "; no more pages"
        return line + "]"


class _Step:
    """Where the next page is, from one page: its request and base URL, what to tell the agent, or why none."""

    def __init__(self, request: tuple[RequestParts, str] | None, shown: str = "", refused: str = "") -> None:
        self.request, self.shown, self.refused = request, shown, refused


def _next_step(plan: PagePlan, parts: RequestParts, reply: Reply, data: Any, items: list[Any], base_url: str,
               credential_names: Collection[str]) -> _Step:
    """The next page after `reply`, whose answer is `data` with these `items` (None when it says there is none)."""
    if plan.cursor is not None and plan.cursor_param is not None:
        cursor = at_path(data, plan.cursor)
        if cursor is None or cursor == "" or cursor is False or isinstance(cursor, dict | list):
            return _Step(None)
        following = with_query(parts, plan.cursor_param, cursor)
        return _Step((following, base_url), f"{plan.cursor_param}={following.query[-1][1]}")
    if plan.page_param is not None:
        number = dict(parts.query).get(plan.page_param, "1")
        more = at_path(data, plan.more) is True if plan.more else bool(items)
        if not more or not number.isdigit():
            return _Step(None)
        return _Step((with_query(parts, plan.page_param, int(number) + 1), base_url),
                     f"{plan.page_param}={int(number) + 1}")
    target = next_link(reply.headers.get("link", ""))
    if target is None:
        return _Step(None)
    request = link_request(parts, target, reply.url, base_url, credential_names)
    if request is None:
        return _Step(None, refused=f"the next-page link leads away from {origin(httpx.URL(base_url))}")
    query = "&".join(f"{name}={value}" for name, value in request[0].query)
    return _Step(request, query or request[0].path)


async def read_pages(plan: PagePlan, parts: RequestParts, first: Reply, base_url: str, fetch: Fetch,
                     max_bytes: int, credential_names: Collection[str] = ()) -> Pages | None:
    """Read on from `first` (a 2xx reply to `parts`) while the bounds allow, merging the items; None when the
    first page is not JSON with an item list (it is then answered as it is)."""
    try:
        first_data = page_json(first)
    except ValueError:
        return None
    items = at_path(first_data, plan.items)
    if not isinstance(items, list):
        return None
    merged = list(items)
    pages = Pages(first_data, 1, len(first.body), False)
    step = _next_step(plan, parts, first, first_data, items, base_url, credential_names)
    seen = {step.shown}
    while step.request is not None:
        if pages.read >= plan.max_pages or pages.bytes >= max_bytes:
            pages.more, pages.next_page = True, step.shown
            break
        try:
            reply = await fetch(*step.request)
            data = page_json(reply)
        except (UpstreamError, ValueError) as exc:
            pages.more, pages.next_page, pages.stopped = True, step.shown, f"page {pages.read + 1} failed ({exc})"
            break
        page_items = at_path(data, plan.items)
        if not isinstance(page_items, list):
            pages.more, pages.next_page = True, step.shown
            pages.stopped = f"page {pages.read + 1} had no item list" + (f" at `{plan.items}`" if plan.items else "")
            break
        merged.extend(page_items)
        pages.read, pages.bytes = pages.read + 1, pages.bytes + len(reply.body)
        parts = step.request[0]
        step = _next_step(plan, parts, reply, data, page_items, base_url, credential_names)
        if step.request is not None and step.shown in seen:
            pages.stopped = f"page {pages.read} pointed back to a page already read"
            break
        seen.add(step.shown)
    if step.refused:
        pages.stopped, pages.more = step.refused, True
    pages.data = with_items(first_data, plan.items, merged)
    return pages
