"""The spec stage: load a document, normalise it to OpenAPI 3.x, and bundle its external references."""

from typing import Any

from mcp_gateway.errors import DocumentError
from mcp_gateway.spec.bundle import bundle_external_refs
from mcp_gateway.spec.load import load_document
from mcp_gateway.spec.swagger2 import normalise

__all__ = ["bundle_external_refs", "load_document", "normalise", "read_document"]


def read_document(source: str, timeout: float = 10.0) -> dict[str, Any]:
    """Load, bundle and normalise one OpenAPI or Swagger document into a single OpenAPI 3.x dict."""
    try:
        document, base = load_document(source, timeout=timeout)
        document = bundle_external_refs(document, base, timeout=timeout)
        return normalise(document, source)
    except RecursionError:
        raise DocumentError(source, "nests too deeply to read") from None
