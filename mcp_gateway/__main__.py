"""Entry point for `python -m mcp_gateway`."""

from mcp_gateway.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
