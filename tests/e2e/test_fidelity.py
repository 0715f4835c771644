"""Request fidelity: every request the gateway sends must be one the ORIGINAL document accepts.

Arguments are generated from each tool's inputSchema, the tool is called through the gateway, and a
validating upstream on 127.0.0.1 checks the request it receives against the document's operation.
`bench/fidelity.py` runs the same harness over thousands of operations.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest
import yaml

from mcp_gateway.build import TargetOptions, build_gateway
from tests.common import FIXTURES, SPECS, needs_shared_specs
from tests.fidelity_check import DocumentModel, RawRequest, RequestChecker
from tests.fidelity_gen import ArgumentGenerator
from tests.fidelity_support import (
    CallRecord,
    Runner,
    ValidatingUpstream,
    argument_modes,
    classify,
    known_bug,
    load_original,
    result_text,
)
from tests.servers import serve_stdio

pytestmark = pytest.mark.anyio

SAMPLE = [
    "realworld/xkcd.com.json",
    "realworld/webscraping.ai.json",
    "realworld/mercure.local.json",
    "realworld/zapier.com_nla.json",
    "realworld/elevenlabs.io.json",
    "realworld/ably.io_platform.json",
    "realworld/apideck.com_accounting.json",
    "realworld/slack.com.json",
    "realworld/azure.com_ml-text-analytics.swagger.json",
    "seeds/anthropic.com.stainless-2024-11.openapi.json",
]

@pytest.fixture
def validating() -> Any:
    server = ValidatingUpstream().start()
    yield server
    server.stop()


@needs_shared_specs
async def test_shared_sample_requests_fit_their_documents(validating: ValidatingUpstream) -> None:
    """10 documents from ../shared/specs, up to 25 operations each, plain and tricky arguments: rate 1.0."""
    paths = [str(SPECS / name) for name in SAMPLE]
    runner = Runner(validating, seed=7, ops_per_doc=25, deadline=time.monotonic() + 45)
    summary = await runner.run(paths, concurrency=4)
    skipped = [d for d in summary.documents if d.skipped]
    assert not skipped, [(d.document, d.skipped) for d in skipped]
    assert summary.checked >= 100, summary.report()
    assert not summary.stopped_early, "the sample did not finish within its time budget"
    unexplained, explained = [], []
    for call in summary.failures():
        for kind, detail in call.problems or [(call.outcome, call.reason)]:
            bug = known_bug(kind, detail, call)
            line = f"{call.document} {call.operation} [{call.variant}] {kind}: {detail} | {call.request[:200]}"
            (explained if bug else unexplained).append(f"{bug + ': ' if bug else ''}{line}")
    if explained:
        print(f"{len(explained)} failures from known proxy bugs:\n" + "\n".join(explained))
    assert not unexplained, (f"fidelity {summary.rate:.4f} on the sample; requests the documents reject:\n"
                             + "\n".join(unexplained))
    lost = [f"{c.document} {c.operation}: {m}" for c in summary.calls for m in c.mismatches]
    assert not lost, "arguments that did not arrive as given:\n" + "\n".join(lost)


# -- one case per serialisation rule, on a small document -------------------------------------------------

STYLES: dict[str, Any] = yaml.safe_load("""
openapi: 3.0.3
info: {title: styles, version: "1"}
servers: [{url: "https://styles.invalid"}]
paths:
  /p/{s}:
    get:
      operationId: pathSimple
      parameters: [{name: s, in: path, required: true, schema: {type: string}}]
  /label/{l}:
    get:
      operationId: pathLabel
      parameters: [{name: l, in: path, required: true, style: label, explode: true,
                    schema: {type: array, items: {type: string}}}]
  /matrix/{m}:
    get:
      operationId: pathMatrix
      parameters: [{name: m, in: path, required: true, style: matrix, explode: true,
                    schema: {type: array, items: {type: string}}}]
  /q:
    get:
      operationId: queryStyles
      parameters:
        - {name: arr, in: query, schema: {type: array, items: {type: string}}}
        - {name: csv, in: query, style: form, explode: false, schema: {type: array, items: {type: integer}}}
        - {name: ssv, in: query, style: spaceDelimited, explode: false, schema: {type: array, items: {type: string}}}
        - {name: pipes, in: query, style: pipeDelimited, explode: false, schema: {type: array, items: {type: string}}}
        - {name: deep, in: query, style: deepObject, explode: true,
           schema: {type: object, properties: {a: {type: string}, n: {type: integer}}}}
        - {name: text, in: query, schema: {type: string}}
        - {name: flag, in: query, schema: {type: boolean}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: X-Ids, in: header, schema: {type: array, items: {type: integer}}}
  /fixed?mode=x:
    get:
      operationId: fixedQuery
      parameters: [{name: page, in: query, schema: {type: integer}}]
  /frag#overload=x:
    get:
      operationId: fragmentKey
      parameters: [{name: page, in: query, required: true, schema: {type: integer}}]
  /form:
    post:
      operationId: formBody
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [name]
              properties:
                name: {type: string}
                tags: {type: array, items: {type: string}}
                n: {type: integer}
                address: {type: object, properties: {city: {type: string}}}
  /multi:
    post:
      operationId: multipartBody
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary}
                note: {type: string}
                meta: {type: object, properties: {k: {type: string}}}
                "tags[]": {type: array, items: {type: string}}
  /any-multi:
    post:
      operationId: multipartAnything
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema: {}
  /optional:
    post:
      operationId: optionalBody
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [a], properties: {a: {type: string}, b: {type: string}}}
  /json:
    put:
      operationId: jsonBody
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [id]
              properties:
                id: {type: integer}
                name: {type: string, nullable: true}
                tags: {type: array, items: {type: string}}
