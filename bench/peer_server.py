"""FastMCP's OpenAPI server, run with bench/.venv-peer's Python: peer_server.py DOC BASE_URL [PORT].

Without PORT it serves stdio; with one, streamable HTTP at http://127.0.0.1:PORT/mcp (FastMCP's defaults).
"""

from __future__ import annotations

import json
import sys

import httpx2
from fastmcp import FastMCP


def main() -> None:
    """Build the server from the document and serve it on stdin/stdout, or over HTTP when a port is given."""
    document, base_url = sys.argv[1], sys.argv[2]
    with open(document, encoding="utf-8") as handle:
        spec = json.load(handle)
    client = httpx2.AsyncClient(base_url=base_url, timeout=30)
    server = FastMCP.from_openapi(openapi_spec=spec, client=client, name="fastmcp-peer")
    if len(sys.argv) > 3:
        server.run(transport="http", host="127.0.0.1", port=int(sys.argv[3]), show_banner=False, log_level="warning")
    else:
        server.run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
