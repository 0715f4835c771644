"""The command line: serve, tools, call, check."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

import anyio

from mcp_gateway import __version__
from mcp_gateway.build import TargetOptions, build_gateway
from mcp_gateway.compile import compile_document
from mcp_gateway.errors import GatewayError
from mcp_gateway.gateway import Gateway
from mcp_gateway.profile import Profile

log = logging.getLogger("mcp_gateway")

EPILOG = """examples:
  mcp-gateway serve tool_specs/demo.yaml
  mcp-gateway serve openapi.json --base-url https://api.example.com --bearer-env EXAMPLE_TOKEN
  mcp-gateway tools tool_specs/lium.yaml
  mcp-gateway call tool_specs/demo.yaml list_pets --args '{"limit": 2}'
  mcp-gateway check ../specs/*.json
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-gateway", description="Serve any HTTP API described by OpenAPI as MCP tools.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mcp-gateway {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level; logs always go to stderr")
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
    _target_flags(serve)

    tools = commands.add_parser("tools", help="print the tools that serve would expose")
    tools.add_argument("targets", nargs="+", metavar="TARGET")
    tools.add_argument("--json", action="store_true",
                       help="the JSON array of MCP Tool objects, as tools/list sends them")
    _discovery_flag(tools)
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
    return parser


def _options(args: argparse.Namespace) -> TargetOptions:
    return TargetOptions(base_url=args.base_url, api_key_env=args.api_key_env, api_key_header=args.api_key_header,
                         bearer_env=args.bearer_env, spec_timeout=args.spec_timeout)


def _tool_json(gateway: Gateway) -> list[dict[str, Any]]:
    tools, _ = gateway.catalog.page(None)
    return [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]


def run_tools(args: argparse.Namespace) -> int:
    gateway = build_gateway(args.targets, _options(args), strict=False, discovery=args.discovery)
    if args.json:
        print(json.dumps(_tool_json(gateway), indent=2, ensure_ascii=False))
        return 0
    listed, _ = gateway.catalog.page(None)
    for tool in listed:
        entry = gateway.catalog.get(tool.name)
        first = (tool.description or "").split("\n", 1)[0][:70]
        print(f"{tool.name:<40} {entry[0].operation if entry else '(meta-tool)':<45} {first}")
    hidden = len(gateway.catalog) - sum(1 for tool in listed if gateway.catalog.get(tool.name))
    print(f"{len(listed)} tools listed" + (f"; {hidden} more operations through search_operations" if hidden else ""),
          file=sys.stderr)
    return 0


def run_call(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f"error: --args is not valid JSON ({exc.msg} at column {exc.colno})", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print("error: --args must be a JSON object, e.g. '{\"id\": 1}'", file=sys.stderr)
        return 2
    gateway = build_gateway([args.target], _options(args))

    async def once() -> Any:
        try:
            return await gateway.call(args.tool, arguments)
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
    """Compile one document with default settings and report what became of its operations."""
    from mcp_gateway.spec import read_document

    report: dict[str, Any] = {"source": source, "ok": False, "operations": 0, "tools": 0, "skipped": [],
                              "error": None}
    started = time.perf_counter()
    try:
        compilation = compile_document(read_document(source, timeout=timeout), Profile(spec=source))
    except GatewayError as exc:
        report["error"] = str(exc)
        return report
    except RecursionError:
        report["error"] = f"{source}: the document nests too deeply to read"
        return report
    report.update(
        ok=True, operations=compilation.operations, tools=len(compilation.tools),
        skipped=[{"operation": s.operation, "reason": s.reason} for s in compilation.skipped],
        seconds=round(time.perf_counter() - started, 3),
    )
    return report


def run_check(args: argparse.Namespace) -> int:
    ok = True
    for source in args.documents:
        report = check_one(source, args.spec_timeout)
        ok = ok and report["ok"]
        print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if ok else 1


def run_serve(args: argparse.Namespace) -> int:
    from mcp_gateway.server import serve_http, serve_stdio, transport_security

    # An HTTP bind without its Host checks is refused before any document is read.
    security = (transport_security(args.host, args.allow_host, args.allow_origin, args.allow_any_host)
                if args.transport == "http" else None)
    gateway = build_gateway(args.targets, _options(args), page_size=args.page_size, discovery=args.discovery)
    if security is not None:
        anyio.run(serve_http, gateway, args.host, args.port, security)
    else:
        anyio.run(serve_stdio, gateway)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from mcp_gateway.demo import run_demo as demo

    return demo()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="mcp-gateway %(levelname)s: %(message)s")
    for noisy in ("httpx", "httpcore", "mcp"):  # their INFO lines carry full URLs, which may hold a query key
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    runners = {"serve": run_serve, "tools": run_tools, "call": run_call, "check": run_check, "demo": run_demo}
    try:
        return runners[args.command](args)
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
