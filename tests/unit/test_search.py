"""Search over compiled tools: API-aware tokens, a light stemmer, BM25F ranking, filters and a stable order."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_gateway.plan import CallPlan, CompiledTool
from mcp_gateway.search import Hit, ToolIndex, stem, tokenize


def tool(operation: str, title: str | None = None, *, name: str = "", description: str = "",
         arguments: dict[str, Any] | None = None) -> CompiledTool:
    """A tool as compilation makes it: the description is title, text and operation, in that order."""
    method, path = operation.split(" ")
    text = "\n\n".join(part for part in (title, description, operation) if part)
    schema = {"type": "object", "properties": arguments or {}, "additionalProperties": False}
    return CompiledTool(name or path.strip("/").replace("/", "_") or "root", title, text, schema, None, {},
                        CallPlan(method, path), operation)


GITHUBISH = [
    tool("GET /repos/{owner}/{repo}/stargazers", "List stargazers", name="activity_list-stargazers-for-repo"),
    tool("PUT /user/starred/{owner}/{repo}", "Star a repository for the authenticated user",
         name="activity_star-repo-for-authenticated-user"),
    tool("GET /user/starred", "List repositories starred by the authenticated user",
         name="activity_list-repos-starred-by-authenticated-user"),
    tool("POST /repos/{owner}/{repo}/issues", "Create an issue", name="issues_create",
         arguments={"owner": {}, "repo": {}, "title": {}, "body": {}}),
    tool("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", "Create an issue comment",
         name="issues_create-comment", arguments={"owner": {}, "repo": {}, "issue_number": {}, "body": {}}),
    tool("PATCH /repos/{owner}/{repo}/issues/{issue_number}", "Update an issue", name="issues_update",
         arguments={"owner": {}, "repo": {}, "issue_number": {}, "state": {"enum": ["open", "closed"]}}),
    tool("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "Remove a label from an issue",
         name="issues_remove-label"),
]


@pytest.mark.parametrize(("text", "terms"), [
    ("/repos/{owner}/{repo}/pulls", ["repository", "owner", "repository", "pull"]),
    ("getUserById", ["get", "user", "id"]),
    ("list-stargazers_for_repo", ["list", "stargazer", "repository"]),
    ("HTTPServer PRs", ["http", "server", "pull"]),
    ("See [the docs](https://docs.example.com/a/b) for the API.", ["see", "doc", "api"]),
    ("Remove a NEW label", ["delet", "creat", "label"]),  # synonyms fold: remove -> delete, new -> create
    ("the a of", []),
    ("", []),
])
def test_tokenize_splits_api_words_and_drops_noise(text, terms):
    assert tokenize(text) == terms


@pytest.mark.parametrize(("words", "common"), [
    (["star", "stars", "starring", "starred"], "star"),
    (["repository", "repositories"], "repository"),
    (["branch", "branches"], "branch"),
    (["create", "creates", "created", "creating"], "creat"),
    (["commit", "commits", "committed"], "commit"),
    (["install", "installed", "installing"], "install"),
    (["add", "added", "adding"], "add"),
    (["copy", "copied", "copies"], "copy"),
    (["id", "ids"], "id"),
    (["status"], "status"),
    (["access"], "access"),
    (["analysis"], "analysis"),
])
def test_stem_folds_plurals_and_verb_endings(words, common):
    assert {stem(word) for word in words} == {common}


def top(index: ToolIndex, query: str, **filters: Any) -> str:
    """The operation of the best hit."""
    return index.search(query, **filters)[0].operation


def test_the_tool_that_says_what_the_query_says_comes_first():
    index = ToolIndex(GITHUBISH)
    assert top(index, "create an issue") == "POST /repos/{owner}/{repo}/issues"
    assert top(index, "comment on an issue") == "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
    assert top(index, "star a repo") == "PUT /user/starred/{owner}/{repo}"
    assert top(index, "list my starred repositories") == "GET /user/starred"
    assert top(index, "delete a label") == "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"


def test_an_argument_value_is_searchable():
    assert top(ToolIndex(GITHUBISH), "close an issue") == "PATCH /repos/{owner}/{repo}/issues/{issue_number}"


def test_the_verb_of_the_query_prefers_its_method():
    pets = [tool("GET /pets/{id}", "One pet", name="pet_one"), tool("PATCH /pets/{id}", "One pet", name="pet_two"),
            tool("DELETE /pets/{id}", "One pet", name="pet_three")]
    index = ToolIndex(pets)
    assert top(index, "show a pet") == "GET /pets/{id}"
    assert top(index, "edit a pet") == "PATCH /pets/{id}"
    assert top(index, "remove a pet") == "DELETE /pets/{id}"


def test_a_hit_names_the_tool_and_summarises_it_in_one_line():
    tools = [tool("GET /pets", "List pets\nall of them", name="listPets"),
             tool("POST /pets", name="createPet", description="Adds a pet.\nMore text.")]
    hits = ToolIndex(tools).search("pets")
    assert all(isinstance(hit, Hit) and hit.score > 0 for hit in hits)
    assert [(hit.name, hit.operation, hit.summary) for hit in hits] == [("listPets", "GET /pets", "List pets"),
                                                                       ("createPet", "POST /pets", "Adds a pet.")]


def test_methods_filter_keeps_only_those_methods():
    hits = ToolIndex(GITHUBISH).search("issue", limit=10, methods=["post", "PATCH"])
    assert {hit.operation.split(" ")[0] for hit in hits} == {"POST", "PATCH"}
    assert len(hits) == 3


def test_limit_bounds_the_hits():
    index = ToolIndex(GITHUBISH)
    assert len(index.search("issue", limit=2)) == 2
    assert index.search("issue", limit=0) == []


@pytest.mark.parametrize("query", ["", "   ", "the of a", "zebra"])
def test_a_query_with_nothing_to_match_finds_nothing(query):
    assert ToolIndex(GITHUBISH).search(query) == []


def test_equal_scores_keep_document_order():
    twins = [tool("GET /widgets", "List widgets", name=name) for name in ("a_widgets", "b_widgets")]
    first = ToolIndex(twins).search("widgets")
    assert [hit.name for hit in first] == ["a_widgets", "b_widgets"]
    assert first[0].score == first[1].score
    assert [hit.name for hit in ToolIndex(twins[::-1]).search("widgets")] == ["b_widgets", "a_widgets"]


def test_a_tool_without_title_description_or_arguments_is_indexed():
    index = ToolIndex([tool("GET /", name="root"), tool("GET /health", name="health_check")])
    assert top(index, "health") == "GET /health"
    assert ToolIndex([]).search("anything") == []
