"""Search finds the right operation among GitHub's 1,223 for everyday tasks an agent is given.

Each expected operation was chosen by reading GitHub's document, not the ranker's output.
"""

from __future__ import annotations

import time

import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.plan import CompiledTool
from mcp_gateway.profile import Profile
from mcp_gateway.search import ToolIndex
from mcp_gateway.spec import read_document
from tests.common import SPECS, needs_shared_specs

GITHUB = SPECS / "realworld" / "github.com_api.github.com.json"

pytestmark = [needs_shared_specs, pytest.mark.skipif(not GITHUB.is_file(), reason=f"{GITHUB} is not there")]

TASKS = [
    ("star a repository", "PUT /user/starred/{owner}/{repo}"),
    ("list the open pull requests of a repo", "GET /repos/{owner}/{repo}/pulls"),
    ("create an issue", "POST /repos/{owner}/{repo}/issues"),
    ("add a label to an issue", "POST /repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("delete a branch protection", "DELETE /repos/{owner}/{repo}/branches/{branch}/protection"),
    ("get the latest release", "GET /repos/{owner}/{repo}/releases/latest"),
    ("list workflow runs for a repository", "GET /repos/{owner}/{repo}/actions/runs"),
    ("download a repository archive as a zip", "GET /repos/{owner}/{repo}/zipball/{ref}"),
    ("create a gist", "POST /gists"),
    ("fork a repository", "POST /repos/{owner}/{repo}/forks"),
    ("search code", "GET /search/code"),
    ("list my notifications", "GET /notifications"),
    ("merge a pull request", "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("request reviewers for a pull request", "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("get a user's public keys", "GET /users/{username}/keys"),
    ("comment on an issue", "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("close an issue", "PATCH /repos/{owner}/{repo}/issues/{issue_number}"),
    ("list the branches of a repository", "GET /repos/{owner}/{repo}/branches"),
    ("delete a repo", "DELETE /repos/{owner}/{repo}"),
    ("get the README of a repository", "GET /repos/{owner}/{repo}/readme"),
    ("read a file from a repository", "GET /repos/{owner}/{repo}/contents/{path}"),
    ("create or update a file in a repository", "PUT /repos/{owner}/{repo}/contents/{path}"),
    ("follow a user", "PUT /user/following/{username}"),
    ("get my user profile", "GET /user"),
    ("list the repositories of an organization", "GET /orgs/{org}/repos"),
    ("publish a new release", "POST /repos/{owner}/{repo}/releases"),
    ("re-run a workflow run", "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun"),
    ("cancel a workflow run", "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
    ("manually trigger a workflow", "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    ("list the commits of a pull request", "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits"),
    ("list the files changed in a pull request", "GET /repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("compare two commits", "GET /repos/{owner}/{repo}/compare/{basehead}"),
    ("set a repository secret for Actions", "PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}"),
    ("add a collaborator to a repo", "PUT /repos/{owner}/{repo}/collaborators/{username}"),
    ("check my API rate limit", "GET /rate_limit"),
    ("list the members of an organization", "GET /orgs/{org}/members"),
    ("create a webhook for a repository", "POST /repos/{owner}/{repo}/hooks"),
    ("remove a label from an issue", "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("approve a pull request", "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("create a branch", "POST /repos/{owner}/{repo}/git/refs"),
]


@pytest.fixture(scope="module")
def tools() -> tuple[CompiledTool, ...]:
    """GitHub's document, compiled."""
    return compile_document(read_document(str(GITHUB)), Profile(spec=str(GITHUB))).tools


def test_every_expected_operation_is_a_tool(tools):
    assert len(TASKS) == 40
    assert {expected for _, expected in TASKS} - {tool.operation for tool in tools} == set()


def test_search_finds_the_operation_for_36_of_40_tasks(tools):
    start = time.perf_counter()
    index = ToolIndex(tools)
    built = time.perf_counter() - start
    ranks: dict[str, int | None] = {}
    start = time.perf_counter()
    for query, expected in TASKS:
        found = [hit.operation for hit in index.search(query, limit=5)]
        ranks[query] = found.index(expected) + 1 if expected in found else None
    per_query = (time.perf_counter() - start) / len(TASKS)
    misses = {query: index.search(query, limit=3) for query, rank in ranks.items() if rank is None}
    print(f"\n{len(tools)} tools: index built in {built * 1000:.1f} ms, {per_query * 1000:.2f} ms per query")
    for k in (1, 3, 5):
        print(f"top-{k}: {sum(1 for rank in ranks.values() if rank is not None and rank <= k)}/{len(TASKS)}")
    for query, hits in misses.items():
        print(f"miss: {query!r} -> {[hit.operation for hit in hits]}")
    assert len(TASKS) - len(misses) >= 36, sorted(misses)
