"""Bundled profiles: where they are, a bare name resolved to one (and only then), their listing."""

from __future__ import annotations

import json

import pytest

from mcp_gateway.build import TargetOptions, profile_for
from mcp_gateway.bundled import (
    bundled_paths,
    bundled_profiles,
    description,
    folder,
    listing,
    listing_json,
    resolve_target,
)
from mcp_gateway.errors import ProfileError
from tests.common import ROOT

NAMES = ["aigateway", "demo", "lium", "lumen", "lumyx", "lunos", "openai-compatible"]


def test_the_bundled_folder_holds_every_profile_and_its_fallback_documents():
    assert list(bundled_paths()) == NAMES  # demo.openapi.yaml is a document, not a profile
    assert folder().samefile(ROOT / "tool_specs")  # the editable install reads the checkout's folder
    for name in NAMES:
        profile = profile_for(name, TargetOptions(), single=True)[0]
        for document in filter(None, [profile.spec, profile.spec_fallback]):
            assert document.startswith("https://") or (folder() / document).is_file(), (name, document)


def test_a_bare_name_is_a_bundled_profile():
    assert resolve_target("lium") == str(folder() / "lium.yaml")
    profile, from_file = profile_for("lunos", TargetOptions(), single=True)
    assert (profile.name, from_file) == ("lunos", True)
    assert profile.spec == str(folder() / "specs" / "openai-compatible.openapi.yaml")


@pytest.mark.parametrize("target", ["tool_specs/lium.yaml", "lium.yaml", "./lium", "https://example.com/lium",
                                    "openapi.json"])
def test_paths_and_urls_are_left_as_given(target):
    assert resolve_target(target) == target


def test_a_file_of_the_same_name_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lium").write_text("openapi: 3.1.0\n")
    assert resolve_target("lium") == "lium"


def test_an_unknown_name_lists_the_bundled_ones():
    with pytest.raises(ProfileError) as caught:
        resolve_target("liumm")
    message = str(caught.value)
    assert message.startswith("liumm: is neither a file nor a bundled profile")
    assert ", ".join(NAMES) in message and "mcp-gateway profiles" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("# Lium (lium.io): rent GPU pods, watch them, delete them.\n#   export X=1\nname: x\n",
     "Lium (lium.io): rent GPU pods, watch them, delete them."),
    ("# One endpoint for every model, with an\n# Auto Router. And more.\nspec: x\n", "One endpoint for every model, "
     "with an Auto Router."),
    ("# Any API (vLLM, ...): models.\n#\n# More.\n", "Any API (vLLM, ...): models."),
    ("# No full stop here\nspec: x\n", "No full stop here"),
    ("spec: x  # not a description\n", ""),
])
def test_the_description_is_the_first_sentence_of_the_opening_comment(text, expected):
    assert description(text) == expected


def test_the_listing_names_what_each_profile_needs():
    profiles = {profile.name: profile for profile in bundled_profiles()}
    assert list(profiles) == NAMES
    assert profiles["lium"].description == "Lium (lium.io): rent GPU pods, watch them, delete them."
    lines = listing(list(profiles.values())).splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    columns = {line.index(profiles[line.split()[0]].description) for line in lines}
    assert len(columns) == 1  # descriptions start in one column
    assert "LUNOS_API_KEY [LUNOS_APP_ID]" in lines[NAMES.index("lunos")]
    assert "LUMEN_API_KEY LUMEN_BASE_URL" in lines[NAMES.index("lumen")]
    as_json = json.loads(json.dumps(listing_json(list(profiles.values()))))
    lunos = next(entry for entry in as_json if entry["name"] == "lunos")
    assert lunos["variables"] == [
        {"name": "LUNOS_API_KEY", "kind": "key", "required": True, "default": None},
        {"name": "LUNOS_APP_ID", "kind": "setting", "required": False, "default": ""}]
    assert lunos["path"] == str(folder() / "lunos.yaml")
