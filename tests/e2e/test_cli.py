"""The command line as a user runs it: tools, call and check, in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess

from tests.common import FIXTURES, ROOT, server_env
from tests.servers import GATEWAY, run_cli

ECHO = str(FIXTURES / "echo.yaml")


def test_tools_json_is_what_tools_list_sends():
    done = run_cli("tools", ECHO, "--json")
    assert done.returncode == 0, done.stderr
    tools = json.loads(done.stdout)
    assert len(tools) == 19
    for tool in tools:
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool["name"])
        assert tool["inputSchema"]["type"] == "object"
        assert tool["description"]
    by_name = {tool["name"]: tool for tool in tools}
    assert by_name["getItem"]["annotations"] == {"readOnlyHint": True}  # MCP's defaults go unsaid
    assert by_name["createItem"]["annotations"] == {"destructiveHint": False}
    assert by_name["deleteItem"]["annotations"] == {"idempotentHint": True}  # destructive by default
    assert by_name["getItem"]["description"].startswith("Get one item\n\n") and "title" not in by_name["getItem"]
    assert by_name["getItem"]["outputSchema"]["type"] == "object"


def test_a_profile_shapes_the_tools():
    done = run_cli("tools", str(FIXTURES / "echo_shaped.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    tools = {tool["name"]: tool for tool in json.loads(done.stdout)}
    assert set(tools) == {"echo_fetch_item", "echo_read_text"}  # read_only, include, exclude, overrides
    assert tools["echo_fetch_item"]["description"] == "Fetch one item.\n\nGET /items/{id}"
    assert tools["echo_fetch_item"]["title"] == "Get one item"  # the profile's description does not say it
    assert tools["echo_fetch_item"]["annotations"] == {"readOnlyHint": True, "idempotentHint": True}


def test_call_exit_codes(upstream):
    ok = run_cli("call", ECHO, "getText", "--base-url", upstream.url)
    failed = run_cli("call", ECHO, "getStatus", "--args", '{"code": 500}', "--base-url", upstream.url)
    invalid = run_cli("call", ECHO, "getStatus", "--args", '{"code": "x"}', "--base-url", upstream.url)
    not_json = run_cli("call", ECHO, "getStatus", "--args", "{code: 1}", "--base-url", upstream.url)
    assert (ok.returncode, ok.stdout.strip()) == (0, "plain words ✓")
    assert failed.returncode == 1 and "HTTP 500" in failed.stdout and "failure 500" in failed.stdout
    assert invalid.returncode == 1 and "`code`" in invalid.stdout
    assert not_json.returncode == 2 and "--args" in not_json.stderr
    assert [r.raw_path for r in upstream.requests] == ["/text", "/status/500"]


def test_check_prints_one_json_line_per_document(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: [unclosed\n")
    done = run_cli("check", ECHO, str(broken))
    good, bad = (json.loads(line) for line in done.stdout.splitlines())
    assert done.returncode == 1
    assert (good["source"], good["ok"], good["operations"], good["tools"], good["skipped"]) == (ECHO, True, 19, 19, [])
    assert bad["ok"] is False and bad["error"]


def test_a_reader_that_stops_early_ends_the_listing_quietly() -> None:
    process = subprocess.Popen([*GATEWAY, "tools", str(ROOT / "tool_specs" / "lium.yaml"), "--json"],
                               env=server_env(), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head` that has read all it wanted
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors
