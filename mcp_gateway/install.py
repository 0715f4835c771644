"""`mcp-gateway install`: a server entry written into an MCP client's own configuration file, safely.

The change is planned in full first (a dry run prints it as a diff), an entry of the same name is replaced only when
asked, the file is copied aside before it is written, and it is written whole (a temporary file renamed over it),
through a symlink to the file it points to. Everything else in the file is kept: JSON files are rewritten with their
own indentation, and a Codex TOML file keeps its text, the new table appended and the result checked by parsing it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import time
import tomllib
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_gateway.clients import Client, Server, entry_document, json_text, toml_text
from mcp_gateway.errors import ClientConfigError


@dataclass(frozen=True)
class Change:
    """A client file before and after the server entry is put in."""

    path: Path
    name: str
    before: str  # "" for a file that does not exist yet
    after: str
    replaces: bool  # a different entry of the same name is there

    @property
    def needed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """The change as a unified diff (nothing when the entry is already there as it would be written)."""
        return "".join(difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True),
            fromfile=str(self.path) if self.path.exists() else "/dev/null", tofile=str(self.path)))


def plan(client: Client, server: Server, path: Path, force: bool) -> Change:
    """The change that puts `server` into `path`; an error when the file cannot be read or an entry of the same name
    differs and `force` is not given."""
    path = path.resolve()  # a symlinked file (dotfiles) is changed where it lives
    try:
        before = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientConfigError(f"{path}: cannot be read ({exc.__class__.__name__}); fix the file or its permissions, "
                                "or print the entry with `mcp-gateway config` and add it by hand") from None
    change = (_toml_change if client.toml else _json_change)(client, server, path, before)
    if change.replaces and not force:
        raise ClientConfigError(f"{path} already has a different server named {server.name}; pass --force to replace "
                                "it (the file is backed up first), or --name to add this one beside it")
    return change


def apply(change: Change) -> Path | None:
    """Write the change (a backup of the old file first); the backup's path, or None for a new file."""
    path = change.path
    backup = None
    if path.exists():
        backup = _backup_path(path)
        shutil.copy2(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.mcp-gateway.tmp")
    temporary.write_text(change.after, encoding="utf-8")
    if backup is not None:
        shutil.copymode(backup, temporary)
    os.replace(temporary, path)
    return backup


def _backup_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    count = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{count}.bak")
        count += 1
    return candidate


def _by_hand(path: Path, reason: str) -> ClientConfigError:
    return ClientConfigError(f"{path}: {reason}; print the entry with `mcp-gateway config` and add it by hand")


def _servers(document: Any, client: Client, path: Path) -> dict[str, Any]:
    """The file's table of servers (empty when it has none yet)."""
    if not isinstance(document, dict):
        raise _by_hand(path, "is not a JSON object at the top")
    servers = document.get(client.servers_key, {})
    if not isinstance(servers, dict):
        raise _by_hand(path, f"its `{client.servers_key}` is not a table of servers")
    return servers


def _json_change(client: Client, server: Server, path: Path, before: str) -> Change:
    try:
        document = json.loads(before) if before.strip() else {}
    except json.JSONDecodeError as exc:
        raise _by_hand(path, f"is not plain JSON ({exc.msg} at line {exc.lineno}; comments or trailing commas?)"
                       ) from None
    servers = _servers(document, client, path)
    entry = entry_document(client, [server])[client.servers_key][server.name]
    found = servers.get(server.name)
    if found == entry:
        return Change(path, server.name, before, before, replaces=False)
    document[client.servers_key] = {**servers, server.name: entry}  # a replaced entry keeps its place
    indent = re.search(r"^([ \t]+)\S", before, re.MULTILINE)
    return Change(path, server.name, before, json_text(document, indent.group(1) if indent else 2),
                  replaces=found is not None)


def _toml_change(client: Client, server: Server, path: Path, before: str) -> Change:
    try:
        document = tomllib.loads(before)
    except tomllib.TOMLDecodeError as exc:
        raise _by_hand(path, f"is not valid TOML ({exc})") from None
    servers = _servers(document, client, path)
    block = entry_document(client, [server])
    entry = block[client.servers_key][server.name]
    found = servers.get(server.name)
    if found == entry:
        return Change(path, server.name, before, before, replaces=False)
    kept = _without_table(before, client.servers_key, server.name) if found is not None else before
    after = (kept.rstrip("\n") + "\n\n" if kept.strip() else "") + toml_text(block)
    expected = deepcopy(document)
    expected[client.servers_key] = {**servers, server.name: entry}
    try:
        written = tomllib.loads(after)
    except tomllib.TOMLDecodeError:
        written = None
    if written != expected:  # the entry was written in a form this edit cannot replace (inline or dotted keys)
        raise _by_hand(path, f"its `{client.servers_key}.{server.name}` is not a table of its own that can be "
                             "replaced safely")
    return Change(path, server.name, before, after, replaces=found is not None)


def _without_table(text: str, table: str, name: str) -> str:
    """`text` without the tables `[table.name]` and `[table.name.*]`: each from its header to the next header."""
    quoted = "|".join(re.escape(form) for form in (name, f'"{name}"', f"'{name}'"))
    own = re.compile(rf"\s*\[\s*{re.escape(table)}\s*\.\s*(?:{quoted})\s*(?:\.[^\]]*)?\]\s*(?:#.*)?")
    header = re.compile(r"\s*\[\[?[^\[\]]+\]\]?\s*(?:#.*)?")
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if header.fullmatch(line.rstrip("\r\n")):
            dropping = bool(own.fullmatch(line.rstrip("\r\n")))
        if not dropping:
            kept.append(line)
    return "".join(kept)
