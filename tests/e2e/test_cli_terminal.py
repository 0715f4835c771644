"""The command line on a real terminal (a pseudo-terminal) and through a pipe: `tools` as a table or as the
plain lines scripts read, `check` with its progress line or without it."""

from __future__ import annotations

import os
import pty
import subprocess

from tests.common import FIXTURES, ROOT, server_env
from tests.servers import GATEWAY, run_cli

ECHO = str(FIXTURES / "echo.yaml")


def on_terminal(*args: str, stream: str) -> tuple[str, str]:
    """`mcp-gateway ARGS` with its `stream` ("stdout" or "stderr") on a 100-column pseudo-terminal: what the
    terminal showed, and what the other stream wrote to its pipe."""
    screen, attached = pty.openpty()
    ends = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, stream: attached}
    process = subprocess.Popen([*GATEWAY, *args], cwd=str(ROOT), env=server_env({"COLUMNS": "100"}),
                               stdin=subprocess.DEVNULL, stdout=ends["stdout"], stderr=ends["stderr"])
    os.close(attached)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(screen, 65536)
        except OSError:  # the terminal's last writer is gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(screen)
    piped = process.stderr if stream == "stdout" else process.stdout
    assert piped is not None
    other = piped.read().decode()
    assert process.wait(timeout=60) == 0
    return shown.decode().replace("\r\n", "\n"), other


def test_tools_is_a_table_on_a_terminal_and_plain_lines_in_a_pipe():
    shown, _ = on_terminal("--log-level", "WARNING", "tools", ECHO, stream="stdout")
    lines = shown.splitlines()
    assert lines[0].split() == ["NAME", "METHOD", "PATH", "SUMMARY"]
    assert lines[1].split()[:4] == ["getItem", "GET", "/items/{id}", "Get"]
    assert lines[0].index("METHOD") == lines[1].index("GET")  # aligned
    assert all(len(line) <= 100 for line in lines)

    piped = run_cli("tools", ECHO).stdout.splitlines()
    assert piped[0] == f"{'getItem':<40} {'GET /items/{id}':<45} Get one item"
    assert len(piped) == 19


def test_check_shows_progress_on_a_terminal_and_nothing_more_in_a_pipe():
    documents = [ECHO, str(FIXTURES / "styles.yaml")]
    shown, reports = on_terminal("check", *documents, stream="stderr")
    assert "\r[1/2] " in shown and "echo.yaml" in shown and "\r[2/2] " in shown
    assert shown.endswith("2 of 2 documents ok\n")
    assert len(reports.splitlines()) == 2

    piped = run_cli("check", *documents)
    assert piped.stderr == ""
    assert len(piped.stdout.splitlines()) == 2
