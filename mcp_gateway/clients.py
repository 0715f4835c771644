"""MCP clients' configuration: the entry that starts (stdio) or reaches (streamable HTTP) this gateway, in the
format and file of Claude Desktop, Claude Code, Cursor, VS Code, Codex and Gemini CLI.

`mcp-gateway config` prints it and `mcp-gateway install` (install.py) writes it. No entry ever holds a key's value:
each names the variable in the client's own syntax for reading the environment (`${VAR}` in Claude Code and Gemini
CLI, `${env:VAR}` in Cursor and VS Code, `env_vars` in Codex), and Claude Desktop, which reads none, gets a
placeholder to replace. The command is the absolute path of the running mcp-gateway (GUI clients do not see the
shell's PATH), or whatever `--command` says, e.g. a `uvx --from ...` line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_gateway.build import TargetOptions, profile_for
from mcp_gateway.bundled import resolve_target
from mcp_gateway.errors import ClientConfigError
from mcp_gateway.spec.load import is_url
from mcp_gateway.variables import Variable, variables_of

_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Server:
    """What a client starts (a command, with the variables it passes on) or reaches (a URL), under one name."""

    name: str
    command: str = ""
    args: tuple[str, ...] = ()
    variables: tuple[Variable, ...] = ()
    url: str | None = None


@dataclass(frozen=True)
class Client:
    """One MCP client: where its configuration file is and what a server entry looks like there."""

    name: str  # as `config` and `install` take it
    title: str
    servers_key: str  # the table of servers in its file
    entry: Callable[[Server], dict[str, Any]]
    file: Callable[[Path, Mapping[str, str], str], Path]  # its file, from the home folder, environment and platform
    toml: bool = False

    def config_file(self, environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> Path:
        """The client's user-wide configuration file on Linux or macOS."""
        environ = os.environ if environ is None else environ
        if platform != "darwin" and not platform.startswith("linux"):
            raise ClientConfigError(f"{self.title}: only its Linux and macOS configuration files are known; print the "
                                    f"entry with `mcp-gateway config {self.name} ...` and add it by hand")
        home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
        return self.file(home, environ, platform)


def _stdio(server: Server, reference: Callable[[Variable], str], typed: bool = False) -> dict[str, Any]:
    """A command entry: `type: stdio` where the client wants it, and each variable as `reference` writes it."""
    entry: dict[str, Any] = {"type": "stdio"} if typed else {}
    entry.update(command=server.command, args=list(server.args))
    if server.variables:
        entry["env"] = {variable.name: reference(variable) for variable in server.variables}
    return entry


def _claude_desktop(server: Server) -> dict[str, Any]:
    if server.url:
        raise ClientConfigError("Claude Desktop's configuration file starts local servers only: add the URL in Claude "
                                "Desktop under Settings > Connectors, or configure it without --http")
    # It reads no environment: a placeholder for each required value, optional ones left empty (= unset)
    return _stdio(server, lambda v: f"<your {v.name}>" if v.required else "")


def _claude_code(server: Server) -> dict[str, Any]:
    if server.url:
        return {"type": "http", "url": server.url}
    return _stdio(server, lambda v: f"${{{v.name}}}" if v.required else f"${{{v.name}:-}}", typed=True)


def _cursor(server: Server) -> dict[str, Any]:
    return {"url": server.url} if server.url else _stdio(server, lambda v: f"${{env:{v.name}}}")


def _vscode(server: Server) -> dict[str, Any]:
    if server.url:
        return {"type": "http", "url": server.url}
    return _stdio(server, lambda v: f"${{env:{v.name}}}", typed=True)


def _codex(server: Server) -> dict[str, Any]:
    if server.url:
        return {"url": server.url}
    entry: dict[str, Any] = {"command": server.command, "args": list(server.args)}
    if server.variables:
        entry["env_vars"] = [variable.name for variable in server.variables]  # passed on when set
    return entry


