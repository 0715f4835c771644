"""CallPlan + arguments -> the parts of one HTTP request (pure: no I/O, no auth)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes, urlencode

import httpx

from mcp_gateway.errors import UpstreamError
from mcp_gateway.exchange import RequestParts
from mcp_gateway.jsontext import json_text
from mcp_gateway.media import charset, extension, is_json, is_media_type
from mcp_gateway.plan import BodyPlan, CallPlan, FieldEncoding, ParamBinding


def text(value: Any) -> str:
    """A scalar as it is written in a URL, header or form: JSON spelling for booleans and numbers."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json_text(value)


@dataclass(frozen=True, slots=True)
class FileContent:
    """A file argument's bytes, with the media type and file name a data: URL gave them (None otherwise)."""

    data: bytes
    media_type: str | None = None
    name: str | None = None


def file_content(value: Any, field: str) -> FileContent:
    """File or binary body content: a data: URL (RFC 2397, `data:audio/wav;name=a.wav;base64,...`), base64 when it
    decodes cleanly, else the text itself as UTF-8. `field` names the argument in an error."""
    if isinstance(value, str) and value.lstrip()[:5].lower() == "data:" and "," in value:
        return _data_url(value.strip()[5:], field)
    return FileContent(decode_bytes(value))


_URL_SAFE = str.maketrans("-_", "+/")  # base64url spelled as base64


def _data_url(url: str, field: str) -> FileContent:
    """The part of a data: URL after `data:`; its `name` (or `filename`) parameter names the file."""
    header, _, payload = url.partition(",")
    pieces = [piece.strip() for piece in header.split(";")]
    encoded = len(pieces) > 1 and pieces[-1].lower() == "base64"
    pieces = pieces[:-1] if encoded else pieces
    media = pieces.pop(0) if pieces and is_media_type(pieces[0]) else None
    params = {key.strip().lower(): unquote(value.strip().strip('"')) for key, _, value in
              (piece.partition("=") for piece in pieces if "=" in piece)}
    name = (params.pop("name", None) or params.pop("filename", None) or "").replace("\\", "/").rsplit("/", 1)[-1]
    if media is not None and params:
        media += "".join(f"; {key}={value}" for key, value in params.items())
    if not encoded:
        return FileContent(unquote_to_bytes(payload), media, name or None)
    compact = "".join(unquote(payload).split()).translate(_URL_SAFE)
    try:
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError(f"`{field}` is a data: URL whose content after `;base64,` is not base64; nothing was "
                            "sent. Send the file's bytes base64-encoded there") from None
    return FileContent(data, media, name or None)


def decode_bytes(value: Any) -> bytes:
    """Base64 when it decodes cleanly, else the text itself as UTF-8."""
    if not isinstance(value, str):
        return text(value).encode()
    lines = value.strip().splitlines()
    compact = "".join(lines)  # base64 may be wrapped in lines of one length; spaces mean text
    wrapped = len(lines) < 2 or (len({len(line) for line in lines[:-1]}) == 1 and len(lines[0]) % 4 == 0)
    if compact and len(compact) % 4 == 0 and wrapped:
        try:
            return base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            pass
    return value.encode()


def _pairs(value: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items() if v is not None]


def _flat(value: Any, explode_pairs: bool) -> str:
    """Simple-style list/object text: `a,b` or `k,v,k2,v2` (`k=v,k2=v2` when exploded)."""
    if isinstance(value, list):
        return ",".join(text(v) for v in value)
    if isinstance(value, dict):
        if explode_pairs:
            return ",".join(f"{k}={text(v)}" for k, v in _pairs(value))
        return ",".join(f"{k},{text(v)}" for k, v in _pairs(value))
    return text(value)


