"""Unit tests of stdin's lines as the event loop reads them: lines split across reads and reads holding many lines
come out whole, in order, and bytes that are no UTF-8 are replaced as the SDK replaces them."""

from __future__ import annotations

import asyncio

import pytest

from mcp_gateway.pipes import _CHUNK, _lines


def lines_of(pieces: list[bytes]) -> list[str]:
    """The lines `_lines` makes of a stream that delivers `pieces`, then ends."""

    async def read() -> list[str]:
        reader = asyncio.StreamReader()
        for piece in pieces:
            reader.feed_data(piece)
        reader.feed_eof()
        return [line async for line in _lines(reader)]

    return asyncio.run(read())


@pytest.mark.parametrize(("pieces", "lines"), [
    ([b"a\nb", b"c\n\nd"], ["a\n", "bc\n", "\n", "d"]),
    ([b"a", b"b", b"c\n", b"d\n"], ["abc\n", "d\n"]),
    ([b"\n"], ["\n"]),
    ([b"no newline"], ["no newline"]),
    ([b"caf\xc3", b"\xa9\n"], ["caf\u00e9\n"]),  # a character split between reads
    ([b"\xff\xfe{}\n"], ["\ufffd\ufffd{}\n"]),
], ids=["split", "pieces", "empty", "unfinished", "split-character", "not-utf8"])
def test_lines_come_out_whole(pieces: list[bytes], lines: list[str]) -> None:
    assert lines_of(pieces) == lines


def test_a_line_of_many_reads_comes_out_whole() -> None:
    line = b"x" * (_CHUNK * 40 + 7)
    assert lines_of([line + b"\nnext\n"]) == [line.decode() + "\n", "next\n"]
