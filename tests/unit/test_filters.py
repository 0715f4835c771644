"""Profile filters: include/exclude globs over tags, operations (id or METHOD /path), paths and methods."""

from __future__ import annotations

from mcp_gateway.compile.filters import matches, selected
from mcp_gateway.profile import Filter, Profile


def test_operation_globs_match_ids_and_method_path():
    flt = Filter(operations=["POST /v1/files*", "list*"])
    assert matches(flt, "POST", "/v1/files/upload", None, [])
    assert matches(flt, "GET", "/v1/models", "listModels", [])
    assert not matches(flt, "GET", "/v1/files", None, [])


def test_every_given_list_must_match_and_empty_filters_match_nothing():
    flt = Filter(tags=["pods"], methods=["get"])
    assert matches(flt, "GET", "/pods", None, ["pods"])
    assert not matches(flt, "DELETE", "/pods/1", None, ["pods"])
    assert not matches(Filter(), "GET", "/", None, [])


def test_selected_combines_read_only_include_and_exclude():
    profile = Profile(spec="x", read_only=True, include=Filter(paths=["/pods*"]),
                      exclude=Filter(operations=["GET /pods/secret"]))
    assert selected(profile, "GET", "/pods", None, [])
    assert not selected(profile, "POST", "/pods", None, [])
    assert not selected(profile, "GET", "/pods/secret", None, [])
    assert not selected(profile, "GET", "/other", None, [])
