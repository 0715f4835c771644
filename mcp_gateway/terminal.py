"""What the command line shows a person at a terminal: the tools as an aligned table cut to the terminal's width,
and a progress line while `check` works through many documents. Piped output stays as scripts read it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mcp_gateway.gateway import Gateway

_GAP = "  "
_ELLIPSIS = "…"


def terminal_width(stream: TextIO) -> int | None:
    """The width of the terminal `stream` writes to (COLUMNS wins, as shells set it); None when it is not one."""
    try:
        attached = stream.isatty()
    except ValueError:  # a closed stream
        return None
    return shutil.get_terminal_size().columns if attached else None


def cut(text: str, width: int, keep_end: bool = False) -> str:
    """`text` within `width` characters; a longer one loses its end (or, `keep_end`, its start) to an ellipsis."""
    if len(text) <= width:
        return text
    if width <= 1:
        return _ELLIPSIS[:width]
    return _ELLIPSIS + text[len(text) - width + 1:] if keep_end else text[:width - 1] + _ELLIPSIS


@dataclass(frozen=True)
class ToolRow:
    """One listed tool as a person reads it: its operation (none for a meta-tool) and the first line said of it."""

    name: str
    method: str
    path: str
    first_line: str  # of the description
    title: str = ""

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}" if self.method else "(meta-tool)"

    @property
    def summary(self) -> str:
        """The first line of the description, or the title where that line only repeats `METHOD /path`."""
        return self.title if self.first_line == self.operation else self.first_line


def tool_rows(gateway: Gateway) -> list[ToolRow]:
    """The tools `serve` would list (the meta-tools and pinned tools in discovery mode), in their order."""
    listed, _ = gateway.catalog.page(None)
    rows = []
    for tool in listed:
        entry = gateway.catalog.get(tool["name"])
        plan = entry[0].plan if entry else None
        rows.append(ToolRow(tool["name"], plan.method if plan else "", plan.path if plan else "",
                            (tool.get("description") or "").split("\n", 1)[0], tool.get("title") or ""))
    return rows


def plain_lines(rows: list[ToolRow]) -> list[str]:
    """One line per tool for scripts and pipes: name, operation and the description's first 70 characters."""
    return [f"{row.name:<40} {row.operation:<45} {row.first_line[:70]}" for row in rows]


def table_lines(rows: list[ToolRow], width: int) -> list[str]:
    """An aligned table with a header, every line within `width`: names whole where they fit, long paths and
    summaries cut with an ellipsis."""
    header = ToolRow("NAME", "METHOD", "PATH", "SUMMARY")
    every = [header, *rows]
    name_width = max(len(row.name) for row in every)
    method_width = max(len(row.method) for row in every)
    room = width - name_width - method_width - 3 * len(_GAP)
    path_width = min(max(len(row.path) for row in every), max(len("PATH"), room // 2))
    lines = []
    for row in every:
        summary = "SUMMARY" if row is header else row.summary
        line = _GAP.join([row.name.ljust(name_width), row.method.ljust(method_width),
                          cut(row.path, path_width).ljust(path_width), summary])
        lines.append(cut(line.rstrip(), width))
    return lines


def tool_lines(rows: list[ToolRow], width: int | None) -> list[str]:
    """The table on a terminal of `width` columns, the plain lines when not on one (`width` None)."""
    return table_lines(rows, width) if width else plain_lines(rows)


class Progress:
    """`[n/total] item` on one line of a terminal, rewritten for each item and wiped before anything else is
    printed; nothing at all when the stream is not a terminal or there is a single item."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.width = terminal_width(stream) if total > 1 else None

    @contextmanager
    def showing(self, number: int, item: str) -> Iterator[None]:
        """Show item `number` while the block works on it; the line is gone when the block ends."""
        if self.width is None:
            yield
            return
        label = f"[{number}/{self.total}] "
        self.stream.write("\r" + label + cut(item, max(self.width - 1 - len(label), 1), keep_end=True))
        self.stream.flush()
        try:
            yield
        finally:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self, good: int, noun: str = "ok") -> None:
        """On a terminal, one closing line: how many of the items were `noun`."""
        if self.width is not None:
            self.stream.write(f"{good} of {self.total} {noun}\n")
            self.stream.flush()
