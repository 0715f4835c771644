"""The Claude Desktop bundle builder's pure parts: which bundles, their settings' titles and the manifests' server
entries (tests/e2e/test_bundles.py validates, packs and starts them)."""

from __future__ import annotations

import sys

import pytest

from mcp_gateway.mcpb import GENERIC, BundleError, _title, bundles, manifest


@pytest.mark.parametrize(("variable", "title"), [("LUMEN_BASE_URL", "Base URL"), ("LUNOS_APP_ID", "App ID"),
                                                 ("LIUM_API_KEY", "API key"), ("TOKEN", "Token")])
def test_a_setting_is_titled_by_its_variables_last_words(variable: str, title: str) -> None:
    assert _title(variable) == title


def test_names_choose_bundles_and_an_unknown_one_lists_the_choices() -> None:
    assert [b.name for b in bundles(["lunos", GENERIC])] == ["lunos", GENERIC]
    with pytest.raises(BundleError, match=r"no bundle named nope: choose from .*lium.*openapi"):
        bundles(["nope"])


def test_an_optional_setting_keeps_its_default_and_is_not_secret() -> None:
    (lunos,) = bundles(["lunos"])
    assert lunos.user_config["lunos_app_id"] == {
        "type": "string", "title": "App ID", "description": "Given to the server as LUNOS_APP_ID.",
        "required": False, "default": ""}
    assert lunos.env == {"LUNOS_API_KEY": "${user_config.lunos_api_key}", "LUNOS_APP_ID": "${user_config.lunos_app_id}"}


def test_the_uv_entry_runs_anywhere_and_the_python_entry_only_here() -> None:
    (lium,) = bundles(["lium"])
    uv = manifest(lium, "uv")["server"]
    assert uv["mcp_config"]["command"] == "uv"
    assert uv["mcp_config"]["args"] == ["run", "--project", "${__dirname}", "${__dirname}/server/main.py", "lium"]
    python = manifest(lium, "python")
    assert python["server"]["mcp_config"]["args"] == ["${__dirname}/server/main.py", "lium"]
    major, minor = sys.version_info[:2]
    assert python["compatibility"]["runtimes"]["python"] == f">={major}.{minor},<{major}.{minor + 1}"
    assert len(python["compatibility"]["platforms"]) == 1
