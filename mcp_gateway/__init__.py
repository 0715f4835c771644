"""mcp-gateway: serve any HTTP API described by OpenAPI as MCP tools."""

__version__ = "0.1.0"
