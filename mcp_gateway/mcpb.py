"""Claude Desktop bundles (.mcpb): one per bundled profile and a generic one that asks for a document, packed with
the official `@anthropic-ai/mcpb` CLI (installed from the npm registry on first use).

A bundle carries this package (and, for the `python` server type, its dependencies) and a manifest whose
`user_config` asks for the profile's key (`sensitive`: Claude Desktop keeps it in the OS keychain) and settings and
hands them to the server as the environment variables the profile reads. Two server types:
- `uv` (default): the package and a pyproject.toml naming its dependencies; the host's uv installs them on first
  start (network once, then cached). Small, and one file serves every OS and Python.
- `python`: the dependencies installed into server/lib by this machine's pip. Starts offline, but is bound to this
  platform and Python minor version (pydantic-core and others are compiled), and 50 times larger (11 MB, not 0.2).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import requires
from pathlib import Path
from typing import Any, Literal

from mcp_gateway import __version__
from mcp_gateway.bundled import BundledProfile, bundled_profiles, folder
from mcp_gateway.errors import GatewayError
from mcp_gateway.npm import npm, unreachable_registry
from mcp_gateway.spec.load import cache_dir
from mcp_gateway.variables import Variable

MCPB_VERSION = "2.1.2"  # @anthropic-ai/mcpb: its CLI runs on Node 20
MANIFEST_VERSION = "0.4"  # the first with the `uv` server type
GENERIC = "openapi"  # the bundle that serves any document the user names
NOT_BUNDLED = ("demo",)  # needs the stand-in upstream that `mcp-gateway demo` starts
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
ServerType = Literal["uv", "python"]

# The bundle's entry point: `mcp-gateway serve ARGS` from the package beside it, without any virtualenv.
MAIN = '''"""Starts mcp-gateway over stdio for this Claude Desktop bundle: `mcp-gateway serve TARGET [OPTION VALUE]...`.

The package sits beside this file (its dependencies in lib/ when the bundle carries them; else the host's uv
installed them). Started without arguments (a host may run a uv bundle's entry point itself), it takes those of
manifest.json. A setting left blank in Claude Desktop is left out: an environment variable still holding an unfilled
${user_config...} placeholder is removed, and an option whose value is blank, or names a blank variable (--*-env), is
dropped.
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "lib"), str(HERE)]


def blank(option: str, value: str) -> bool:
    """Whether the user left this option's setting empty."""
    if option.endswith("-env"):
        return not os.environ.get(value)
    return not value or value.startswith("${user_config.")


def given(args: list[str]) -> list[str]:
    """The target and the options whose values were filled in."""
    target, rest = args[0], args[1:]
    pairs = zip(rest[::2], rest[1::2], strict=True)
    return [target, *(word for option, value in pairs if not blank(option, value) for word in (option, value))]


def manifest_args() -> list[str]:
    """The arguments manifest.json gives this file."""
    config = json.loads((HERE.parent / "manifest.json").read_text(encoding="utf-8"))["server"]["mcp_config"]
    args: list[str] = config["args"]
    return args[next(i for i, arg in enumerate(args) if arg.endswith("main.py")) + 1:]


for name, value in list(os.environ.items()):
    if value.startswith("${user_config."):
        del os.environ[name]

from mcp_gateway.cli import main  # noqa: E402

