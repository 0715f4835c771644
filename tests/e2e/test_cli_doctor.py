"""`mcp-gateway doctor` as a user runs it: against the demo profile and its stand-in upstream, and against a local
recording upstream, with a missing variable, a refused key, an unreachable upstream, a bad profile and a fallback."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mcp_gateway.demo import PROFILE
from tests.common import TEST_KEY, server_env
from tests.servers import free_port, run_cli

SHOP = {
    "openapi": "3.0.3",
    "info": {"title": "Shop", "version": "1"},
    "paths": {
        "/orders/{id}": {"get": {"operationId": "getOrder", "responses": {"200": {"description": "one"}},
                                 "parameters": [{"name": "id", "in": "path", "required": True,
                                                 "schema": {"type": "string"}}]}},
        "/orders": {"get": {"operationId": "listOrders", "responses": {"200": {"description": "all"}}},
                    "post": {"operationId": "createOrder", "responses": {"201": {"description": "made"}}}},
        "/health": {"get": {"operationId": "health", "responses": {"200": {"description": "up"}}}},
    },
}


def lines_of(output: str) -> dict[str, str]:
    """Each check's status word by its name, from the checklist."""
    found = re.findall(r"^  (ok|WARN|FAIL|skip)\s+(\w+)\s", output, re.MULTILINE)
    return {name: status for status, name in found}


def shop_profile(folder: Path, **settings: object) -> str:
    """A profile for the Shop document in `folder` (its settings given), written there; its path."""
    (folder / "shop.yaml").write_text(yaml.safe_dump(SHOP), encoding="utf-8")
    profile = folder / "profile.yaml"
    profile.write_text(yaml.safe_dump({"name": "shop", "spec": "shop.yaml", **settings}), encoding="utf-8")
    return str(profile)


def test_the_demo_profile_passes_with_its_key(clinic):
    done = run_cli("doctor", str(PROFILE), env=server_env({"DEMO_API_KEY": TEST_KEY, "DEMO_BASE_URL": clinic.url}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_of(done.stdout) == {"profile": "ok", "document": "ok", "tools": "ok", "variables": "ok",
                                     "upstream": "ok", "auth": "ok"}
    assert "GET /pets (list_pets) answered HTTP 200 with the key from DEMO_API_KEY" in done.stdout
    assert "All checks passed" in done.stdout
    assert TEST_KEY not in done.stdout + done.stderr


def test_a_missing_key_is_named_and_the_401_reported(clinic):
    done = run_cli("doctor", str(PROFILE), env=server_env({"DEMO_BASE_URL": clinic.url}))
    assert done.returncode == 1
    assert lines_of(done.stdout) == {"profile": "ok", "document": "ok", "tools": "ok", "variables": "FAIL",
                                     "upstream": "ok", "auth": "FAIL"}
    assert "not set: DEMO_API_KEY" in done.stdout
    assert "fix: export DEMO_API_KEY=<your key>" in done.stdout
    assert "HTTP 401" in done.stdout and "missing or wrong X-API-Key" in done.stdout  # the upstream's own words


def test_a_refused_key_is_reported_without_its_value(clinic):
    wrong = "sk-wrong-but-long-0123456789"
    done = run_cli("doctor", str(PROFILE), env=server_env({"DEMO_API_KEY": wrong, "DEMO_BASE_URL": clinic.url}))
    assert done.returncode == 1
    assert lines_of(done.stdout)["auth"] == "FAIL"
    assert "the key was refused" in done.stdout and "set DEMO_API_KEY to a valid key" in done.stdout
    assert wrong not in done.stdout + done.stderr


def test_the_probe_is_a_harmless_list_and_a_401_fails_auth(upstream, tmp_path):
    profile = shop_profile(tmp_path, base_url=upstream.url, auth={"type": "bearer", "env": "TEST_KEY"},
                           headers={"X-App-ID": "${SHOP_APP_ID:-}"})
    upstream.reply(401, {"error": {"message": "token expired", "type": "auth"}})
    done = run_cli("doctor", profile)
    assert done.returncode == 1
    assert "ok    variables  set: TEST_KEY" in done.stdout
    assert "note: SHOP_APP_ID is not set, so its default is used" in done.stdout
    assert lines_of(done.stdout)["auth"] == "FAIL" and lines_of(done.stdout)["upstream"] == "ok"
    assert "GET /orders (listOrders) answered HTTP 401: token expired" in done.stdout
    [probe] = upstream.requests
    assert (probe.method, probe.raw_path) == ("GET", "/orders")  # no path parameter, not the health endpoint
    assert probe.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in done.stdout + done.stderr


def test_an_unreachable_upstream_fails_and_auth_is_not_judged(tmp_path):
    done = run_cli("doctor", shop_profile(tmp_path, base_url=f"http://127.0.0.1:{free_port()}"))
    assert done.returncode == 1
    assert lines_of(done.stdout) == {"profile": "ok", "document": "ok", "tools": "ok", "variables": "ok",
                                     "upstream": "FAIL", "auth": "skip"}
    assert "check the base URL" in done.stdout


def test_an_invalid_profile_names_the_key_and_skips_the_rest(tmp_path):
    done = run_cli("doctor", shop_profile(tmp_path, bse_url="http://127.0.0.1:1"))
    assert done.returncode == 1
    assert lines_of(done.stdout) == {"profile": "FAIL", "document": "skip", "tools": "skip", "variables": "skip",
                                     "upstream": "skip", "auth": "skip"}
    assert "bse_url" in done.stdout


def test_a_fallback_document_is_a_warning_not_a_failure(upstream, tmp_path):
    profile = shop_profile(tmp_path, base_url=upstream.url, spec_fallback="shop.yaml")
    data = yaml.safe_load(Path(profile).read_text())
    data["spec"] = f"http://127.0.0.1:{free_port()}/openapi.json"  # nothing listens there
    Path(profile).write_text(yaml.safe_dump(data))
    done = run_cli("doctor", profile, "--spec-timeout", "5")
    assert done.returncode == 0, done.stdout
    assert lines_of(done.stdout)["document"] == "WARN"
    assert "serve uses the fallback" in done.stdout and "with 1 warning" in done.stdout
    assert lines_of(done.stdout)["auth"] == "ok"  # the profile sends no credentials, and the upstream wants none


def test_a_key_each_caller_sends_is_not_asked_of_the_server(upstream, tmp_path):
    profile = shop_profile(tmp_path, base_url=upstream.url, auth={
        "type": "bearer", "env": "SHOP_SERVER_KEY", "user_key": {"header": "X-Shop-Key", "required": True}})
    upstream.reply(401, {"error": {"message": "no token", "type": "auth"}})
    done = run_cli("doctor", profile)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines_of(done.stdout) == {"profile": "ok", "document": "ok", "tools": "ok", "variables": "ok",
                                     "upstream": "ok", "auth": "skip"}
    assert "note: SHOP_SERVER_KEY is not used: each caller sends its own key in the X-Shop-Key header" in done.stdout
    assert "each caller sends its own key in the X-Shop-Key header (auth.user_key.required)" in done.stdout
    assert "export SHOP_SERVER_KEY" not in done.stdout