def _gemini(server: Server) -> dict[str, Any]:
    return {"httpUrl": server.url} if server.url else _stdio(server, lambda v: f"${{{v.name}}}")


def _config_home(home: Path, environ: Mapping[str, str], platform: str) -> Path:
    """Where desktop applications keep their settings: ~/Library/Application Support or $XDG_CONFIG_HOME."""
    if platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = environ.get("XDG_CONFIG_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else home / ".config"


CLIENTS: dict[str, Client] = {client.name: client for client in [
    Client("claude-desktop", "Claude Desktop", "mcpServers", _claude_desktop,
           lambda home, env, platform: _config_home(home, env, platform) / "Claude" / "claude_desktop_config.json"),
    Client("claude-code", "Claude Code", "mcpServers", _claude_code,
           lambda home, env, platform: home / ".claude.json"),  # user scope: every project
    Client("cursor", "Cursor", "mcpServers", _cursor, lambda home, env, platform: home / ".cursor" / "mcp.json"),
    Client("vscode", "VS Code", "servers", _vscode,
           lambda home, env, platform: _config_home(home, env, platform) / "Code" / "User" / "mcp.json"),
    Client("codex", "Codex", "mcp_servers", _codex,
           lambda home, env, platform: Path(env.get("CODEX_HOME") or home / ".codex") / "config.toml", toml=True),
    Client("gemini", "Gemini CLI", "mcpServers", _gemini,
           lambda home, env, platform: home / ".gemini" / "settings.json"),
]}


def gateway_command(command: str | None = None) -> tuple[str, ...]:
    """The command a client starts: `command` split as a shell would (its program made absolute when found on the
    PATH), else the mcp-gateway script beside this interpreter, else this interpreter with `-m mcp_gateway`."""
    if command:
        words = shlex.split(command)
        if not words:
            raise ClientConfigError("--command is empty: give the program to start, e.g. --command mcp-gateway")
        return (shutil.which(words[0]) or words[0], *words[1:])
    scripts = Path(sys.executable).parent  # not resolved: a virtual environment's python links to the base one
    script = shutil.which("mcp-gateway", path=str(scripts))
    return (os.path.abspath(script),) if script else (sys.executable, "-m", "mcp_gateway")


def target_flags(options: TargetOptions) -> list[str]:
    """The command-line flags that make `serve` read a target as `options` say."""
    flags: list[str] = []
    for flag, value in [("--base-url", options.base_url), ("--api-key-env", options.api_key_env),
                        ("--api-key-header", options.api_key_header), ("--bearer-env", options.bearer_env)]:
        if value:
            flags += [flag, value]
    if options.spec_timeout != TargetOptions().spec_timeout:
        flags += ["--spec-timeout", f"{options.spec_timeout:g}"]
    return flags


def server_name(name: str) -> str:
    """A server name every client accepts: letters, digits, `_` and `-`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "api"


def server_for(target: str, options: TargetOptions, name: str | None = None, http_url: str | None = None,
               command: str | None = None) -> Server:
    """The server that serves `target` (a bundled profile's name, a profile, or a document path or URL): started
    by `command` over stdio, or reached at `http_url` where a gateway already serves it."""
    resolved = resolve_target(target)
    if not is_url(resolved) and not os.path.isfile(resolved):
        raise ClientConfigError(f"{target}: no such file; give a bundled profile's name (`mcp-gateway profiles`), a "
                                "profile or document path, or a URL")
    profile, _ = profile_for(resolved, options, single=True)
    bundled = resolved != target
    name = server_name(name or (target if bundled else profile.name))
    if http_url:
        if not is_url(http_url):
            raise ClientConfigError(f"--http {http_url}: give the gateway's MCP endpoint, e.g. http://127.0.0.1:8000/mcp")
        return Server(name, url=http_url)
    argument = target if bundled or is_url(target) else os.path.abspath(target)
    program, *prefix = gateway_command(command)
    return Server(name, program, (*prefix, "serve", argument, *target_flags(options)), variables_of(profile))


def entry_document(client: Client, servers: list[Server]) -> dict[str, Any]:
    """The part of the client's file that holds these servers."""
    return {client.servers_key: {server.name: client.entry(server) for server in servers}}


def json_text(document: Any, indent: str | int = 2) -> str:
    """JSON as the clients' own files are written: indented, UTF-8 as is, a final line break."""
    return json.dumps(document, indent=indent, ensure_ascii=False) + "\n"


def toml_text(document: dict[str, dict[str, dict[str, str | list[str]]]]) -> str:
    """`{table: {name: {key: string or list of strings}}}` as TOML tables `[table.name]`."""
    blocks = []
    for table, entries in document.items():
        for name, entry in entries.items():
            lines = [f"[{_toml_key(table)}.{_toml_key(name)}]"]
            lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in entry.items()]
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _toml_key(key: str) -> str:
    return key if _NAME.fullmatch(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    # JSON's escapes are TOML's, but for DEL, which TOML wants escaped and JSON leaves alone
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: str | list[str]) -> str:
    return _toml_string(value) if isinstance(value, str) else "[" + ", ".join(map(_toml_string, value)) + "]"


def claude_mcp_add(server: Server) -> str:
    """The `claude mcp add` command line that adds the server to Claude Code for every project."""
    words = ["claude", "mcp", "add", "--scope", "user", "--transport", "http" if server.url else "stdio", server.name]
    if server.url:
        return shlex.join([*words, server.url])
    for name, value in _claude_code(server).get("env", {}).items():
        words += ["-e", f"{name}={value}"]
    return shlex.join([*words, "--", server.command, *server.args])


def snippet(client: Client, server: Server) -> str:
    """What `mcp-gateway config` prints: the client's entry, ready to paste (Claude Code: its command line first)."""
    document = entry_document(client, [server])
    if client.toml:
        return toml_text(document)
    if client.name == "claude-code":
        return f"{claude_mcp_add(server)}\n\n{json_text(document)}"
    return json_text(document)


def notes(client: Client, server: Server) -> list[str]:
    """What to do with the snippet: where it goes, what to set, what to restart."""
    try:
        path = str(client.config_file())
    except ClientConfigError:
        path = "its configuration file"
    lines = [f"{client.title}: the entry goes in {path} (`mcp-gateway install {client.name} ...` writes it there)"]
    if client.name == "claude-code":
        lines[0] = (f"Claude Code: run the first line, or put the JSON in .mcp.json at a project's root (the first "
                    f"line writes {path})")
    if server.url:
        lines.append("the keys stay with the gateway that serves this URL: start it with "
                     "`mcp-gateway serve TARGET --transport http` where its variables are set")
    elif client.name == "claude-desktop" and any(v.required for v in server.variables):
        lines.append("Claude Desktop reads no environment variables: replace each <your ...> placeholder in the "
                     "file with its value, or install the .mcpb bundle, which keeps the key in the OS keychain")
    elif server.variables:
        required = " ".join(v.name for v in server.variables if v.required) or "nothing"
        optional = " ".join(v.name for v in server.variables if not v.required)
        lines.append(f"set {required} in the environment {client.title} starts from"
                     + (f" (optional: {optional})" if optional else "") + "; the entry names them, never their values")
    lines.append(f"then restart {client.title} (or reload its MCP servers)")
    return lines


EXAMPLE_COMMAND = "/absolute/path/to/bin/mcp-gateway"


def example_config() -> str:
    """claude_desktop_config.example.json: the Lium and AIgateway profiles as Claude Desktop starts them."""
    servers = [server_for(name, TargetOptions(), command=EXAMPLE_COMMAND) for name in ("lium", "aigateway")]
    return json_text(entry_document(CLIENTS["claude-desktop"], servers))
