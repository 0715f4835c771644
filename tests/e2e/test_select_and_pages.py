"""Answers the agent can trim (`_select`, a JMESPath expression) and bounded auto-pagination (profile
`overrides.<op>.paginate`), through the real server and the official client."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.common import FIXTURES, SPECS, needs_shared_specs
from tests.servers import serve_stdio, text_of, tool_named
from tests.upstream import PagingUpstream

pytestmark = pytest.mark.anyio

PAGES = str(FIXTURES / "pages_profile.yaml")
GITHUB = SPECS / "realworld" / "github.com_api.github.com.json"


@pytest.fixture
def paging() -> Iterator[PagingUpstream]:
    server = PagingUpstream().start()
    yield server
    server.stop()


def _json_and_note(result: Any) -> tuple[Any, str]:
    """The JSON answer (first text block) and the pages note (the second), of a successful result."""
    assert not result.is_error, text_of(result)
    texts = [block.text for block in result.content]
    return json.loads(texts[0]), "\n".join(texts[1:])


async def test_nested_selection_on_an_object_answer(paging: PagingUpstream, era: str) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url], mode=era) as served:
        tools = (await served.client.list_tools()).tools
        repo = tool_named(tools, "getRepo")
        assert repo.input_schema["properties"]["_select"]["type"] == "string"
        assert "_select" not in repo.input_schema.get("required", [])
        assert "_select" not in tool_named(tools, "readText").input_schema["properties"]  # not a JSON answer
        whole = await served.client.call_tool("getRepo", {})
        picked = await served.client.call_tool("getRepo", {"_select": "{login: owner.login, first: topics[0]}"})
    assert not picked.is_error, text_of(picked)
    assert json.loads(text_of(picked)) == {"login": "octo", "first": "mcp"}
    assert len(text_of(picked)) < len(text_of(whole)) / 10
    # the selection changed the answer's shape: it is in the text; structuredContent is the `{}` the shape accepts
    assert picked.structured_content == {}
    assert whole.structured_content is not None and whole.structured_content["owner"]["login"] == "octo"
    assert paging.last.raw_query == ""  # the selection never goes upstream


async def test_a_bad_expression_is_an_error_naming_the_argument_and_sends_nothing(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url]) as served:
        result = await served.client.call_tool("getRepo", {"_select": "owner.{login"})
        typed = await served.client.call_tool("getRepo", {"_select": "abs(owner)"})  # compiles; fails on the answer
    assert result.is_error
    assert "`_select`" in text_of(result) and "JMESPath" in text_of(result) and "Nothing was sent" in text_of(result)
    assert len(paging.requests) == 1  # only the second call reached the upstream
    assert typed.is_error and "`_select`" in text_of(typed) and "could not be applied" in text_of(typed)


async def test_a_real_parameter_of_the_reserved_name_does_not_collide(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url]) as served:
        search = tool_named((await served.client.list_tools()).tools, "search")
        # argument names never start with `_`: the document's `_select` query parameter is the argument `select`
        assert set(search.input_schema["properties"]) == {"select", "_select"}
        result = await served.client.call_tool("search", {"select": "fields,of,mine", "_select": "query"})
    assert not result.is_error, text_of(result)
    assert paging.last.query == [("_select", "fields,of,mine")]  # the real parameter went upstream
    assert "_select=fields" in json.loads(text_of(result))  # the selection picked `query` from the echoed answer


async def test_selection_through_call_operation_in_discovery_mode(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url, "--discovery", "on"]) as served:
        result = await served.client.call_tool(
            "call_operation", {"name": "getRepo", "arguments": {"_select": "owner.login"}})
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result)) == "octo"


async def test_link_pagination_stops_at_the_page_bound(paging: PagingUpstream, era: str) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url], mode=era) as served:
        bounded = await served.client.call_tool("listLinked", {})
        short = await served.client.call_tool("listLinked", {"last": 2, "_select": "[].id"})
    items, note = _json_and_note(bounded)
    assert [item["id"] for item in items] == list(range(9))  # max_pages 3, of 5
    assert "3 read" in note and "more remain" in note and "page=4&last=5" in note
    assert [dict(r.query).get("page") for r in paging.requests[:3]] == [None, "2", "3"]
    ids, note = _json_and_note(short)
    assert ids == list(range(6)) and "2 read" in note and "no more pages" in note  # merged, then selected


async def test_cursor_pagination_stops_at_the_byte_bound(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url]) as served:
        result = await served.client.call_tool("listCursored", {})
        later = await served.client.call_tool("listCursored", {"cursor": "c4"})
    answer, note = _json_and_note(result)
    page_bytes = len(json.dumps({"data": PagingUpstream._items(1), "meta": {"next": "c2"}}))
    read = -(-2048 // page_bytes)  # pages until the 2,048-byte budget is reached
    assert read < PagingUpstream.CURSOR_LAST
    assert [item["id"] for item in answer["data"]] == list(range(3 * read))
    assert answer["meta"] == {"next": "c2"}  # the first page's object, its item list merged
    assert f"{read} read" in note and f"more remain, next page: cursor=c{read + 1}" in note
    assert result.structured_content == answer  # still the declared shape
    assert [dict(r.query).get("cursor") for r in paging.requests[:read]] == [None, *(f"c{n}" for n in
                                                                                      range(2, read + 1))]
    answer, note = _json_and_note(later)
    assert [item["id"] for item in answer["data"]] == list(range(9, 15)) and "no more pages" in note


async def test_a_next_link_to_another_origin_is_not_followed(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url]) as served:
        result = await served.client.call_tool("listAway", {})
    items, note = _json_and_note(result)
    assert len(items) == 3 and len(paging.requests) == 1
    assert "leads away from" in note and "more remain" in note


async def test_every_page_is_read_within_the_calls_deadline(paging: PagingUpstream) -> None:
    async with serve_stdio([PAGES, "--base-url", paging.url]) as served:
        result = await served.client.call_tool("listSlow", {})
    items, note = _json_and_note(result)
    assert [item["id"] for item in items] == [0, 1, 2]  # the first page, answered when the call's 1.5 s ran out
    assert "stopped: page 2 failed" in note and "timed out" in note and "more remain, next page: page=2" in note


def _issues(document: dict[str, Any], count: int = 30) -> list[dict[str, Any]]:
    """`count` issues made from the example of GitHub's "list repository issues" answer."""
    example = document["components"]["examples"]["issue-items"]["value"][0]
    issues = []
    for number in range(1, count + 1):
        issue = copy.deepcopy(example)
        issue.update(number=number, id=1000 + number, title=f"Issue {number}: something is not working")
        issues.append(issue)
    return issues


@needs_shared_specs
async def test_github_issues_selection_gain(paging: PagingUpstream) -> None:
    document = json.loads(GITHUB.read_text(encoding="utf-8"))
    paging.issues = _issues(document)
    async with serve_stdio([str(GITHUB), "--base-url", paging.url, "--discovery", "off"]) as served:
        arguments = {"owner": "octo", "repo": "gateway"}
        whole = await served.client.call_tool("issues_list-for-repo", arguments)
        picked = await served.client.call_tool("issues_list-for-repo",
                                               {**arguments, "_select": "[].{number: number, title: title}"})
    assert not whole.is_error and not picked.is_error, text_of(whole) + text_of(picked)
    assert json.loads(text_of(picked))[29] == {"number": 30, "title": "Issue 30: something is not working"}
    whole_bytes, picked_bytes = len(text_of(whole).encode()), len(text_of(picked).encode())
    print(f"\n30 issues: {whole_bytes:,} bytes whole, {picked_bytes:,} bytes selected")
    assert picked_bytes * 50 < whole_bytes
