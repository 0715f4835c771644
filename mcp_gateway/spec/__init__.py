"""The spec stage: load a document, normalise it to OpenAPI 3.x, and bundle its external references."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from mcp_gateway.errors import DocumentError
from mcp_gateway.spec.bundle import bundle_external_refs, has_external_ref, may_refer_elsewhere
from mcp_gateway.spec.load import document_base, load_document, load_source, openapi_root, parse_document
from mcp_gateway.spec.swagger2 import normalise

__all__ = ["Parsed", "bundle_external_refs", "deep_nesting_refused", "load_document", "parse_root", "prepare",
           "read_document"]


class Parsed(NamedTuple):
    """A root document as parsed, and whether it refers to other files (then it is more than its own bytes)."""

    document: dict[str, Any]
    refers_elsewhere: bool


def parse_root(data: bytes, source: str) -> Parsed:
    """A root document's bytes parsed, checked to be OpenAPI or Swagger, and searched for other-file refs (in the
    text when that settles it, else in the parsed document)."""
    document = openapi_root(parse_document(data, source), source)
    return Parsed(document, may_refer_elsewhere(data) and has_external_ref(document))


def prepare(parsed: Parsed, source: str, timeout: float = 10.0) -> dict[str, Any]:
    """A parsed root document with its other-file refs bundled, normalised to a single OpenAPI 3.x dict."""
    document = parsed.document
    if parsed.refers_elsewhere:
        document = bundle_external_refs(document, document_base(source), timeout=timeout)
    return normalise(document, source)


@contextmanager
def deep_nesting_refused(source: str) -> Iterator[None]:
    """A document nested deeper than Python can follow becomes a DocumentError naming it."""
    try:
        yield
    except RecursionError:
        raise DocumentError(source, "nests too deeply to read; no API document nests this deep, check that it is "
                                    "the one you meant") from None


def read_document(source: str, timeout: float = 10.0) -> dict[str, Any]:
    """Load, bundle and normalise one OpenAPI or Swagger document into a single OpenAPI 3.x dict."""
    with deep_nesting_refused(source):
        return prepare(load_source(source, timeout, parse_root), source, timeout)
