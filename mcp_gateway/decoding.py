"""Content codings undone step by step: a few compressed bytes never expand past what the reader takes, so a
decompression bomb costs no more memory than the reader's own limit. Used for answers and for documents."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

ACCEPT_ENCODING = "gzip, deflate"  # what ContentDecoder undoes, whatever httpx could decode with optional packages
DECODE_STEP = 64 * 1024  # the most one content-coding layer produces at a time
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class UndecodableError(Exception):
    """A body that cannot be decoded: an unknown coding (`unknown` names them) or corrupt data (`coding`)."""

    def __init__(self, detail: str, unknown: list[str] | None = None, coding: str = "") -> None:
        self.unknown = unknown or []
        self.coding = coding
        super().__init__(detail)


class ContentDecoder:
    """Undoes a body's content codings, the last applied first. Each layer makes at most DECODE_STEP bytes at a
    time, and only when the next one asks."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        self.unknown = [c for c in codings if c not in _WBITS]  # codings no layer here can undo
        self._layers = [_Inflater(c) for c in reversed(codings) if c in _WBITS]

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """`raw`, decoded lazily, piece by piece."""
        if self.unknown and raw:
            raise UndecodableError(", ".join(self.unknown), unknown=self.unknown)
        pieces: Iterator[bytes] = iter((raw,))
        for layer in self._layers:
            pieces = layer.inflate(pieces)
        return pieces


class _Inflater:
    """One gzip or deflate layer, on zlib with a bound on each call's output."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._zlib = zlib.decompressobj(_WBITS[coding])
        self._may_be_raw = coding == "deflate"  # until its first bytes decode: some servers send raw deflate

    def inflate(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """`pieces` decoded, DECODE_STEP bytes at most at a time, taking each piece only when the last is used up;
        nothing after the end of the compressed data."""
        for data in pieces:
            while not self._zlib.eof:
                out = self._decompress(data)
                data = self._zlib.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < DECODE_STEP:  # input used up, and no output held back
                    break
            if self._zlib.eof:
                return

    def _decompress(self, data: bytes) -> bytes:
        try:
            out = self._zlib.decompress(data, DECODE_STEP)
        except zlib.error as exc:
            if not self._may_be_raw:
                raise UndecodableError(str(exc), coding=self.coding) from None
            self._may_be_raw = False
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._decompress(data)
        self._may_be_raw = False
        return out
