"""The tools being served: found by name, listed (all, or what discovery mode shows) in pages, with near names
for a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from mcp_gateway.plan import CompiledTool

Owner = TypeVar("Owner")


class Catalog(Generic[Owner]):
    """Every tool with the thing that serves it (its API), in document order, and the tools/list pages."""

    def __init__(self, entries: Iterable[tuple[CompiledTool, Owner]], page_size: int,
                 listed: Iterable[dict[str, Any]] | None = None) -> None:
        """`listed`: what tools/list shows (in discovery mode), when not every tool."""
        self.page_size = page_size
        self.entries: dict[str, tuple[CompiledTool, Owner]] = {tool.name: (tool, owner) for tool, owner in entries}
        # plain dicts, as tools/list sends them (the SDK checks each page it sends against its wire models)
        self._listed = list(listed) if listed is not None else [tool.to_mcp() for tool, _ in self.entries.values()]

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: str) -> tuple[CompiledTool, Owner] | None:
        """The tool of that name and its owner, if there is one."""
        return self.entries.get(name)

    def closest(self, name: str, count: int = 3) -> list[str]:
        """Tool names that look like `name`, best first (for an unknown tool's error)."""
        lowered = {tool.lower(): tool for tool in self.entries}
        found = difflib.get_close_matches(name.lower(), list(lowered), n=count, cutoff=0.6)
        return [lowered[match] for match in found]

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The input schema of a tool, for the SDK's header validation."""
        entry = self.entries.get(name)
        return entry[0].input_schema if entry else None

    def page(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of tools/list; the cursor is the offset of the next page."""
        if cursor and not cursor.isdigit():
            raise ValueError(f"invalid cursor {cursor!r}")
        start = int(cursor) if cursor else 0
        if self.page_size <= 0:
            return self._listed, None
        end = start + self.page_size
        return self._listed[start:end], (str(end) if end < len(self._listed) else None)
