"""`mcp-gateway demo`: a stand-in Pet Clinic upstream on 127.0.0.1, the real server over stdio, real calls."""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio

from mcp_gateway.bundled import folder

PROFILE = folder() / "demo.yaml"


class PetClinic(ThreadingHTTPServer):
    """An in-memory implementation of tool_specs/demo.openapi.yaml that checks the API key."""

    daemon_threads = True

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.pets: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "Mia", "species": "cat", "age": 3}}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: PetClinic
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorised(self) -> bool:
        if self.headers.get("X-API-Key") == self.server.api_key:
            return True
        self._send(401, {"error": {"message": "missing or wrong X-API-Key", "type": "auth"}})
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        with self.server.lock:
            pets = list(self.server.pets.values())
        if path == "/pets":
            if "species" in params:
                pets = [p for p in pets if p["species"] == params["species"]]
            limit = int(params.get("limit", 20))
            return self._send(200, {"pets": pets[:limit], "total": len(pets)})
        pet_id = path.rsplit("/", 1)[-1]
        pet = self.server.pets.get(int(pet_id)) if pet_id.isdigit() else None
        if pet is None:
            return self._send(404, {"error": {"message": f"no pet with id {pet_id}", "type": "not_found"}})
        return self._send(200, pet)

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with self.server.lock:
            pet = {"id": max(self.server.pets, default=0) + 1, **body}
            self.server.pets[pet["id"]] = pet
        self._send(201, pet)

    def do_DELETE(self) -> None:
        if not self._authorised():
            return
        pet_id = self.path.rsplit("/", 1)[-1]
        with self.server.lock:
            found = self.server.pets.pop(int(pet_id), None) if pet_id.isdigit() else None
        self._send(204) if found else self._send(404, {"error": {"message": f"no pet with id {pet_id}"}})


async def _drive(url: str, api_key: str) -> int:
    from mcp import Client, StdioServerParameters
    from mcp_types import TextContent

    env = {**os.environ, "DEMO_API_KEY": api_key, "DEMO_BASE_URL": url}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_gateway", "--log-level", "WARNING", "serve", str(PROFILE)], env=env)
    async with Client(params, read_timeout_seconds=30) as client:
        tools = (await client.list_tools()).tools
        print(f"tools/list: {len(tools)} tools from {PROFILE.name}")
        for tool in tools:
            print(f"  {tool.name:<12} {(tool.description or '').splitlines()[0]}")
        calls: list[tuple[str, dict[str, Any]]] = [("create_pet", {"name": "Rex", "species": "dog", "age": 2}),
                 ("list_pets", {"limit": 10}),
                 ("get_pet", {"petId": 99}),
                 ("create_pet", {"name": "Tweety", "species": "dragon"})]
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            status = "isError" if result.is_error else "ok"
            text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
            print(f"\ntools/call {name} {json.dumps(arguments)} -> {status}\n  {text}")
    return 0


def run_demo() -> int:
    """Start the stand-in, drive the real server through the official MCP client, then stop."""
    api_key = "demo-" + secrets.token_hex(8)
    clinic = PetClinic(api_key)
    threading.Thread(target=clinic.serve_forever, daemon=True).start()
    print(f"stand-in Pet Clinic upstream at {clinic.url}\n")
    try:
        return anyio.run(_drive, clinic.url, api_key)
    finally:
        clinic.shutdown()
        clinic.server_close()
