"""npm, for the Node tools fetched from its registry on first use (the mcpb CLI; in tests, the MCP Inspector)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def npm(*args: str, cwd: Path, node_bin: Path | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    """One quiet npm command (run by `node_bin`'s Node when given), its output kept for an error message.

    Raises FileNotFoundError when npm is not installed.
    """
    found = shutil.which("npm")
    if found is None:
        raise FileNotFoundError("npm")
    path = os.environ.get("PATH", "")
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{path}" if node_bin else path}
    return subprocess.run([found, *args, "--no-audit", "--no-fund", "--loglevel=error"], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=timeout)


def unreachable_registry(cwd: Path) -> tuple[str, str] | None:
    """None when npm's registry answers one quick ping (no retries); else the registry and npm's reason."""
    ping = npm("ping", "--fetch-retries=0", cwd=cwd)
    if ping.returncode == 0:
        return None
    registry = npm("config", "get", "registry", cwd=cwd).stdout.strip() or "the npm registry"
    lines = ping.stderr.strip().splitlines()
    reason = next((line for line in lines if "reason:" in line), lines[0] if lines else "")
    return registry, reason.removeprefix("npm error ")