sys.exit(main(["serve", *given(sys.argv[1:] or manifest_args())]))
'''


class BundleError(GatewayError):
    """A bundle could not be built; the text says what to install or change."""


class RegistryUnreachable(BundleError):
    """The npm registry cannot be reached, so the mcpb CLI cannot be installed."""


@dataclass(frozen=True)
class Bundle:
    """What one bundle serves and asks for."""

    name: str  # the file is mcp-gateway-NAME.mcpb
    display_name: str
    description: str
    args: tuple[str, ...]  # after server/main.py: the target, then option/value pairs
    user_config: dict[str, dict[str, Any]]
    env: dict[str, str]  # variable -> ${user_config.x}


def _title(variable: str) -> str:
    """A setting's title from its variable's last two words: LUMEN_BASE_URL -> Base URL, LUNOS_APP_ID -> App ID."""
    words = variable.split("_")[-2:]
    shown = [word if word in ("API", "URL", "ID") else word.lower() for word in words]
    return " ".join(shown)[:1].upper() + " ".join(shown)[1:]


def _option(variable: Variable, display_name: str) -> dict[str, Any]:
    """The user_config entry that asks for one variable: keys sensitive (the OS keychain keeps them)."""
    sensitive = variable.kind == "key" or any(word in variable.name for word in SECRET_WORDS)
    text = (f"Your {display_name} key, kept in the operating system's keychain and given to the server as "
            f"{variable.name}." if variable.kind == "key" else f"Given to the server as {variable.name}.")
    if variable.default:
        text += f" Default: {variable.default}."
    option: dict[str, Any] = {"type": "string", "title": _title(variable.name), "description": text,
                              "required": variable.required}
    if sensitive:
        option["sensitive"] = True
    if variable.default is not None:
        option["default"] = variable.default
    return option


def profile_bundle(profile: BundledProfile) -> Bundle:
    """The bundle of one bundled profile: `serve NAME`, its variables asked for and passed through."""
    lead = profile.description.split(":")[0]
    display_name = lead if len(lead) <= 32 else profile.name
    user_config = {v.name.lower(): _option(v, display_name) for v in profile.variables}
    env = {v.name: f"${{user_config.{v.name.lower()}}}" for v in profile.variables}
    return Bundle(profile.name, display_name, profile.description, (profile.name,), user_config, env)


def generic_bundle() -> Bundle:
    """The bundle that serves any OpenAPI document (URL or file) the user names, with an optional key."""
    def text(title: str, description: str, *, sensitive: bool = False, required: bool = False) -> dict[str, Any]:
        option: dict[str, Any] = {"type": "string", "title": title, "description": description, "required": required}
        return option | ({"sensitive": True} if sensitive else {}) | ({} if required else {"default": ""})

    user_config = {
        "document": text("OpenAPI document", "The URL or file path of an OpenAPI 3.x or Swagger 2.0 document "
                                             "(JSON or YAML).", required=True),
        "base_url": text("Base URL", "Where calls go; blank: the document's first server."),
        "api_key": text("API key", "Sent as the document's apiKey scheme says (else in X-API-Key); kept in the "
                                   "operating system's keychain. Blank: no key.", sensitive=True),
        "api_key_header": text("API key header", "The header for the API key when the document names none "
                                                 "(default X-API-Key)."),
        "bearer_token": text("Bearer token", "Sent as 'Authorization: Bearer'; kept in the operating system's "
                                             "keychain. Blank: none.", sensitive=True),
    }
    args = ("${user_config.document}", "--base-url", "${user_config.base_url}",
            "--api-key-env", "OPENAPI_API_KEY", "--api-key-header", "${user_config.api_key_header}",
            "--bearer-env", "OPENAPI_BEARER_TOKEN")
    env = {"OPENAPI_API_KEY": "${user_config.api_key}", "OPENAPI_BEARER_TOKEN": "${user_config.bearer_token}"}
    return Bundle(GENERIC, "Any OpenAPI API", "Any HTTP API described by an OpenAPI document (a URL or a file) as "
                  "MCP tools that call it.", args, user_config, env)


def bundles(names: list[str]) -> list[Bundle]:
    """The bundles `names` ask for (bundled profile names and `openapi`); none: every gateway profile and openapi."""
    by_name = {p.name: profile_bundle(p) for p in bundled_profiles()} | {GENERIC: generic_bundle()}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise BundleError(f"no bundle named {', '.join(unknown)}: choose from {', '.join(by_name)}")
    return [by_name[name] for name in names] if names else [b for n, b in by_name.items() if n not in NOT_BUNDLED]


def _platform() -> str:
    """This machine as the manifest's `platforms` names it."""
    return {"darwin": "darwin", "win32": "win32"}.get(sys.platform, "linux")


def manifest(bundle: Bundle, server_type: ServerType) -> dict[str, Any]:
    """The bundle's manifest.json (MCPB manifest 0.4)."""
    main = "${__dirname}/server/main.py"
    if server_type == "uv":
        config: dict[str, Any] = {"command": "uv", "args": ["run", "--project", "${__dirname}", main, *bundle.args]}
        runtime = {"platforms": ["darwin", "linux", "win32"], "runtimes": {"python": ">=3.11"}}
    else:
        major, minor = sys.version_info[:2]
        config = {"command": "python3", "args": [main, *bundle.args],
                  "platform_overrides": {"win32": {"command": "python"}}}
        runtime = {"platforms": [_platform()], "runtimes": {"python": f">={major}.{minor},<{major}.{minor + 1}"}}
    return {
        "$schema": "https://raw.githubusercontent.com/anthropics/mcpb/main/schemas/mcpb-manifest-v0.4.schema.json",
        "manifest_version": MANIFEST_VERSION,
        "name": f"mcp-gateway-{bundle.name}",
        "display_name": bundle.display_name,
        "version": __version__,
        "description": bundle.description,
        "long_description": f"{bundle.description}\n\nServed by mcp-gateway, which turns the API's OpenAPI document "
                            "into MCP tools that call it. The key you enter is kept in the operating system's "
                            "keychain and reaches the server only as an environment variable.",
        "author": {"name": "mcp-gateway"},
        "server": {"type": server_type, "entry_point": "server/main.py", "mcp_config": {**config, "env": bundle.env}},
        "tools_generated": True,
        "keywords": ["openapi", "api", "gateway", bundle.name],
        "compatibility": runtime,
        "user_config": bundle.user_config,
    }


def _runtime_requirements() -> list[str]:
    """This package's runtime dependencies as pip and uv take them: a checkout's pyproject.toml (an editable
    install's metadata lags behind it), else the installed metadata (the `test` extra left out)."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "mcp-gateway":
            return list(project.get("dependencies", []))
    return [r for r in requires("mcp-gateway") or [] if "extra ==" not in r]


def _copy_package(destination: Path) -> None:
    """This package's source and its bundled profiles as a wheel lays them out (tool_specs inside)."""
    package = Path(__file__).resolve().parent
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(package, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tool_specs"))
    shutil.copytree(folder(), destination / "tool_specs", ignore=ignored)


def _pyproject(bundle: Bundle) -> str:
    """The pyproject.toml that tells uv what to install (a virtual project: the package itself is in server/)."""
    dependencies = "".join(f"    {json.dumps(r)},\n" for r in _runtime_requirements())
    return (f'[project]\nname = "mcp-gateway-{bundle.name}"\nversion = "{__version__}"\n'
            f'requires-python = ">=3.11"\ndependencies = [\n{dependencies}]\n')


def install_dependencies(lib: Path) -> None:
    """The runtime dependencies installed into `lib` by this Python's pip (for the `python` server type)."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                           "--disable-pip-version-check", "--target", str(lib), *_runtime_requirements()],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BundleError(f"pip could not install the dependencies into {lib}: {done.stderr.strip()[-1500:]}")


def stage(bundle: Bundle, server_type: ServerType, root: Path, lib: Path | None = None) -> Path:
    """The bundle's folder under `root`, ready for `mcpb pack`: manifest, server/main.py, the package, and the
    dependencies (`lib`, copied into server/lib, for the python type) or a pyproject.toml (uv)."""
    work = root / bundle.name
    server = work / "server"
    server.mkdir(parents=True)
    (work / "manifest.json").write_text(json.dumps(manifest(bundle, server_type), indent=2) + "\n", encoding="utf-8")
    (server / "main.py").write_text(MAIN, encoding="utf-8")
    _copy_package(server / "mcp_gateway")
    if server_type == "uv":
        (work / "pyproject.toml").write_text(_pyproject(bundle), encoding="utf-8")
    elif lib is not None:
        shutil.copytree(lib, server / "lib", ignore=shutil.ignore_patterns("__pycache__", "bin"))
    return work


_NO_NPM = ("npm is not installed: install Node.js 20 or newer (it brings npm), or give --mcpb with the path of an "
           "installed mcpb CLI")


def mcpb_cli(home: Path) -> Path:
    """The cli.js of @anthropic-ai/mcpb MCPB_VERSION under `home`, installed with npm on first use (into a
    temporary folder first, so that an interrupted install is redone, never half-used).

    Raises RegistryUnreachable when npm cannot reach its registry, BundleError when the install fails.
    """
    home = home.resolve()  # npm runs in the temporary folder below
    installed = home / f"mcpb-{MCPB_VERSION}"
    script = installed / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "cli" / "cli.js"
    if script.is_file():
        return script
    home.mkdir(parents=True, exist_ok=True)
    try:
        unreachable = unreachable_registry(home)
    except FileNotFoundError:
        raise BundleError(_NO_NPM) from None
    if unreachable is not None:
        registry, _ = unreachable
        raise RegistryUnreachable(f"the npm registry ({registry}) cannot be reached, so @anthropic-ai/mcpb cannot be "
                                  f"installed into {home}: connect to it, or give --mcpb with an installed mcpb CLI")
    work = Path(tempfile.mkdtemp(prefix="installing-", dir=home))
    try:
        done = npm("install", "--prefix", str(work), "--omit=dev", "--ignore-scripts",
                    f"@anthropic-ai/mcpb@{MCPB_VERSION}", cwd=work)
        if done.returncode != 0:
            raise BundleError(f"`npm install @anthropic-ai/mcpb@{MCPB_VERSION}` failed: {done.stderr.strip()[-1500:]}")
        try:
            work.rename(installed)
        except OSError:
            if not script.is_file():  # else another build installed it meanwhile
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return script


def run_mcpb(cli: Path, *args: str) -> str:
    """`mcpb ARGS` run by this machine's Node; its output, or BundleError with it."""
    node = shutil.which("node")
    if node is None:
        raise BundleError("node is not installed: install Node.js 20 or newer to run mcpb")
    done = subprocess.run([node, str(cli), *args], capture_output=True, text=True, check=False, timeout=300)
    output = done.stdout + done.stderr
    if done.returncode != 0 or "ERROR" in output:
        raise BundleError(f"`mcpb {' '.join(args[:1])}` failed: {output.strip()[-2000:]}")
    return output


def build(names: list[str], out: Path, server_type: ServerType, cli: Path) -> Iterator[Path]:
    """Each bundle `names` asks for, staged, validated and packed into `out` as mcp-gateway-NAME.mcpb."""
    out.mkdir(parents=True, exist_ok=True)
    chosen = bundles(names)
    with tempfile.TemporaryDirectory(prefix="mcpb-") as temporary:
        root = Path(temporary)
        lib = None
        if server_type == "python":
            lib = root / "lib"
            install_dependencies(lib)
        for bundle in chosen:
            work = stage(bundle, server_type, root, lib)
            run_mcpb(cli, "validate", str(work / "manifest.json"))
            target = out / f"mcp-gateway-{bundle.name}.mcpb"
            run_mcpb(cli, "pack", str(work), str(target))
            shutil.rmtree(work)
            yield target


def add_command(commands: Any) -> None:
    """Add `bundle` to the `commands` subparsers."""
    bundle = commands.add_parser("bundle", help="build Claude Desktop bundles (.mcpb) of the bundled profiles")
    bundle.add_argument("names", nargs="*", metavar="NAME",
                        help=f"bundled profiles to bundle, or {GENERIC} (any document); default: every gateway "
                             f"profile and {GENERIC}")
    bundle.add_argument("--out", type=Path, default=Path("dist") / "bundles", help="where the .mcpb files go")
    bundle.add_argument("--server-type", choices=["uv", "python"], default="uv",
                        help="uv (default): small, any OS, dependencies installed by the host's uv on first start; "
                             "python: dependencies inside, starts offline, this platform and Python only")
    bundle.add_argument("--mcpb", type=Path, metavar="CLI_JS",
                        help="an installed mcpb CLI (default: @anthropic-ai/mcpb, installed with npm on first use)")
    bundle.add_argument("--tools-dir", type=Path, metavar="DIR",
                        help="where mcpb is installed on first use (default: the cache, ~/.cache/mcp-gateway/tools)")


def run_bundle(args: argparse.Namespace) -> int:
    """`mcp-gateway bundle`: build the bundles and print each file with its size."""
    cli = args.mcpb or mcpb_cli(args.tools_dir or cache_dir() / "tools")
    for path in build(args.names, args.out, args.server_type, cli):
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB", flush=True)
    if args.server_type == "python":
        print(f"these bundles carry compiled dependencies: they run on {describe_platform()} only", file=sys.stderr)
    return 0


def describe_platform() -> str:
    """This machine's platform and Python, as a python-type bundle is bound to them."""
    return f"{_platform()}/{platform.machine()}, Python {sys.version_info[0]}.{sys.version_info[1]}"
