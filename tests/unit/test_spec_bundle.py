"""Loading and bundling: other-file `$ref`s, path-item refs, cycles across files, clear document errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.compile import compile_document
from mcp_gateway.errors import DocumentError
from mcp_gateway.profile import Profile
from mcp_gateway.spec import read_document
from mcp_gateway.spec.bundle import BUNDLE_KEY, may_refer_elsewhere
from tests.strict_client import tools_problems

ROOT_YAML = """\
openapi: 3.0.3
info: {title: Multi, version: "1"}
paths:
  /pets:
    $ref: paths/pets.yaml
  /owners/{id}:
    get:
      operationId: getOwner
      parameters:
        - $ref: 'shared/parameters.yaml#/owner_id'
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: 'models/owner.yaml'}
      x-codeSamples:
        - $ref: 'examples/curl/get_owner.yml'
  /owners:
    get:
      $ref: operations/list_owners.yaml
  /broken:
    get:
      operationId: broken
      responses:
        "200":
          description: ok
      requestBody:
        content:
          application/json:
            schema: {$ref: 'models/missing.yaml'}
"""

FILES = {
    "paths/pets.yaml": """\
get:
  operationId: listPets
  responses:
    "200":
      description: ok
      content:
        application/json:
          schema:
            type: object
            properties:
              items: {type: array, items: {$ref: '../models/pet.yaml#/Pet'}}
post:
  operationId: createPet
  requestBody:
    required: true
    content:
      application/json:
        schema: {$ref: '../models/pet.yaml#/Pet'}
  responses:
    "201": {description: made}
""",
    "models/pet.yaml": """\
Pet:
  type: object
  required: [name]
  properties:
    name: {type: string}
    owner: {$ref: 'owner.yaml'}
    friends: {type: array, items: {$ref: '#/Pet'}}
""",
    "models/owner.yaml": """\
type: object
properties:
  name: {type: string}
  pets: {type: array, items: {$ref: 'pet.yaml#/Pet'}}
""",
    "operations/list_owners.yaml": """\
operationId: listOwners
parameters:
  - {name: limit, in: query, schema: {type: integer}}
responses:
  "200":
    description: ok
""",
    "shared/parameters.yaml": """\
owner_id:
  name: id
  in: path
  required: true
  schema: {type: integer}
""",
}


@pytest.fixture
def multifile(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    root = tmp_path / "root.yaml"
    root.write_text(ROOT_YAML)
    return root


def test_other_file_refs_are_bundled_and_compile(multifile):
    document = read_document(str(multifile))
    assert set(document[BUNDLE_KEY]) == {"pets", "pet", "owner", "parameters", "list_owners"}
    assert document["paths"]["/pets"] == {"$ref": f"#/{BUNDLE_KEY}/pets"}
    pet = document[BUNDLE_KEY]["pet"]["Pet"]
    assert pet["properties"]["friends"]["items"] == {"$ref": f"#/{BUNDLE_KEY}/pet/Pet"}  # own-file ref
    assert pet["properties"]["owner"] == {"$ref": f"#/{BUNDLE_KEY}/owner"}  # cycle pet -> owner -> pet
    compilation = compile_document(document, Profile(spec=str(multifile)))
    assert sorted(t.name for t in compilation.tools) == ["createPet", "getOwner", "listOwners", "listPets"]
    assert tools_problems(t.to_mcp() for t in compilation.tools) == []
    create = next(t for t in compilation.tools if t.name == "createPet")
    assert create.input_schema["properties"]["owner"] == {"$ref": "#/$defs/owner"}
    assert set(create.input_schema["$defs"]) == {"owner", "Pet"}
    owners = next(t for t in compilation.tools if t.name == "listOwners")  # an operation in a file of its own
    assert list(owners.input_schema["properties"]) == ["limit"]


def test_a_missing_file_skips_only_the_operations_that_need_it(multifile):
    compilation = compile_document(read_document(str(multifile)), Profile(spec=str(multifile)))
    assert [(s.operation, s.reason) for s in compilation.skipped] == [
        ("GET /broken", "unresolved reference 'models/missing.yaml' (the file it names could not be read)")]


def test_extension_refs_are_left_alone(multifile):
    document = read_document(str(multifile))
    assert document["paths"]["/owners/{id}"]["get"]["x-codeSamples"] == [{"$ref": "examples/curl/get_owner.yml"}]


def test_documents_without_external_refs_are_returned_as_they_are(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}')
    assert BUNDLE_KEY not in read_document(str(path))


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such file"),
    ("openapi: 3.0.0\npaths: [\n", "neither valid JSON nor valid YAML (line 3, column 1)"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("title: not a spec\n", "not an OpenAPI 3.x or Swagger 2.0 document"),
    ("openapi: 3.0.0\npaths: [1]\n", "at /paths: `paths` must be a mapping"),
    ("openapi: 3.0.0\nx-a: &a [1, *a]\npaths: {}\n", "a cycle"),
    ("openapi: 3.0.0\nx-a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nx-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nx-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "x-e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nx-f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "paths: {}\n", "expand"),
    ("\xff\xfe", "cannot be read"),
])
def test_unusable_documents_get_one_clear_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "doc.yaml"
    if isinstance(text, str):
        path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(DocumentError) as caught:
        read_document(str(path))
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_percent_encoded_file_names(tmp_path):
    (tmp_path / "my pet.yaml").write_text("type: object\nproperties: {name: {type: string}}\n")
    root = tmp_path / "root.yaml"
    root.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /p:\n    post:\n"
                    "      requestBody: {content: {application/json: {schema: {$ref: 'my%20pet.yaml'}}}}\n"
                    "      responses: {'200': {description: ok}}\n")
    compilation = compile_document(read_document(str(root)), Profile(spec=str(root)))
    assert list(compilation.tools[0].input_schema["properties"]) == ["name"]


@pytest.mark.parametrize(("text", "may"), [
    (b'{"a": {"$ref": "#/components/schemas/A"}, "b": {"$ref" :\n "#/x"}}', False),
    (b'\xef\xbb\xbf {"description": "no refs at all, and an emoji \xf0\x9f\x90\x88"}', False),
    (b'{"a": {"$ref": "other.json#/A"}}', True),
    (b'{"a": {"$ref": "./#/A"}}', True),
    (b'{"a": {"$ref": 5}}', True),  # not a string: the walk decides
    (b'{"a": {"$r\\u0065f": "other.json"}}', True),  # `$ref` spelt with an escape
    (b'{"a": {"\\u0024ref": "other.json"}}', True),
    (b'openapi: 3.1.0\npaths: {}\n', True),  # YAML: the walk decides
])
def test_the_text_check_clears_only_json_whose_every_ref_is_local(text: bytes, may: bool) -> None:
    """False only where no other-file ref can hide; a True leads to the walk over the parsed document."""
    assert may_refer_elsewhere(text) is may
