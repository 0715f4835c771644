"""Hostile and broken documents at the command line: a gzip bomb stays small in memory and out of the cache;
files and answers that are not UTF-8 are one clear error line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.common import ROOT, server_env
from tests.servers import GATEWAY, run_cli
from tests.upstream import RecordingUpstream

GIB = 1 << 30
PEAK_LIMIT_KB = 300 * 1024
DOCUMENT = {"openapi": "3.1.0", "info": {"title": "Small", "version": "1"},
            "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok"}}}}}}

# Runs the command given as its arguments and prints its exit code, output and peak RSS: as a fresh process,
# only that one command counts among its children.
MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
print(json.dumps({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, gzipped twice: about 2 KB on the wire."""
    once = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    inner = b"".join(once.compress(zeros) for _ in range(GIB // len(zeros))) + once.flush()
    twice = zlib.compressobj(9, zlib.DEFLATED, 31)
    return twice.compress(inner) + twice.flush()


def _measured(*args: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", MEASURE, *GATEWAY, *args], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_gzip_bomb_is_refused_in_bounded_memory_and_not_cached(tmp_path: Path, upstream: RecordingUpstream,
                                                                 bomb: bytes) -> None:
    upstream.reply(200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"})
    cache = tmp_path / "cache"
    url = f"{upstream.url}/openapi.json"
    done = _measured("tools", url, env=server_env({"MCP_GATEWAY_CACHE_DIR": str(cache)}))
    assert done["returncode"] == 2, done["stderr"]
    assert "Traceback" not in done["stderr"]
    error = done["stderr"].strip().splitlines()[-1]
    assert error.startswith(f"error: {url}: ") and "64 MiB" in error and "MCP_GATEWAY_MAX_DOCUMENT_BYTES" in error
    assert done["peak_kb"] < PEAK_LIMIT_KB, f"peak RSS {done['peak_kb'] // 1024} MB"
    assert not cache.exists() or not any(cache.iterdir())


def test_a_redirect_whose_body_is_a_bomb_is_not_read(tmp_path: Path, upstream: RecordingUpstream,
                                                     bomb: bytes) -> None:
    upstream.reply(302, bomb, {"Location": "/real.json", "Content-Encoding": "gzip, gzip"})
    upstream.reply(200, DOCUMENT)
    env = server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")})
    done = _measured("tools", f"{upstream.url}/openapi.json", "--json", env=env)
    assert done["returncode"] == 0, done["stderr"]
    assert [tool["name"] for tool in json.loads(done["stdout"])] == ["ping"]
    assert [request.raw_path for request in upstream.requests] == ["/openapi.json", "/real.json"]
    assert done["peak_kb"] < PEAK_LIMIT_KB, f"peak RSS {done['peak_kb'] // 1024} MB"


NOT_UTF8 = b"\xff\xfe\x00bad"


@pytest.mark.parametrize(("command", "after"), [("tools", []), ("serve", []), ("call", ["ping"])],
                         ids=["tools", "serve", "call"])
@pytest.mark.parametrize("content", [b"name: broken\nspec: openapi.yaml\n# " + NOT_UTF8 + b"\n",
                                     b"openapi: 3.1.0\ninfo: {title: " + NOT_UTF8 + b"}\npaths: {}\n"],
                         ids=["profile", "document"])
def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path, command: str, after: list[str],
                                                    content: bytes) -> None:
    target = tmp_path / "broken.yaml"
    target.write_bytes(content)
    done = run_cli(command, str(target), *after, env=server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")}))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {target}: cannot be read as UTF-8 (byte 0xff at offset "
                                        f"{content.index(NOT_UTF8)}); save it as UTF-8"]


def test_a_fetched_document_that_is_not_utf8_names_the_url(tmp_path: Path, upstream: RecordingUpstream) -> None:
    body = b"openapi: 3.1.0\ninfo: {title: " + NOT_UTF8 + b"}\npaths: {}\n"
    upstream.reply(200, body, {"Content-Type": "application/yaml"})
    url = f"{upstream.url}/openapi.yaml"
    done = run_cli("tools", url, env=server_env({"MCP_GATEWAY_CACHE_DIR": str(tmp_path / "cache")}))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: {url}: cannot be read as UTF-8 (byte 0xff at offset "
                                        f"{body.index(NOT_UTF8)}); save it as UTF-8"]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