""")
for _item in STYLES["paths"].values():
    for _op in _item.values():
        _op["responses"] = {"200": {"description": "ok"}}


STYLE_CASES = [
    pytest.param("pathSimple", {"s": ".."}, id="path-dot-segment"),
    pytest.param("pathSimple", {"s": "a/b?c#d 50%"}, id="path-reserved"),
    pytest.param("pathSimple", {"s": "ünï 日本"}, id="path-unicode"),
    pytest.param("pathLabel", {"l": ["a", "b"]}, id="path-label-explode"),
    pytest.param("pathMatrix", {"m": ["a", "b"]}, id="path-matrix-explode"),
    pytest.param("queryStyles", {"arr": ["a b", "c"], "csv": [1, 2], "ssv": ["a", "b"], "pipes": ["x", "y"],
                                 "deep": {"a": "x&y", "n": 1}, "text": "1+1=2 & #", "flag": True}, id="query-styles"),
    pytest.param("queryStyles", {"session": "a;b=c, d"}, id="cookie-reserved"),
    pytest.param("queryStyles", {"X-Ids": [1, 2]}, id="header-array"),
    pytest.param("fixedQuery", {"page": 2}, id="path-key-query"),
    pytest.param("fragmentKey", {"page": 2}, id="path-key-fragment"),
    pytest.param("formBody", {"name": "n & m", "n": 3}, id="form-scalars"),
    pytest.param("formBody", {"name": "n", "tags": ["a", "b"]}, id="form-array"),
    pytest.param("formBody", {"name": "n", "address": {"city": "Paris"}}, id="form-object"),
    pytest.param("multipartBody", {"file": "aGVsbG8=", "note": "hi", "meta": {"k": "v"}}, id="multipart"),
    pytest.param("multipartBody", {"file": "aGVsbG8=", "tags": ["a"]}, id="multipart-bracket-name"),
    pytest.param("multipartBody", {"file": "aGVsbG8=", "tags": ["a", "b"]}, id="multipart-array"),
    pytest.param("optionalBody", {"a": "x", "b": "y"}, id="optional-body-complete"),
    pytest.param("optionalBody", {}, id="optional-body-absent"),
    pytest.param("jsonBody", {"id": 1, "name": None, "tags": []}, id="json-null-and-empty"),
]


async def test_an_optional_body_without_its_required_field_is_refused(styles_doc: str,
                                                                    validating: ValidatingUpstream) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        gateway = build_gateway([styles_doc], TargetOptions(base_url=validating.base_url("s1")), client=client)
        result = await gateway.call("optionalBody", {"b": "only b"})
    assert result.is_error and "'a' is a dependency of 'b'" in result.content[0].text
    assert validating.take("s1") == []


@pytest.fixture(scope="module")
def styles_doc(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fidelity") / "styles.yaml"
    path.write_text(yaml.safe_dump(STYLES, allow_unicode=True), encoding="utf-8")
    return str(path)


async def _call(doc: str, validating: ValidatingUpstream, tool_name: str, arguments: dict[str, Any]) -> CallRecord:
    checker = RequestChecker(DocumentModel(load_original(doc)))
    async with httpx.AsyncClient(trust_env=False) as client:
        gateway = build_gateway([doc], TargetOptions(base_url=validating.base_url("s1")), client=client)
        tool = gateway.catalog.entries[tool_name][0]
        method, _, template = tool.operation.partition(" ")
        validating.expect("s1", checker, method, template)
        result = await gateway.call(tool_name, arguments)
    record = CallRecord("styles", tool_name, tool.operation, "fixed", "harness error", arguments,
                        tool_arguments=list(tool.input_schema.get("properties") or {}))
    return classify(record, tool, arguments, result, validating.take("s1"))


@pytest.mark.parametrize(("tool_name", "arguments"), STYLE_CASES)
async def test_style_case_fits_the_document(styles_doc: str, validating: ValidatingUpstream, tool_name: str,
                                            arguments: dict[str, Any]) -> None:
    record = await _call(styles_doc, validating, tool_name, arguments)
    assert record.outcome == "valid", (record.outcome, record.problems, record.reason, record.request)
    assert not record.mismatches, (record.mismatches, record.request)


@pytest.mark.parametrize("body", ["aGVsbG8=", "plain text", {}, 3])
async def test_multipart_body_without_fields_is_one_part(styles_doc: str, validating: ValidatingUpstream,
                                                         body: Any) -> None:
    """A multipart body that declares no fields still sends what the caller gave, as one `file` part."""
    record = await _call(styles_doc, validating, "multipartAnything", {"body": body})
    assert record.outcome == "valid", (record.outcome, record.problems, record.request)
    assert 'name="file"' in record.request, record.request


# -- the checker itself must catch what it is meant to catch ----------------------------------------------


def _checker() -> RequestChecker:
    return RequestChecker(DocumentModel(STYLES))


@pytest.mark.parametrize(("method", "template", "request_", "kind"), [
    ("GET", "/q", RawRequest("GET", "/q", "csv=1,x", [], b""), "query parameter invalid"),
    ("GET", "/q", RawRequest("GET", "/q", "nope=1", [], b""), "undeclared query parameter"),
    ("GET", "/q", RawRequest("GET", "/q", "flag=yes", [], b""), "query parameter invalid"),
    ("GET", "/p/{s}", RawRequest("GET", "/p/a/b", "", [], b""), "path does not match template"),
    ("GET", "/label/{l}", RawRequest("GET", "/label/a,b", "", [], b""), "path parameter not in its style"),
    ("POST", "/form", RawRequest("POST", "/form", "", [("Content-Type", "application/x-www-form-urlencoded")],
                                 b"name=n&tags%5B0%5D=a"), "form array in bracket notation"),
    ("POST", "/form", RawRequest("POST", "/form", "", [("Content-Type", "application/json")], b"{}"),
     "content type not accepted"),
    ("PUT", "/json", RawRequest("PUT", "/json", "", [("Content-Type", "application/json")], b'{"id": "1"}'),
     "json body invalid"),
    ("PUT", "/json", RawRequest("PUT", "/json", "", [], b""), "required body missing"),
    ("GET", "/q", RawRequest("GET", "/q", "", [("X-Ids", "1,b")], b""), "header parameter invalid"),
])
def test_checker_rejects(method: str, template: str, request_: RawRequest, kind: str) -> None:
    verdict = _checker().check(method, template, request_)
    assert kind in [p.kind for p in verdict.problems if p.fatal], verdict.problems


@pytest.mark.parametrize(("method", "template", "request_"), [
    ("GET", "/q", RawRequest("GET", "/q", "arr=a&arr=b&csv=1%2C2&ssv=a+b&pipes=a%7Cb&deep%5Bn%5D=1&flag=true",
                             [("Cookie", "session=a%3Bb")], b"")),
    ("GET", "/label/{l}", RawRequest("GET", "/label/.a.b", "", [], b"")),
    ("GET", "/fixed?mode=x", RawRequest("GET", "/fixed", "mode=x&page=2", [], b"")),
    ("PUT", "/json", RawRequest("PUT", "/json", "", [("Content-Type", "application/json; charset=utf-8")],
                                b'{"id": 1, "name": null}')),
])
def test_checker_accepts(method: str, template: str, request_: RawRequest) -> None:
    verdict = _checker().check(method, template, request_)
    assert verdict.valid, verdict.problems


SWAGGER2: dict[str, Any] = {
    "swagger": "2.0", "info": {"title": "s", "version": "1"}, "consumes": ["application/x-www-form-urlencoded"],
    "paths": {"/things/{id}": {"post": {"parameters": [
        {"name": "id", "in": "path", "required": True, "type": "integer"},
        {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "pipes"},
        {"name": "name", "in": "formData", "required": True, "type": "string"},
        {"name": "n", "in": "formData", "type": "integer", "x-nullable": True}],
        "responses": {"200": {"description": "ok"}}}}},
}


@pytest.mark.parametrize(("request_", "kind"), [
    (RawRequest("POST", "/things/7", "tags=a%7Cb", [("Content-Type", "application/x-www-form-urlencoded")],
                b"name=x&n=3"), None),
    (RawRequest("POST", "/things/x", "", [("Content-Type", "application/x-www-form-urlencoded")], b"name=x"),
     "path parameter invalid"),
    (RawRequest("POST", "/things/7", "", [("Content-Type", "application/x-www-form-urlencoded")], b"n=1"),
     "form body invalid"),
    (RawRequest("POST", "/things/7", "", [("Content-Type", "application/json")], b'{"name": "x"}'),
     "content type not accepted"),
])
def test_checker_reads_swagger2_natively(request_: RawRequest, kind: str | None) -> None:
    verdict = RequestChecker(DocumentModel(SWAGGER2)).check("POST", "/things/{id}", request_)
    assert [p.kind for p in verdict.problems if p.fatal] == ([kind] if kind else []), verdict.problems


def test_generator_is_seeded_and_fits_the_schema() -> None:
    schema = {"type": "object", "required": ["a"], "additionalProperties": False, "$defs": {
        "Node": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": "^[a-z]{2,5}$"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
        "properties": {"a": {"$ref": "#/$defs/Node"}, "n": {"type": "integer", "minimum": 3, "maximum": 9},
                       "when": {"type": "string", "format": "date-time"}}}
    first = [ArgumentGenerator(schema, {}, random.Random(5), True, 0.8).arguments() for _ in range(3)]
    again = [ArgumentGenerator(schema, {}, random.Random(5), True, 0.8).arguments() for _ in range(3)]
    assert first == again
    assert all(args is not None and reason is None for args, reason in first), first


# -- the whole path: the real server over stdio ------------------------------------------------------------


async def test_stdio_server_requests_fit_the_document(validating: ValidatingUpstream, era: str) -> None:
    """Every tool of a real document (trimmed), plain and tricky arguments, through the server over stdio."""
    doc = str(FIXTURES / "webscraping_ai.yaml")
    checker = RequestChecker(DocumentModel(load_original(doc)))
    plans = build_gateway([doc], TargetOptions(base_url="http://127.0.0.1:9"))
    failures: list[str] = []
    async with serve_stdio([doc, "--base-url", validating.base_url("w1")], mode=era) as served:
        listed = await served.client.list_tools()
        assert listed.tools
        rng = random.Random(11)
        for tool in sorted(listed.tools, key=lambda t: t.name):
            compiled = plans.catalog.entries[tool.name][0]
            for tricky in (False, True):
                arguments, reason = ArgumentGenerator(tool.input_schema, argument_modes(compiled),
                                                      random.Random(rng.random()), tricky, 0.7).arguments()
                assert arguments is not None, reason
                method, _, template = compiled.operation.partition(" ")
                validating.expect("w1", checker, method, template)
                result = await served.client.call_tool(tool.name, arguments)
                exchanges = validating.take("w1")
                if len(exchanges) != 1:
                    failures.append(f"{tool.name}: {len(exchanges)} requests; {result_text(result)[:200]}")
                    continue
                verdict = exchanges[0].verdict
                assert verdict is not None
                if not verdict.valid:
                    failures.append(f"{tool.name} {arguments}: {verdict.problems} | {exchanges[0].target}")
                elif result.is_error:
                    failures.append(f"{tool.name}: valid request but isError: {result_text(result)[:200]}")
    assert not failures, "\n".join(failures)
