"""The commands that connect a client: `profiles` (what is bundled and what each needs), `config` (the entry a client
needs, printed) and `install` (that entry written into the client's file). Their arguments and what they print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from mcp_gateway.build import TargetOptions
from mcp_gateway.bundled import bundled_profiles, listing, listing_json
from mcp_gateway.clients import CLIENTS, Server, notes, server_for, snippet


def add_commands(commands: Any, target_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `profiles`, `config` and `install` to the `commands` subparsers; `target_flags` adds the bare-document
    flags that `serve` takes."""
    profiles = commands.add_parser("profiles", help="list the bundled profiles and the variables each needs")
    profiles.add_argument("--json", action="store_true", help="a JSON array: name, path, description, variables")

    config = commands.add_parser("config", help="print the entry that connects an MCP client to a target")
    install = commands.add_parser("install", help="write that entry into the client's configuration file")
    for parser in (config, install):
        parser.add_argument("client", choices=list(CLIENTS), metavar="CLIENT", help=", ".join(CLIENTS))
        parser.add_argument("target", metavar="TARGET",
                            help="a bundled profile's name (see `profiles`), a profile, or a document path or URL")
        parser.add_argument("--name", help="the server's name in the client (default: the profile's)")
        parser.add_argument("--http", metavar="URL",
                            help="connect to a gateway that already serves TARGET over streamable HTTP at URL, e.g. "
                                 "http://127.0.0.1:8000/mcp (the keys then stay with that gateway)")
        parser.add_argument("--command", metavar="CMD", dest="gateway_command",
                            help="what the client starts instead of this mcp-gateway's absolute path, e.g. "
                                 "'uvx --from /path/to/mcp_gateway-0.1.0-py3-none-any.whl mcp-gateway'")
        target_flags(parser)
    install.add_argument("--dry-run", action="store_true", help="print the change as a diff and write nothing")
    install.add_argument("--force", action="store_true",
                         help="replace an entry of the same name that differs (the file is backed up first)")


def _server(args: argparse.Namespace) -> Server:
    options = TargetOptions(base_url=args.base_url, api_key_env=args.api_key_env, api_key_header=args.api_key_header,
                            bearer_env=args.bearer_env, spec_timeout=args.spec_timeout)
    return server_for(args.target, options, args.name, args.http, args.gateway_command)


def run_profiles(args: argparse.Namespace) -> int:
    profiles = bundled_profiles()
    if args.json:
        print(json.dumps(listing_json(profiles), indent=2, ensure_ascii=False))
    else:
        print(listing(profiles), end="")
        print("serve one with `mcp-gateway serve NAME` once its variables are set ([NAME] is optional); "
              "`mcp-gateway config CLIENT NAME` prints a client's entry", file=sys.stderr)
    return 0


def run_config(args: argparse.Namespace) -> int:
    client, server = CLIENTS[args.client], _server(args)
    print(snippet(client, server), end="")
    print("\n".join(notes(client, server)), file=sys.stderr)
    return 0


def run_install(args: argparse.Namespace) -> int:
    from mcp_gateway.install import apply, plan  # difflib and tomllib, for this command alone

    client, server = CLIENTS[args.client], _server(args)
    change = plan(client, server, client.config_file(), args.force)
    if not change.needed:
        print(f"{change.path} already has {server.name} as it would be written: nothing to change")
        return 0
    if args.dry_run:
        print(change.diff(), end="")
        return 0
    backup = apply(change)
    kept = f" (the file as it was: {backup})" if backup else ""
    print(f"{'replaced' if change.replaces else 'added'} {server.name} in {change.path}{kept}")
    print("\n".join(notes(client, server)[1:]), file=sys.stderr)
    return 0
