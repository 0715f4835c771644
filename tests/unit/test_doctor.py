"""The doctor's pure parts: which operation it probes with, and how the checklist reads."""

from __future__ import annotations

from typing import Any

from mcp_gateway.compile import compile_document
from mcp_gateway.doctor import Check, choose_probe, render
from mcp_gateway.profile import Profile

OK = {"200": {"description": "ok"}}
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
QUERY = [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}]


def probed(**paths: dict[str, Any]) -> str | None:
    """The `METHOD /path` the doctor would probe in a document with these path items."""
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                "paths": {path.replace("__", "/{id}/").replace("_", "/"): item for path, item in paths.items()}}
    tool = choose_probe(compile_document(document, Profile(spec="t.yaml")).tools)
    return tool.operation if tool else None


def test_a_models_endpoint_wins_then_a_list_then_health():
    common = {"_health": {"get": {"responses": OK}}, "_v1_orders": {"get": {"responses": OK}}}
    assert probed(**common, _v1_models={"get": {"responses": OK}}) == "GET /v1/models"
    assert probed(**common) == "GET /v1/orders"
    assert probed(_health={"get": {"responses": OK}}) == "GET /health"


def test_only_a_get_without_path_parameters_or_required_arguments_is_probed():
    assert probed(_orders__={"get": {"parameters": ID, "responses": OK}},
                  _search={"get": {"parameters": QUERY, "responses": OK}},
                  _orders={"post": {"responses": OK}, "delete": {"responses": OK}}) is None


def test_the_shortest_of_equals_and_then_the_first():
    assert probed(_a_b_items={"get": {"responses": OK}}, _pets={"get": {"responses": OK}},
                  _cats={"get": {"responses": OK}}) == "GET /pets"


def test_the_checklist_shows_fixes_for_problems_and_a_verdict():
    checks = [Check("profile", "ok", "`demo` is valid"),
              Check("variables", "fail", "not set: DEMO_API_KEY", "export DEMO_API_KEY=<value>"),
              Check("document", "warn", "the fallback is used", "check the network", ("a note",)),
              Check("auth", "skip", "not checked: no upstream")]
    text = render("demo.yaml", checks)
    assert text.splitlines() == [
        "mcp-gateway doctor demo.yaml",
        "  ok    profile    `demo` is valid",
        "  FAIL  variables  not set: DEMO_API_KEY",
        "                   fix: export DEMO_API_KEY=<value>",
        "  WARN  document   the fallback is used",
        "                   note: a note",
        "                   fix: check the network",
        "  skip  auth       not checked: no upstream",
        "1 problem to fix (marked FAIL).",
    ]
    assert render("d", [Check("profile", "ok", "fine")]).endswith("All checks passed: `mcp-gateway serve d` is ready.")
    assert render("d", [Check("document", "warn", "old")]).endswith("All checks passed, with 1 warning.")
