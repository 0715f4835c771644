"""Every document in ../shared/specs compiles, whole, into tools that the strictest client accepts."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from bench.check_specs import documents
from mcp_gateway.compile import Compilation, compile_document
from mcp_gateway.compile.naming import TOOL_NAME_RE
from mcp_gateway.openapi import security_schemes
from mcp_gateway.profile import Profile
from mcp_gateway.spec import read_document
from tests.common import SPECS, needs_shared_specs
from tests.strict_client import tools_problems

pytestmark = needs_shared_specs

DOCUMENTS = documents(SPECS)


@functools.cache
def compiled(path: Path) -> Compilation:
    return compile_document(read_document(str(path)), Profile(spec=str(path)))


def index_operations() -> dict[str, int]:
    """The `ops` column of INDEX.md, by file (counted there independently of this code)."""
    counts = {}
    for line in (SPECS / "INDEX.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and cells[0].startswith(("seeds/", "realworld/")) and re.fullmatch(r"[\d,]+", cells[3]):
            counts[cells[0]] = int(cells[3].replace(",", ""))
    return counts


def test_every_document_is_found():
    names = {str(d.relative_to(SPECS)) for d in DOCUMENTS}
    assert len(DOCUMENTS) == 50
    assert "realworld/digitalocean.com-multifile/DigitalOcean-public.v2.yaml" in names
    assert names == set(index_operations())


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(SPECS)))
def test_document_compiles_into_valid_tools(path):
    compilation = compiled(path)
    assert compilation.operations == index_operations()[str(path.relative_to(SPECS))]
    assert [(s.operation, s.reason) for s in compilation.skipped] == []
    assert len(compilation.tools) == compilation.operations
    assert tools_problems(tool.to_mcp() for tool in compilation.tools) == []


def _tool(compilation: Compilation, operation: str):
    return next(tool for tool in compilation.tools if tool.operation == operation)


def test_github():
    compilation = compiled(SPECS / "realworld" / "github.com_api.github.com.json")
    names = [tool.name for tool in compilation.tools]
    assert compilation.operations == len(names) == 1223
    assert all(TOOL_NAME_RE.match(name) for name in names)
    get_repo = _tool(compilation, "GET /repos/{owner}/{repo}")
    assert get_repo.name == "repos_get"  # `repos/get`, sanitised
    assert get_repo.input_schema["required"] == ["owner", "repo"]
    assert get_repo.output_schema["type"] == "object"
    assert all(len(name) <= 64 for name in names)
    assert not [name for name in names if re.search(r"_[0-9a-f]{8}$", name)]  # the 25 operationIds past 64 characters
    assert _tool(compilation, "GET /orgs/{org}/actions/permissions/fork-pr-contributor-approval").name == \
        "actions_get-fork-pr-contributor-approval-permissions-org"  # shortened readably: `organization` is `org`
    assert len({name.lower() for name in names}) == 1223
    assert all("$defs" not in tool.input_schema for tool in compilation.tools)  # none recursive, none large, repeated
    assert '"type": [' not in json.dumps([tool.input_schema for tool in compilation.tools])  # null is an anyOf branch


def test_kubernetes_swagger2():
    compilation = compiled(SPECS / "realworld" / "kubernetes.io.swagger.json")
    assert compilation.operations == len(compilation.tools) == 531
    document = read_document(str(SPECS / "realworld" / "kubernetes.io.swagger.json"))
    assert security_schemes(document) == {"BearerToken": {"type": "apiKey", "in": "header", "name": "authorization"}}
    proxy = _tool(compilation, "GET /api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}")
    assert [(p.argument, p.name, p.location) for p in proxy.plan.params] == [
        ("name", "name", "path"), ("namespace", "namespace", "path"), ("path", "path", "path"),
        ("query_path", "path", "query")]
    create = _tool(compilation, "POST /api/v1/namespaces/{namespace}/pods")
    assert create.name == "createCoreV1NamespacedPod"
    assert create.plan.body.media_type == "*/*" and create.plan.body.kind == "json"
    assert create.plan.body.fields == (("metadata", "metadata"), ("spec", "spec"), ("status", "status"))
    spec = create.input_schema["properties"]["spec"]  # written out, as every reference but large repeated ones
    assert spec["properties"]["containers"]["items"]["properties"]["lifecycle"]["properties"]["postStart"] == {
        "$ref": "#/$defs/v1.Handler", "description": spec["properties"]["containers"]["items"]["properties"][
            "lifecycle"]["properties"]["postStart"]["description"]}  # one tool reaches it along many paths: kept
    assert set(create.input_schema["$defs"]) == {"v1.ContainerState", "v1.Handler", "v1.Probe"}
    delete = _tool(compilation, "DELETE /api/v1/namespaces/{namespace}/pods/{name}")
    assert delete.plan.body is not None  # a body on DELETE, as the document says
    assert "gracePeriodSeconds" in delete.input_schema["properties"]


def test_digitalocean_multifile():
    compilation = compiled(SPECS / "realworld" / "digitalocean.com-multifile" / "DigitalOcean-public.v2.yaml")
    assert compilation.operations == len(compilation.tools) == 659
    listing = _tool(compilation, "GET /v2/droplets")  # an operation kept in a file of its own
    assert listing.name == "droplets_list"
    assert list(listing.input_schema["properties"]) == ["per_page", "page", "tag_name", "name", "type", "_select"]
    assert _tool(compilation, "POST /v2/droplets").plan.body.media_type == "application/json"
    assert "monitoring_get_appRestartCountMetrics_yml" in {tool.name for tool in compilation.tools}  # id ends in .yml
