"""The terminal views: the tools table within the terminal's width, the plain lines scripts read, the progress line."""

from __future__ import annotations

import io

from mcp_gateway.terminal import Progress, ToolRow, cut, plain_lines, table_lines, tool_lines

ROWS = [ToolRow("list_pets", "GET", "/pets", "List the pets in the clinic"),
        ToolRow("delete_pet", "DELETE", "/pets/{petId}", "DELETE /pets/{petId}", "Remove a pet"),
        ToolRow("call_operation", "", "", "Call one operation by name")]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_cut_keeps_the_start_or_the_end():
    assert cut("abcdef", 6) == "abcdef"
    assert cut("abcdef", 4) == "abc…"
    assert cut("/a/long/path.json", 8, keep_end=True) == "…th.json"


def test_the_table_is_aligned_with_a_header_and_summaries():
    lines = table_lines(ROWS, 80)
    assert lines == [
        "NAME            METHOD  PATH           SUMMARY",
        "list_pets       GET     /pets          List the pets in the clinic",
        "delete_pet      DELETE  /pets/{petId}  Remove a pet",  # the title, as the description only says the path
        "call_operation                         Call one operation by name",
    ]


def test_every_table_line_fits_the_width_and_long_paths_are_cut():
    rows = [ToolRow("get_repo_topics", "GET", "/repos/{owner}/{repo}/topics/with/a/very/long/tail", "x" * 200)]
    lines = table_lines(rows, 60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].startswith("get_repo_topics  GET     /repos/{owner}") and lines[1].endswith("…")


def test_the_plain_lines_stay_as_scripts_read_them():
    assert plain_lines(ROWS)[0] == f"{'list_pets':<40} {'GET /pets':<45} List the pets in the clinic"
    assert plain_lines(ROWS)[2] == f"{'call_operation':<40} {'(meta-tool)':<45} Call one operation by name"
    assert tool_lines(ROWS, None) == plain_lines(ROWS)
    assert tool_lines(ROWS, 80) == table_lines(ROWS, 80)


def test_progress_shows_and_wipes_its_line_on_a_terminal_only():
    screen = Terminal()
    progress = Progress(2, screen)
    progress.width = 30  # as a 30-column terminal would say
    with progress.showing(1, "../shared/specs/a-very-long-document-name.json"):
        assert screen.getvalue() == "\r[1/2] …ong-document-name.json"
    assert screen.getvalue().endswith("\r\x1b[K")
    progress.finish(1, "documents ok")
    assert screen.getvalue().endswith("1 of 2 documents ok\n")

    piped = io.StringIO()
    quiet = Progress(2, piped)
    with quiet.showing(1, "a.json"):
        pass
    quiet.finish(2)
    assert piped.getvalue() == ""
    assert Progress(1, Terminal()).width is None  # one document needs no progress
