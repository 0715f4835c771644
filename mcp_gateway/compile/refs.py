"""Follow local JSON pointers inside one document (all refs are local once the spec stage has run)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from mcp_gateway.errors import OperationSkipped

_MAX_CHAIN = 32


def pointer_parts(ref: str) -> list[str]:
    """Split `#/a/b~1c` into its unescaped segments; raises OperationSkipped for a non-local ref."""
    if not ref.startswith("#"):
        raise OperationSkipped(f"unresolved reference {ref!r} (the file it names could not be read)")
    path = unquote(ref[1:])
    if not path:
        return []
    if not path.startswith("/"):
        raise OperationSkipped(f"reference {ref!r} is not a JSON pointer")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def lookup(document: Any, ref: str) -> Any:
    """The node a local ref points at; raises OperationSkipped when it is missing."""
    node = document
    for part in pointer_parts(ref):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise OperationSkipped(f"reference {ref!r} points at nothing")
    return node


def deref(document: Any, node: Any) -> Any:
    """Follow a chain of `$ref`s (parameters, bodies, responses, path items) to the node it ends at."""
    for _ in range(_MAX_CHAIN):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        node = lookup(document, node["$ref"])
    raise OperationSkipped("reference chain is too long or circular")
