"""The command line: serve, tools, call, check."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from mcp_gateway import __version__
from mcp_gateway.build import TargetOptions, build_gateway, gc_for_serving, profile_for, read_spec, user_cache
from mcp_gateway.compile import compile_document
from mcp_gateway.confirm import terminal_confirmer
from mcp_gateway.errors import GatewayError
from mcp_gateway.gateway import CallContext, Gateway
from mcp_gateway.terminal import Progress, terminal_width, tool_lines, tool_rows

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

    from mcp_gateway.server import HttpOptions

log = logging.getLogger("mcp_gateway")

EPILOG = """examples:
  mcp-gateway serve lium                 # a bundled profile, by name (`mcp-gateway profiles` lists them)
  mcp-gateway serve tool_specs/demo.yaml
  mcp-gateway serve openapi.json --base-url https://api.example.com --bearer-env EXAMPLE_TOKEN
  mcp-gateway tools tool_specs/lium.yaml
  mcp-gateway call tool_specs/demo.yaml list_pets --args '{"limit": 2}'
  mcp-gateway check ../specs/*.json
  mcp-gateway doctor tool_specs/lium.yaml   # profile, document, variables, upstream and key, checked
  mcp-gateway config cursor lium         # the entry that connects Cursor; `install` writes it
"""


def _target_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("for a bare OpenAPI document (or to override a single profile)")
    group.add_argument("--base-url", help="upstream base URL (default: the document's first server)")
    group.add_argument("--api-key-env", metavar="VAR", help="send the API key from this environment variable")
    group.add_argument("--api-key-header", metavar="NAME",
                       help="header for --api-key-env (default: the document's apiKey scheme, else X-API-Key)")
    group.add_argument("--bearer-env", metavar="VAR", help="send 'Authorization: Bearer' with this variable's value")
    group.add_argument("--spec-timeout", type=float, default=10.0, metavar="S",
                       help="seconds to wait for a document fetched by URL (default 10)")


def _host_value(value: str) -> str:
    """An --allow-host value: a Host header as clients send it, not a URL."""
    if not value or "/" in value or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Host header value: give HOST or HOST:PORT "
                                         "(HOST:* for any port), without a scheme or path")
    return value


def _origin_value(value: str) -> str:
    """An --allow-origin value: an Origin header as browsers send it, scheme://host[:port] without a path."""
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or "/" in rest or any(c.isspace() for c in rest):
        raise argparse.ArgumentTypeError(f"{value!r} is not an origin: give scheme://host[:port], "
                                         "e.g. https://app.example.com, without a path")
    return value


def _discovery_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--discovery", choices=["auto", "on", "off"], default="auto",
                        help="serve three meta-tools (search, describe, call) instead of one tool per operation: "
                             "on, off, or auto (default: on above a profile's discovery_threshold, 100 tools)")


def _name_budget(value: str) -> int:
    """A --name-budget value: a tool-name length every client accepts."""
    if not value.isdigit() or not 16 <= int(value) <= 64:
        raise argparse.ArgumentTypeError(f"{value!r} is not a length from 16 to 64: give your client's limit less the "
                                         "prefix it adds, e.g. 51 for Claude Code and a server named github")
    return int(value)


def _schema_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schema-profile", choices=["portable", "gemini", "openai-strict"], default=None,
                        help="how input schemas are written, for every target: portable JSON Schema (the default), "
                             "or the subset Gemini or OpenAI's strict mode accepts (calls are still checked in full)")
    parser.add_argument("--name-budget", type=_name_budget, default=None, metavar="N",
                        help="the longest tool name to list (16-64), prefix included: your client's limit less the "
                             "prefix it adds (Claude Code: mcp__SERVER__, Gemini CLI: mcp_SERVER_); longer names "
                             "are shortened readably")


def _positive(value: str) -> int:
    """A count or size that must be at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def _team_flags(parser: argparse.ArgumentParser) -> None:
    """The HTTP flags of a server many people share: who may call it, limits, workers, metrics."""
    team = parser.add_argument_group("HTTP team server (inbound auth, limits, workers, metrics)")
    team.add_argument("--auth-token-env", metavar="VAR",
                      help="require 'Authorization: Bearer TOKEN' on /mcp, TOKEN one of the comma-separated tokens "
                           "in this environment variable")
    team.add_argument("--oauth-issuer", metavar="URL",
                      help="accept OAuth 2.1 access tokens (JWTs) from this issuer (its 'iss'); needs --oauth-audience")
    team.add_argument("--oauth-audience", metavar="URL",
                      help="this server's MCP URL as clients reach it, e.g. https://gateway.example.com/mcp: the "
                           "tokens' 'aud' and the resource of /.well-known/oauth-protected-resource")
    team.add_argument("--oauth-jwks-url", metavar="URL",
                      help="the issuer's JSON Web Key Set (default: the jwks_uri of the issuer's metadata)")
    team.add_argument("--oauth-scope", action="append", default=[], metavar="SCOPE",
                      help="a scope every token must carry (repeatable)")
    team.add_argument("--max-request-bytes", type=_positive, default=4 * 1024 * 1024, metavar="N",
                      help="largest request body /mcp accepts; larger ones get 413 (default 4 MiB)")
    team.add_argument("--stateful", action="store_true",
                      help="keep MCP sessions (one process only): 2025-11-25 clients are then told when the tool list "
                           "changes; the default is stateless, so any worker or replica answers any request")
    team.add_argument("--workers", type=_positive, default=1, metavar="N",
                      help="worker processes sharing the port (default 1)")
    team.add_argument("--metrics", action="store_true",
                      help="serve Prometheus metrics at /metrics (behind the same auth as /mcp)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-gateway", description="Serve any HTTP API described by OpenAPI as MCP tools.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",  # and where it runs from: a checkout, a venv, pipx or uvx
                        version=f"mcp-gateway {__version__} from {Path(__file__).parent} "
                                f"(Python {sys.version.split()[0]})")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level; logs always go to stderr")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="text lines, or one JSON object per line (each tool call's fields at the top level)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the tools of one or more targets over MCP")
    serve.add_argument("targets", nargs="+", metavar="TARGET", help="a profile YAML or an OpenAPI document (path/URL)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--page-size", type=int, default=0,
                       help="tools per tools/list page (default 0: the whole list at once, as some clients "
                            "never ask for a second page)")
    _discovery_flag(serve)
    _schema_flags(serve)
    served = serve.add_argument_group(
        "HTTP Host and Origin checks (DNS-rebinding protection; loopback names are always accepted, and a --host "
        "other computers can reach needs --allow-host or --allow-any-host)")
    served.add_argument("--allow-host", action="append", default=[], type=_host_value, metavar="HOST[:PORT]",
                        help="a Host header value to accept, e.g. gateway.internal:8000 or gateway.internal:* "
                             "(repeatable)")
    served.add_argument("--allow-origin", action="append", default=[], type=_origin_value, metavar="ORIGIN",
                        help="a browser Origin to accept, e.g. https://app.example.com (repeatable)")
    served.add_argument("--allow-any-host", action="store_true",
                        help="check neither header: a reverse proxy in front checks them (logged as a warning)")
    _team_flags(serve)
    _target_flags(serve)

    tools = commands.add_parser("tools", help="print the tools that serve would expose")
    tools.add_argument("targets", nargs="+", metavar="TARGET")
    tools.add_argument("--json", action="store_true",
                       help="the JSON array of MCP Tool objects, as tools/list sends them")
    _discovery_flag(tools)
    _schema_flags(tools)
    _target_flags(tools)

    call = commands.add_parser("call", help="make one tool call and print the result")
    call.add_argument("target", metavar="TARGET")
    call.add_argument("tool", metavar="TOOL")
    call.add_argument("--args", default="{}", metavar="JSON", help="the arguments as a JSON object")
    call.add_argument("--json", action="store_true", help="print the whole CallToolResult as JSON")
    _target_flags(call)

    commands.add_parser("demo", help="serve the bundled demo API against a local stand-in and make real calls")

    check = commands.add_parser("check", help="compile documents and report one JSON line each")
    check.add_argument("documents", nargs="+", metavar="DOC")
    check.add_argument("--spec-timeout", type=float, default=10.0, metavar="S")

    doctor = commands.add_parser("doctor", help="check a profile or document end to end and say what to fix")
    doctor.add_argument("target", metavar="TARGET")
    _target_flags(doctor)

    from mcp_gateway.connect import add_commands

    add_commands(commands, _target_flags)  # profiles, config, install
    from mcp_gateway.mcpb import add_command as add_bundle_command

    add_bundle_command(commands)  # Claude Desktop bundles
    return parser


def _options(args: argparse.Namespace) -> TargetOptions:
    return TargetOptions(base_url=args.base_url, api_key_env=args.api_key_env, api_key_header=args.api_key_header,
                         bearer_env=args.bearer_env, spec_timeout=args.spec_timeout,
                         schema_profile=getattr(args, "schema_profile", None),
                         name_budget=getattr(args, "name_budget", None))


def _tool_json(gateway: Gateway) -> list[dict[str, Any]]:
    import mcp_types as types  # the tools as the SDK's model writes them

    tools, _ = gateway.catalog.page(None)
    return [types.Tool.model_validate(tool).model_dump(by_alias=True, exclude_none=True, mode="json")
            for tool in tools]


def run_tools(args: argparse.Namespace) -> int:
    gateway = build_gateway(args.targets, _options(args), strict=False, discovery=args.discovery)
    if args.json:
        print(json.dumps(_tool_json(gateway), indent=2, ensure_ascii=False))
        return 0
    listed, _ = gateway.catalog.page(None)
    for line in tool_lines(tool_rows(gateway), terminal_width(sys.stdout)):  # a table on a terminal
        print(line)
    hidden = len(gateway.catalog) - sum(1 for tool in listed if gateway.catalog.get(tool["name"]))
    print(f"{len(listed)} tools listed" + (f"; {hidden} more operations through search_operations" if hidden else ""),
          file=sys.stderr)
    return 0


def run_call(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f"error: --args is not valid JSON ({exc.msg} at column {exc.colno}); give a JSON object in single "
              "quotes, e.g. --args '{\"id\": 1}'", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print("error: --args must be a JSON object, e.g. '{\"id\": 1}'", file=sys.stderr)
        return 2
    gateway = build_gateway([args.target], _options(args))

    async def once() -> Any:
        try:
            return await gateway.call(args.tool, arguments, CallContext(confirm=terminal_confirmer()))
        finally:
            await gateway.aclose()

    result = anyio.run(once)
    if args.json:
        print(json.dumps(result.model_dump(by_alias=True, exclude_none=True, mode="json"), indent=2,
                         ensure_ascii=False))
    else:
        for block in result.content:
            print(getattr(block, "text", None) or f"[{block.type} content]")
    return 1 if result.is_error else 0


def check_one(source: str, timeout: float) -> dict[str, Any]:
    """Compile one document and report what became of its operations: a bare document with default settings, a
    profile's (or a bundled profile's, by name) with the profile applied, from its fallback when it must."""
    from mcp_gateway.spec import read_document

    report: dict[str, Any] = {"source": source, "ok": False, "operations": 0, "tools": 0, "skipped": [],
                              "error": None}
    started = time.perf_counter()
    try:
        profile, _ = profile_for(source, TargetOptions(spec_timeout=timeout), single=True)
        compilation = compile_document(read_spec(profile, lambda spec: read_document(spec, timeout=timeout)), profile)
    except GatewayError as exc:
        report["error"] = str(exc)
        return report
    except RecursionError:
        report["error"] = f"{source}: the document nests too deeply to read; check that it is the one you meant"
        return report
    report.update(
        ok=True, operations=compilation.operations, tools=len(compilation.tools),
        skipped=[{"operation": s.operation, "reason": s.reason} for s in compilation.skipped],
        seconds=round(time.perf_counter() - started, 3),
    )
    return report


def run_check(args: argparse.Namespace) -> int:
    ok = 0
    progress = Progress(len(args.documents), sys.stderr)  # on a terminal only
    for number, source in enumerate(args.documents, 1):
        with progress.showing(number, source):
            report = check_one(source, args.spec_timeout)
        ok += report["ok"]
        print(json.dumps(report, ensure_ascii=False), flush=True)
    progress.finish(ok, "documents ok")
    return 0 if ok == len(args.documents) else 1


def run_serve(args: argparse.Namespace) -> int:
    if args.transport == "http":
        from mcp_gateway.server import serve_http, transport_security

        # An HTTP bind without its Host checks, or with bad auth flags, is refused before any document is read.
        options = _http_options(args, transport_security(args.host, args.allow_host, args.allow_origin,
                                                         args.allow_any_host))
        gateway = build_gateway(args.targets, _options(args), page_size=args.page_size, discovery=args.discovery)
        gc_for_serving()
        serve_http(gateway, options)
        return 0
    if _team_flags_given(args):
        raise GatewayError(f"{_team_flags_given(args)} serves HTTP only: add --transport http")
    from mcp_gateway.early import serve_stdio  # the SDK is loaded once the handshake is answered

    cache = user_cache(deferred=True)  # written once the tool list is out
    gateway = build_gateway(args.targets, _options(args), page_size=args.page_size, discovery=args.discovery,
                            cache=cache)
    anyio.run(serve_stdio, gateway, cache.flush)
    return 0


def _http_options(args: argparse.Namespace, security: TransportSecuritySettings) -> HttpOptions:
    from mcp_gateway.inbound_auth import inbound_auth
    from mcp_gateway.server import HttpOptions

    if args.stateful and args.workers > 1:
        raise GatewayError("--stateful keeps each session in the process that opened it, so it needs --workers 1 "
                           "(and session affinity at any load balancer)")
    auth = inbound_auth(args.auth_token_env, args.oauth_issuer, args.oauth_audience, args.oauth_jwks_url,
                        args.oauth_scope)
    return HttpOptions(host=args.host, port=args.port, security=security, auth=auth,
                       max_request_bytes=args.max_request_bytes, stateful=args.stateful, workers=args.workers,
                       metrics=args.metrics)


def _team_flags_given(args: argparse.Namespace) -> str | None:
    """The first HTTP-only flag given to a stdio server, as typed."""
    given = {"--auth-token-env": args.auth_token_env, "--oauth-issuer": args.oauth_issuer,
             "--oauth-audience": args.oauth_audience, "--oauth-jwks-url": args.oauth_jwks_url,
             "--oauth-scope": args.oauth_scope, "--stateful": args.stateful, "--workers": args.workers > 1,
             "--metrics": args.metrics}
    return next((flag for flag, value in given.items() if value), None)


def run_doctor(args: argparse.Namespace) -> int:
    from mcp_gateway.doctor import run_doctor as doctor

    return doctor(args.target, _options(args), sys.stdout)


def run_demo(args: argparse.Namespace) -> int:
    from mcp_gateway.demo import run_demo as demo

    return demo()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="mcp-gateway %(levelname)s: %(message)s")
    if args.log_format == "json":
        from mcp_gateway.observe import use_json_logs

        use_json_logs()
    for noisy in ("httpx", "httpcore", "mcp"):  # their INFO lines carry full URLs, which may hold a query key
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    from mcp_gateway.connect import run_config, run_install, run_profiles
    from mcp_gateway.mcpb import run_bundle

    runners = {"serve": run_serve, "tools": run_tools, "call": run_call, "check": run_check, "demo": run_demo,
               "doctor": run_doctor,
               "bundle": run_bundle,
               "profiles": run_profiles, "config": run_config, "install": run_install}
    try:
        return runners[args.command](args)
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # a reader that stopped early (`tools ... | head`): what it read was enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0
