"""The OpenAPI vocabulary both the spec and the compile stage read: methods, servers, security schemes.

Real documents are often malformed; these accessors treat a value of the wrong type as absent.
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a mapping, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """The value when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """The value stripped when it is a string, else empty (a `summary: 3` is no summary)."""
    return value.strip() if isinstance(value, str) else ""


def server_url(servers: Any) -> str | None:
    """The first server's URL with its variables at their defaults (relative URLs stay relative)."""
    first = as_list(servers)[:1]
    if not first or not isinstance(first[0], dict) or not isinstance(first[0].get("url"), str):
        return None
    url: str = first[0]["url"]
    for name, var in as_dict(first[0].get("variables")).items():
        default = var.get("default") if isinstance(var, dict) else None
        if default is not None:
            url = url.replace("{" + str(name) + "}", str(default))
    return url


def security_schemes(document: dict[str, Any]) -> dict[str, Any]:
    """The document's `components.securitySchemes` (a malformed one counts as none)."""
    return as_dict(as_dict(document.get("components")).get("securitySchemes"))