def deep_object(name: str, value: Any) -> list[tuple[str, str]]:
    """`name[key][sub]=v` pairs; arrays as `name[key][0]=v`, the form most form-encoding servers parse."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, sub in _pairs(value):
            out.extend(deep_object(f"{name}[{key}]", sub))
        return out
    if isinstance(value, list):
        out = []
        for i, sub in enumerate(value):
            out.extend(deep_object(f"{name}[{i}]", sub))
        return out
    return [(name, text(value))]


_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|"}


def styled_pairs(name: str, value: Any, style: str, explode: bool) -> list[tuple[str, str]]:
    """Query, cookie and form-field serialisation by OpenAPI style."""
    if style == "deepObject":
        return deep_object(name, value)
    delimiter = _DELIMITERS.get(style)
    if delimiter and not explode and isinstance(value, list | dict):
        items = value if isinstance(value, list) else [item for pair in _pairs(value) for item in pair]
        return [(name, delimiter.join(text(v) for v in items))]
    if isinstance(value, list):
        if explode:
            return [(name, text(v)) for v in value]
        return [(name, _flat(value, False))]
    if isinstance(value, dict):
        if explode:
            return [(k, text(v)) for k, v in _pairs(value)]
        return [(name, _flat(value, False))]
    return [(name, text(value))]


def _no_dot_segment(encoded: str) -> str:
    """`.` and `..` would be removed or climb a level when the URL is normalised: spell their dots `%2E`."""
    return encoded.replace(".", "%2E") if encoded and not encoded.strip(".") else encoded


def _segment(value: Any) -> str:
    return _no_dot_segment(quote(text(value), safe=""))


def _path_value(binding: ParamBinding, value: Any) -> str:
    if binding.as_json:
        return _segment(value if isinstance(value, str) else json_text(value))
    if isinstance(value, list):
        encoded = [_segment(v) for v in value]
    elif isinstance(value, dict):
        sep = "=" if binding.explode else ","
        encoded = [f"{_segment(k)}{sep}{_segment(v)}" for k, v in _pairs(value)]
    else:
        encoded = [_segment(value)]
    if binding.style == "label":
        return _no_dot_segment("." + ("." if binding.explode else ",").join(encoded))
    if binding.style == "matrix":
        if binding.explode and isinstance(value, list):
            return "".join(f";{binding.name}={v}" for v in encoded)
        if binding.explode and isinstance(value, dict):
            return "".join(f";{pair}" for pair in encoded)
        joined = ",".join(encoded)
        return f";{binding.name}={joined}" if joined else f";{binding.name}"  # RFC 6570: `;empty`, no `=`
    return ",".join(encoded)


# RFC 6265 cookie-octets, less `%` (the escape) and `,` (the list separator): all else is percent-encoded,
# so that a value can never end its cookie and start another.
_COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"


def _cookie_safe(value: Any) -> Any:
    """Each scalar of a cookie value as cookie-octets; lists and objects keep their shape."""
    if isinstance(value, list):
        return [_cookie_safe(v) for v in value]
    if isinstance(value, dict):  # an exploded object's keys are cookie names: a token, so no `=` either
        return {quote(text(k), safe=_COOKIE_SAFE.replace("=", "")): _cookie_safe(v) for k, v in value.items()}
    return None if value is None else quote(text(value), safe=_COOKIE_SAFE)


def _place_param(parts: RequestParts, binding: ParamBinding, value: Any) -> None:
    if binding.location == "path":
        parts.path = parts.path.replace("{" + binding.name + "}", _path_value(binding, value))
    elif binding.as_json and not isinstance(value, str):
        encoded = json_text(value)
        if binding.location == "query":
            parts.query.append((binding.name, encoded))
        elif binding.location == "header":
            parts.headers[binding.name] = encoded
        else:
            parts.cookies.append((binding.name, _cookie_safe(encoded)))
    elif binding.location == "query":
        parts.query.extend(styled_pairs(binding.name, value, binding.style, binding.explode))
    elif binding.location == "header":
        parts.headers[binding.name] = _flat(value, binding.explode)
    else:
        parts.cookies.extend(styled_pairs(binding.name, _cookie_safe(value), "form", binding.explode))


def _body_value(body: BodyPlan, arguments: dict[str, Any]) -> Any:
    if body.argument is not None:
        return arguments.get(body.argument)
    values = {prop: arguments[arg] for arg, prop in body.fields if arg in arguments}
    if body.kind != "json":
        values = {k: v for k, v in values.items() if v is not None}  # only JSON can spell a null
    return values if values or body.required else None


def _form_field(name: str, value: Any, enc: FieldEncoding | None) -> list[tuple[str, str]]:
    """One form field; without an `encoding` entry OpenAPI means style form, explode (`tags=a&tags=b`),
    and objects keep the bracket spelling form servers parse (`address[city]=Paris`)."""
    if enc is None:
        return deep_object(name, value) if isinstance(value, dict) else styled_pairs(name, value, "form", True)
    if enc.content_type and is_json(enc.content_type) and not isinstance(value, str):
        return [(name, json_text(value))]
    return styled_pairs(name, value, enc.style, enc.explode)


def _form_pairs(value: dict[str, Any], encodings: dict[str, FieldEncoding]) -> list[tuple[str, str]]:
    return [pair for name, sub in _pairs(value) for pair in _form_field(name, sub, encodings.get(name))]


def _disposition_text(value: str) -> str:
    """A quoted-string of a Content-Disposition: RFC 7578 escapes only `"`, CR and LF."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart_fields(body: BodyPlan, value: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """The named fields to send and which of them are files.

    A whole-body value with no field to send (not an object, or an empty one) goes as one part under
    `file`, the usual name of an upload field: a string as file content, anything else as JSON.
    """
    if isinstance(value, dict) and (_pairs(value) or body.argument is None):
        return value, body.binary_fields
    return {"file": value}, frozenset({"file"} if isinstance(value, str) else ())


def _multipart(value: Any, body: BodyPlan, boundary: str) -> bytes:
    """RFC 7578 form data: file fields as parts with a filename, others as text (JSON for structures);
    an array is one part per item unless the field's encoding declares JSON."""
    encodings = dict(body.encoding)
    fields, files = _multipart_fields(body, value)
    chunks: list[bytes] = []

    def part(name: str, payload: bytes, content_type: str | None, filename: str | None) -> None:
        disposition = f'form-data; name="{_disposition_text(name)}"'
        if filename:
            disposition += f'; filename="{_disposition_text(filename)}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode() + b"\r\n" + payload + b"\r\n")

    for name, sub in _pairs(fields):
        enc = encodings.get(name)
        declared = enc.content_type.split(",")[0].strip() if enc and enc.content_type else None
        if name not in files and declared and is_json(declared) and not isinstance(sub, str):
            part(name, json_text(sub).encode(), declared, None)
            continue
        for item in sub if isinstance(sub, list) else [sub]:
            if name in files:
                upload = file_content(item, name)
                filename = upload.name or name + (extension(upload.media_type or "") or "")
                part(name, upload.data, upload.media_type or declared or "application/octet-stream", filename)
            elif isinstance(item, dict | list):
                part(name, json_text(item).encode(), "application/json", None)
            else:
                part(name, text(item).encode(), None, None)
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def _encoded_text(value: str, media: str) -> bytes:
    """Text in the charset its media type declares; UTF-8 when it declares none, an unknown one, or one
    that cannot write every character."""
    try:
        return value.encode(charset(media) or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return value.encode()


def _place_body(parts: RequestParts, body: BodyPlan, value: Any) -> None:
    media = body.media_type
    if body.kind == "json":
        parts.content = json_text(value).encode()
        parts.headers["Content-Type"] = "application/json" if "*" in media else media
    elif body.kind == "form":
        pairs = _form_pairs(value, dict(body.encoding)) if isinstance(value, dict) else []
        parts.content = urlencode(pairs).encode()
        parts.headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body.kind == "multipart":
        boundary = uuid.uuid4().hex
        parts.content = _multipart(value, body, boundary)
        parts.headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body.kind == "text":
        parts.content = _encoded_text(text(value), media)
        parts.headers["Content-Type"] = media
    else:
        upload = file_content(value, body.argument or "body")
        parts.content = upload.data
        parts.headers["Content-Type"] = upload.media_type if upload.media_type and "*" in media else media


Query = list[tuple[str, str | int | float | bool | None]]


@lru_cache(maxsize=256)
def _origin(base_url: str) -> httpx.URL:
    """A base URL, parsed once: URL parsing is a large share of a call's own work."""
    return httpx.URL(base_url)


def url_for(base_url: str, path: str, query: Query | None = None) -> httpx.URL:
    """The base URL followed by the request's path, which always starts with `/` (a path key written
    without one, such as `@other:81/x`, cannot become part of the authority), and the query; a URL that
    would leave the base URL's scheme, host or port anyway is refused."""
    url = httpx.URL(base_url.rstrip("/") + (path if path.startswith("/") else "/" + path), params=query or None)
    base = _origin(base_url)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        origin = f"{base.scheme}://{base.netloc.decode()}"
        raise UpstreamError(f"the path {path!r} would take the request away from {origin}; it was not sent")
    return url


def build_request(plan: CallPlan, arguments: dict[str, Any]) -> RequestParts:
    """Place each argument where its plan says; nothing the plan does not name is sent."""
    parts = RequestParts(method=plan.method, path=plan.path.split("#", 1)[0])  # a fragment is never sent
    for binding in plan.params:
        if binding.argument in arguments and arguments[binding.argument] is not None:
            _place_param(parts, binding, arguments[binding.argument])
    parts.path, _, fixed = parts.path.partition("?")
    if fixed:  # a query written into the path key: its pairs go first, unless a parameter sends the same name
        sent = {name for name, _ in parts.query}
        fixed_pairs = [(k, v) for k, v in parse_qsl(fixed, keep_blank_values=True) if k not in sent]
        parts.query = fixed_pairs + parts.query
    if plan.body is not None:
        value = _body_value(plan.body, arguments)
        if value is not None:
            _place_body(parts, plan.body, value)
    if plan.idempotency_header and not any(k.lower() == plan.idempotency_header.lower() for k in parts.headers):
        parts.headers[plan.idempotency_header] = str(uuid.uuid4())
    return parts
