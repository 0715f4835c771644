"""The bundled gateway profiles and their fallback documents, installed as the package `mcp_gateway.tool_specs`."""
