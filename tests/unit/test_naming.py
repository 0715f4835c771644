"""Tool names: sanitised operationIds, derived verb phrases, readable shortening (a hash when that fails), budgets,
uniqueness."""

from __future__ import annotations

import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.compile.naming import (
    TOOL_NAME_RE,
    NameRegistry,
    abbreviate,
    by_parameters,
    clean,
    derived_name,
    shorten,
    singular,
)
from mcp_gateway.profile import Profile


@pytest.mark.parametrize(("operation_id", "expected"), [
    ("repos/get", "repos_get"),
    ("put_files_id#add_shared_link", "put_files_id_add_shared_link"),
    ("Key Phrases", "Key_Phrases"),
    ("drive.files.list", "drive_files_list"),
    ("Importer-Exporter Code Verification API", "Importer-Exporter_Code_Verification_API"),
    ("  /weird//name/ ", "weird_name"),
    ("données", "donn_es"),
    ("///", ""),
])
def test_clean_keeps_only_safe_characters(operation_id, expected):
    assert clean(operation_id) == expected


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("get", "/v1/models", "list_models"),
    ("post", "/v1/chat/completions", "create_chat_completion"),
    ("delete", "/api/v1/pods/{pod_id}", "delete_pod"),
    ("get", "/pods/{id}", "get_pod"),
    ("get", "/users/{user}/repos", "list_user_repos"),
    ("put", "/users/{id}", "replace_user"),
    ("patch", "/users/{id}", "update_user"),
    ("post", "/jobs/{id}/cancel", "cancel_job"),
    ("get", "/", "get_root"),
    ("post", "/", "create_root"),
    ("get", "/status", "get_status"),
    ("get", "/v2/accountSettings", "list_account_settings"),
    ("head", "/files/{id}", "head_file"),
    ("get", "/v1/messages/batches?beta=true", "list_messages_batches"),
])
def test_derived_names_are_verb_phrases(method, path, expected):
    assert derived_name(method, path) == expected


def test_singular():
    assert [singular(w) for w in ("models", "policies", "boxes", "status", "class", "data")] == [
        "model", "policy", "box", "status", "class", "data"]


def test_shorten_cuts_with_a_stable_hash():
    long = "a" * 50 + "_b" * 20
    short = shorten(long, 64)
    assert len(short) <= 64 and TOOL_NAME_RE.match(short) and short.startswith("a" * 50)
    assert short == shorten(long, 64)
    assert short != shorten(long + "x", 64)
    assert shorten("short_name", 64) == "short_name"
    assert len(shorten(long, 16)) <= 16


def test_registry_is_unique_ignoring_case_and_stable():
    wanted = ["getUser", "getuser", "GETUSER", "x" * 80, "x" * 80 + "y", "x" * 80]
    first = [NameRegistry(64).claim(w) for w in wanted[:1]]
    registry = NameRegistry(64)
    names = [registry.claim(w) for w in wanted]
    again = NameRegistry(64)
    assert names == [again.claim(w) for w in wanted]
    assert names[0] == first[0] == "getUser"
    assert len({n.lower() for n in names}) == len(names)
    assert all(TOOL_NAME_RE.match(n) for n in names)


def test_registry_takes_the_first_free_fallback():
    registry = NameRegistry(64)
    assert registry.claim("create") == "create"
    assert registry.claim("create", ["create_image"]) == "create_image"
    assert registry.claim("create", iter(["create_image"])) == "create_2"


def test_by_parameters():
    assert by_parameters("get_chart", "/chart/{pk}") == "get_chart_by_pk"
    assert by_parameters("get_report_log", "/report/{pk}/log/{logId}") == "get_report_log_by_pk_log_id"
    assert by_parameters("list_charts", "/charts") == "list_charts"


def _document(operation_ids: list[str | None]) -> dict:
    paths = {f"/things{i}/{{id}}": {"get": {"responses": {"200": {"description": "ok"}},
                                            **({"operationId": o} if o is not None else {})}}
             for i, o in enumerate(operation_ids)}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths}


def test_compiled_names_respect_the_profile_limit():
    ids = ["AddonPropertiesResource.getAddonProperties_get" * 2, "repos/get", None, "Key Phrases", "repos/get"]
    compilation = compile_document(_document(ids), Profile(spec="x", name_limit=16))
    names = [tool.name for tool in compilation.tools]
    assert all(TOOL_NAME_RE.match(n) and len(n) <= 16 for n in names), names
    assert len({n.lower() for n in names}) == len(names)
    assert names[1] == "repos_get" and names[2] == "get_things2" and names[3] == "Key_Phrases"
    assert names == [t.name for t in compile_document(_document(ids), Profile(spec="x", name_limit=16)).tools]


def test_override_names_are_cleaned_too():
    profile = Profile(spec="x", overrides={"repos/get": {"name": "get a repo!"}})
    compilation = compile_document(_document(["repos/get"]), profile)
    assert compilation.tools[0].name == "get_a_repo"


def test_clashes_fall_back_to_derived_names_then_path_parameters():
    ok = {"responses": {"200": {"description": "ok"}}}
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
        "/containers/{id}": {"get": {"operationId": "find", **ok}},
        "/images/{name}": {"get": {"operationId": "find", **ok}},
        "/chart/": {"get": ok},
        "/chart/{pk}": {"get": ok},
    }}
    names = [tool.name for tool in compile_document(document, Profile(spec="x")).tools]
    assert names == ["find", "get_image", "get_chart", "get_chart_by_pk"]


def test_abbreviate_drops_filler_words_then_uses_short_forms():
    name = "packages_get-all-package-versions-for-package-owned-by-authenticated-user"
    assert abbreviate(name, 64) == "packages_get-all-package-versions-package-owned-auth-user"
    assert abbreviate("listReposForAuthenticatedUser", 20) == "listReposAuthUser"  # camelCase words too
    assert abbreviate("ListOrganizationRepositories", 24) == "ListOrgRepositories"  # the longest word first
    assert abbreviate("short", 64) == "short"
    assert abbreviate("Get_audio_from_sample_v1_voices__voice_id__samples__sample_id__audio_get", 64) == \
        "Get_audio_sample_v1_voices_voice_id_samples_sample_id_audio_get"


def test_a_budget_shortens_readably_and_hashes_only_what_cannot_be():
    registry = NameRegistry(40)
    readable = registry.claim("apps_list-installation-requests-for-authenticated-app")
    assert readable == "apps_list-installation-requests-auth-app"
    cut = registry.claim("security-advisories_list-global-advisories")  # no filler, no long word to shorten
    assert len(cut) == 40 and cut.startswith("security-advisories_list-glob") and TOOL_NAME_RE.match(cut)
    again = registry.claim("apps_list-installation-requests-for-an-authenticated-app")  # the same once shortened
    assert again != readable and len(again) <= 40 and again.startswith("apps_list-installation")


def test_name_budget_is_the_smaller_limit():
    assert Profile(spec="x").tool_name_limit == 64
    assert Profile(spec="x", name_budget=51).tool_name_limit == 51
    assert Profile(spec="x", name_budget=51, name_limit=40).tool_name_limit == 40
    ids = ["repos/list-for-authenticated-user-in-organization-with-a-long-tail"]
    names = [t.name for t in compile_document(_document(ids), Profile(spec="x", name_budget=40)).tools]
    assert names == ["repos_list-auth-user-org-long-tail"]
