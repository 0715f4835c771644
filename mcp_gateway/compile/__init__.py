"""The compile stage: OpenAPI operations -> MCP tools and call plans."""

from mcp_gateway.compile.tools import Compilation, compile_document

__all__ = ["Compilation", "compile_document"]
