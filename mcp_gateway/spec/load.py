"""Read a document from a path or an http(s) URL and parse it as JSON or YAML, within a size limit.

Every byte read is counted: a local file by its size before reading, a download as it streams, after each
`Content-Encoding` layer is undone, so a small compressed answer cannot expand into memory or onto disk. A
fetched document is cached only once it parsed, so the copy that stands in when the URL fails is usable.
What a document's bytes become is the caller's `interpret` step: parsing, or finding its compiled tools.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import yaml

from mcp_gateway.decoding import ACCEPT_ENCODING, ContentDecoder, UndecodableError
from mcp_gateway.errors import DocumentError, GatewayError

log = logging.getLogger("mcp_gateway")

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # GitHub's REST API document, among the largest published, is 13 MB
LIMIT_VARIABLE = "MCP_GATEWAY_MAX_DOCUMENT_BYTES"
_MAX_REDIRECTS = 10

T = TypeVar("T")
ErrorFactory = Callable[[str, str], GatewayError]  # (source, message) -> the error to raise
Interpret = Callable[[bytes, str], T]  # (UTF-8 bytes, maybe with a BOM; source) -> what the caller needs
_BOM = b"\xef\xbb\xbf"
_ASCII = bytes(range(128))
_JSON_START = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*[\[{]")
_JSON_ESCAPE = "mcp_gateway.json_escape"


def _document_loader() -> type[yaml.SafeLoader]:
    """The safe YAML loader (libyaml's when present) that keeps dates as strings, so every value stays
    JSON-serialisable."""
    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {first: [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:timestamp"]
                 for first, entries in base.yaml_implicit_resolvers.items()}
    return type("_DocumentLoader", (base,), {"yaml_implicit_resolvers": resolvers})


_DocumentLoader = _document_loader()


def is_url(source: str) -> bool:
    """True when the source is an http(s) URL rather than a file path."""
    return source.startswith(("http://", "https://"))


def cache_dir() -> Path:
    """Where fetched documents are kept: $MCP_GATEWAY_CACHE_DIR, else ~/.cache/mcp-gateway."""
    configured = os.environ.get("MCP_GATEWAY_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "mcp-gateway"


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file whole: readers see the old content or the new, never half of it (raises OSError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def max_document_bytes() -> int:
    """The most bytes a document may have once decompressed: $MCP_GATEWAY_MAX_DOCUMENT_BYTES, else 64 MiB."""
    configured = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not configured:
        return MAX_DOCUMENT_BYTES
    if not configured.isdigit() or int(configured) < 1:
        raise DocumentError(LIMIT_VARIABLE, f"must be a whole number of bytes, e.g. {MAX_DOCUMENT_BYTES} "
                                            f"(it is {configured!r})")
    return int(configured)


def _too_large(limit: int) -> str:
    size = f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit} bytes"
    return (f"is larger than the {size} a document may have (counted after decompression); if it is genuine, "
            f"set {LIMIT_VARIABLE} to a larger number of bytes")


def _text_encoding(charset: str | None) -> str:
    """The codec of a declared charset; UTF-8 when none is declared or it names no text encoding."""
    try:
        codec = codecs.lookup(charset or "utf-8")
    except LookupError:
        return "utf-8"
    return codec.name if codec._is_text_encoding else "utf-8"  # not rot13, base64 or zlib


def _undecodable(exc: UnicodeDecodeError, source: str, encoding: str, error: ErrorFactory = DocumentError
                 ) -> GatewayError:
    """The error for bytes that do not decode: it names the source and the first bad byte."""
    label = "UTF-8" if encoding == "utf-8" else encoding
    return error(source, f"cannot be read as {label} (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                         "save it as UTF-8")


def _decode(data: bytes, source: str, charset: str | None = None, error: ErrorFactory = DocumentError) -> str:
    """The text of `data` in its declared charset, else UTF-8 (a BOM is dropped); bytes that do not decode
    are an error naming the source and the first bad byte."""
    encoding = _text_encoding(charset)
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise _undecodable(exc, source, encoding, error) from None


def _json_escaped(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: the UTF-8 characters at `exc.start` as JSON `\\u` escapes, so that the text stays
    ASCII; a character right after a backslash stays as it is (an escape of it would change its meaning)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    data, start = exc.object, exc.start
    end = start
    while end < len(data) and data[end] >= 0x80:
        end += 1
    try:
        text = data[start:end].decode("utf-8")
    except UnicodeDecodeError as bad:
        raise UnicodeDecodeError("utf-8", data, start + bad.start, start + bad.end, bad.reason) from None
    return (text if start and data[start - 1] == ord("\\") else json.dumps(text)[1:-1]), end


codecs.register_error(_JSON_ESCAPE, _json_escaped)


def _json_text(data: bytes, source: str) -> str:
    """UTF-8 JSON as text, a BOM dropped. Python stores a str in the width of its widest character (one emoji
    makes GitHub's 13 MB document 52 MB of text), so where other characters are rare they become `\\u` escapes
    and the text stays ASCII; where they are not, escaping them would cost more than it saves."""
    if len(data.translate(None, _ASCII)) * 1000 > len(data):
        return _decode(data, source)
    try:
        text = data.decode("ascii", _JSON_ESCAPE)
    except UnicodeDecodeError as exc:
        raise _undecodable(exc, source, "utf-8") from None
    return text.removeprefix("\\ufeff") if data.startswith(_BOM) else text


def read_local_bytes(path: str, limit: int, error: ErrorFactory = DocumentError) -> bytes:
    """The bytes of a local file, refusing one larger than `limit` bytes before reading it."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1) if size <= limit else b""  # read() is bounded for pipes and devices
    except FileNotFoundError:
        raise error(path, "no such file; check the path") from None
    except OSError as exc:
        raise error(path, f"cannot be read ({exc.__class__.__name__}: {exc.strerror or exc}); check that it is a "
                          "file you may read") from None
    if max(size, len(data)) > limit:
        raise error(path, _too_large(limit))
    return data


def read_local_text(path: str, limit: int, error: ErrorFactory = DocumentError) -> str:
    """The text of a local file, refusing one larger than `limit` bytes before reading it."""
    return _decode(read_local_bytes(path, limit, error), path, error=error)


def _body(response: httpx.Response, url: str, limit: int) -> bytes:
    """The body of a streamed response with its Content-Encoding undone, refused past `limit` decoded bytes."""
    decoder = ContentDecoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    try:
        if decoder.unknown:  # refused before a byte is read
            raise UndecodableError(", ".join(decoder.unknown), unknown=decoder.unknown)
        for raw in response.iter_raw():
            for piece in decoder.decode(raw):
                body += piece
                if len(body) > limit:
                    raise DocumentError(url, _too_large(limit))
    except UndecodableError as exc:
        if exc.unknown:
            raise DocumentError(url, f"is sent with Content-Encoding {', '.join(exc.unknown)}, which cannot be "
                                     "decoded here (gzip and deflate can); download it and give its path") from None
        raise DocumentError(url, f"is sent as {exc.coding} but cannot be decompressed ({exc}); try again, or download "
                                 "it and give its path") from None
    return bytes(body)


class _Fetched(NamedTuple):
    data: bytes  # UTF-8
    etag: str | None


def _answer(response: httpx.Response, url: str, etag: str | None, limit: int) -> _Fetched | None:
    """The document a final (not redirecting) response carries, as UTF-8 (a declared charset is converted);
    None for a 304 to `etag`."""
    if response.status_code == 304 and etag:
        return None
    if not response.is_success:
        hint = ("the document needs credentials: download it and give its path" if response.status_code in (401, 403)
                else "check the URL")
        raise DocumentError(url, f"fetch returned HTTP {response.status_code}; {hint}")
    data = _body(response, url, limit)
    if _text_encoding(response.charset_encoding) != "utf-8":
        data = _decode(data, url, response.charset_encoding).encode()
    return _Fetched(data, response.headers.get("etag"))


def _download(url: str, timeout: float, etag: str | None, limit: int) -> _Fetched | None:
    """GET a document within `limit` bytes, following redirects without reading their bodies (httpx would
    read and decompress each one whole); None when the server answers 304 to `etag`."""
    headers = {"Accept-Encoding": ACCEPT_ENCODING}
    if etag:
        headers["If-None-Match"] = etag
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            request = client.build_request("GET", url)
            for _ in range(_MAX_REDIRECTS + 1):
                response = client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        return _answer(response, url, etag, limit)
                    request = response.next_request
                finally:
                    response.close()
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DocumentError(url, f"could not fetch ({type(exc).__name__}); check the URL and the network") from None
    raise DocumentError(url, f"redirects more than {_MAX_REDIRECTS} times; check the URL")


@dataclass(frozen=True)
class _CacheEntry:
    """The last copy of one URL's document that parsed, with its ETag, on disk."""

    body: Path
    etag: Path

    @classmethod
    def of(cls, url: str) -> _CacheEntry:
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        return cls(cache_dir() / f"{key}.doc", cache_dir() / f"{key}.etag")

    def validator(self) -> str | None:
        """The ETag to revalidate with, when there is a copy to fall back on and the ETag can be sent (ASCII)."""
        try:
            etag = self.etag.read_text(encoding="utf-8").strip() if self.body.exists() else ""
        except (OSError, UnicodeDecodeError):
            return None
        return etag if etag.isascii() and etag.isprintable() and etag else None

    def load(self, url: str, interpret: Interpret[T], limit: int) -> T | None:
        """The cached copy interpreted; None when there is none, or it is unusable (then it is removed)."""
        if not self.body.exists():
            return None
        try:
            return _read_file(str(self.body), interpret, limit)
        except DocumentError as exc:
            log.warning("the copy of %s cached on disk is unusable, removing it: %s", url, exc)
            self.remove()
            return None

    def store(self, url: str, fetched: _Fetched) -> None:
        """Keep a copy that parsed; a failure to write is a warning, never an error."""
        try:
            self.etag.unlink(missing_ok=True)  # no stale ETag may ever describe the new copy
            write_atomically(self.body, fetched.data)
            if fetched.etag:
                self.etag.write_text(fetched.etag, encoding="utf-8")
        except OSError as exc:
            log.warning("could not cache %s (%s); it is fetched again next time: check that %s is writable",
                        url, exc, cache_dir())

    def remove(self) -> None:
        """Forget the copy and its ETag."""
        for path in (self.body, self.etag):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s (%s); delete it by hand", path, exc)


def _read_file(path: str, interpret: Interpret[T], limit: int) -> T:
    """A local file read and interpreted."""
    return interpret(read_local_bytes(path, limit), path)


def _fetch(url: str, timeout: float, interpret: Interpret[T], limit: int, entry: _CacheEntry, etag: str | None
           ) -> T:
    """Download and interpret a document, then cache it; a 304 answer to `etag` gives the cached copy."""
    fetched = _download(url, timeout, etag, limit)
    if fetched is None:
        cached = entry.load(url, interpret, limit)
        return cached if cached is not None else _fetch(url, timeout, interpret, limit, entry, None)
    data = interpret(fetched.data, url)
    entry.store(url, fetched)
    return data


def _load_url(url: str, timeout: float, interpret: Interpret[T], limit: int) -> T:
    """A fetched document; when it cannot be fetched or is unusable, the cached copy, with a warning."""
    entry = _CacheEntry.of(url)
    try:
        return _fetch(url, timeout, interpret, limit, entry, entry.validator())
    except DocumentError as exc:
        cached = entry.load(url, interpret, limit)
        if cached is None:
            raise
        log.warning("%s; using the copy cached on disk at %s", exc, entry.body)
        return cached


def load_source(source: str, timeout: float, interpret: Interpret[T]) -> T:
    """A path or URL read within the document size limit and interpreted; a URL is fetched, revalidated and
    cached on disk, the cached copy standing in (with a warning) when the fetch fails or is unusable."""
    limit = max_document_bytes()  # an invalid setting is an error before any cached copy is touched
    return _load_url(source, timeout, interpret, limit) if is_url(source) else _read_file(source, interpret, limit)


def looks_like_json(data: bytes) -> bool:
    """Whether a document's bytes start like JSON (after a BOM and whitespace): the json module tries it first."""
    return _JSON_START.match(data) is not None


def parse_document(data: bytes, source: str) -> Any:
    """Parse a document's UTF-8 bytes as JSON (fast path, from ASCII text) or YAML."""
    if looks_like_json(data):
        try:
            return json.loads(_json_text(data, source))
        except json.JSONDecodeError:
            pass  # YAML is a superset of JSON in practice; let YAML report the error
    return parse_text(_decode(data, source), source)


def parse_text(text: str, source: str) -> Any:
    """Parse YAML text (JSON is YAML too)."""
    try:
        data = yaml.load(text, Loader=_DocumentLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DocumentError(source, f"is neither valid JSON nor valid YAML{where}; fix the syntax there, or check "
                                    "that it is the document itself") from None
    _check_aliases(data, source, limit=20 * len(text) + 100_000)
    return data


def _check_aliases(data: Any, source: str, limit: int) -> None:
    """Refuse YAML whose aliases make a cycle or expand far past the text (a "billion laughs" document).

    Every later stage walks the document as a tree, so a shared node costs once per path to it;
    sizes are counted per distinct node, which keeps this check linear in the text.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, dict | list) or (id(node) in sizes and not children_done):
            continue
        children = [v for v in (node.values() if isinstance(node, dict) else node) if isinstance(v, dict | list)]
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + len(node) + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > limit:
                raise DocumentError(source, "YAML aliases expand it to far more nodes than its text has; "
                                            "write the repeated parts out or use $ref")
            continue
        if id(node) in open_nodes:
            raise DocumentError(source, "a YAML alias refers to a node that contains it (a cycle); use $ref instead")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def openapi_root(data: Any, source: str) -> dict[str, Any]:
    """The root document, if it is a mapping with an `openapi` or `swagger` key (normalise checks the version)."""
    hint = "check that it is the document itself and not a web page"
    if not isinstance(data, dict):
        raise DocumentError(source, f"the top level must be a mapping (an OpenAPI or Swagger object); {hint}")
    if not {"openapi", "swagger"} & data.keys():
        raise DocumentError(source, f"is not an OpenAPI 3.x or Swagger 2.0 document (no `openapi` or `swagger` key at "
                                    f"the top); {hint}")
    return data


def _json_or_yaml(data: Any, source: str) -> Any:
    """A referenced file, if its top level is a mapping or a list (not a lone string, as a web page parses)."""
    if not isinstance(data, dict | list):
        raise DocumentError(source, "is not a JSON or YAML document (its top level is neither a mapping nor a list); "
                                    "check the $ref that names it")
    return data


def load_referenced(location: str, timeout: float) -> Any:
    """Load a file that a document refers to (cached when fetched, like documents)."""
    return load_source(location, timeout, lambda data, source: _json_or_yaml(parse_document(data, source), source))


def document_base(source: str) -> str:
    """What the relative refs of the document at `source` resolve against."""
    return source if is_url(source) else str(Path(source).resolve())


def load_document(source: str, timeout: float = 10.0) -> tuple[dict[str, Any], str]:
    """Load the root document; returns the parsed dict and the base that relative refs resolve against."""
    data = load_source(source, timeout, lambda data, where: openapi_root(parse_document(data, where), where))
    return data, document_base(source)
