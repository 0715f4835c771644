"""FastMCP's OpenAPI server over stdio; run with bench/.venv-peer's Python: peer_server.py DOC BASE_URL."""

from __future__ import annotations

import json
import sys

import httpx2
from fastmcp import FastMCP


def main() -> None:
    """Build the server from the document and serve it on stdin/stdout."""
    document, base_url = sys.argv[1], sys.argv[2]
    with open(document, encoding="utf-8") as handle:
        spec = json.load(handle)
    client = httpx2.AsyncClient(base_url=base_url, timeout=30)
    server = FastMCP.from_openapi(openapi_spec=spec, client=client, name="fastmcp-peer")
    server.run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
