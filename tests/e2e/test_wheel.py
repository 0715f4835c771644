"""The package as a user installs it: a wheel built from the checkout's sources, installed into a new virtual
environment that does not see the checkout, serving `lium` by name offline, from the fallback document inside the
package, to the official client.

Kept fast and offline: the wheel is built with this environment's setuptools (no isolated build environment to
download, about 1 s); the new environment is made without pip (0.1 s) and the wheel installed into it by this
environment's pip with `--no-deps` (about 1 s). Its dependencies come from this environment's site-packages through
one `.pth` line, which puts that folder on sys.path without running the `.pth` files inside it (the editable
install's finder, which maps `mcp_gateway` to the checkout, among them). A new environment with pip that installs the
dependencies from the package index took 15 s on this machine, and the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from mcp_gateway import __version__
from tests.common import ROOT, TEST_KEY
from tests.gateways.harness import offline_env
from tests.servers import serve_command

pytestmark = pytest.mark.anyio

SOURCES = ["pyproject.toml", "README.md", "mcp_gateway", "tool_specs"]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of a copy of the checkout's sources (a build in the checkout would leave build/ behind)."""
    work = tmp_path_factory.mktemp("wheel")
    (work / "source").mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, work / "source" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, work / "source" / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", work / "dist", work / "source", cwd=work)
    built, = (work / "dist").glob("mcp_gateway-*.whl")
    return built


def packaged(root: Path, folder: str, within: str) -> set[str]:
    """The files under `root/folder` as the wheel names them, under `within`."""
    return {f"{within}/{path.relative_to(root / folder).as_posix()}" for path in (root / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_the_wheel_holds_the_code_and_every_bundled_file(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        assert "mcp-gateway = mcp_gateway.cli:main" in archive.read(entry_points).decode()
    assert packaged(ROOT, "mcp_gateway", "mcp_gateway") <= names
    assert packaged(ROOT, "tool_specs", "mcp_gateway/tool_specs") <= names  # profiles and their fallback documents
    assert "mcp_gateway/tool_specs/specs/lium.io.openapi.yaml" in names


async def test_a_fresh_environment_serves_a_bundled_profile_from_the_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel,
        cwd=tmp_path)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    env = {k: v for k, v in offline_env(tmp_path / "cache", LIUM_API_KEY=TEST_KEY).items()
           if not k.startswith("PYTHON")}
    gateway = venv / "bin" / "mcp-gateway"
    # The command imports the installed package: the only mcp_gateway on its interpreter's path (the checkout's
    # folder is not on it, and the dependencies folder holds no package of that name, only the editable finder)
    assert run(gateway, "--version", cwd=tmp_path, env=env).startswith(
        f"mcp-gateway {__version__} from {site / 'mcp_gateway'} (")
    path = run(python, "-c", "import sys; print('\\n'.join(sys.path))", cwd=tmp_path, env=env).splitlines()
    assert [entry for entry in path if (tmp_path / entry / "mcp_gateway").exists()] == [str(site)], path
    assert str(ROOT) not in path

    async with serve_command(str(gateway), ["serve", "lium", "--spec-timeout", "2"], env, cwd=str(tmp_path)) as served:
        names = {tool.name for tool in (await served.client.list_tools()).tools}
    assert {"lium_list_pods", "lium_rent_pod", "search_operations", "call_operation"} <= names
    fallback = site / "mcp_gateway" / "tool_specs" / "specs" / "lium.io.openapi.yaml"
    assert f"using the bundled copy {fallback} instead" in served.stderr()
