"""Profiles: loading and validating tool_specs YAML, `${VAR}` expansion, and telling a profile from a document."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.errors import ProfileError
from mcp_gateway.profile import expand_env, load_profile, looks_like_profile
from tests.common import ROOT

TOOL_SPECS = ROOT / "tool_specs"
BUNDLED = sorted(p for p in TOOL_SPECS.glob("*.yaml") if looks_like_profile(str(p)))

VALID = """\
name: pets
spec: openapi.yaml
spec_fallback: specs/pets.json
base_url: "${PETS_BASE_URL:-https://pets.example}"
auth: {type: api_key, in: query, name: key, env: PETS_KEY}
headers: {X-App: "${PETS_APP:-}"}
tool_prefix: pets
include: {paths: ["/pets*"], methods: [GET, POST]}
exclude: {operations: ["DELETE /pets/{id}"]}
read_only: true
overrides:
  "GET /pets": {name: list_pets, annotations: {readOnlyHint: true}}
idempotent_operations: ["POST /pets"]
name_limit: 40
timeout: 5
"""


def write(folder: Path, text: str, name: str = "profile.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- load_profile -----------------------------------------------------------------------------------

def test_valid_profile_loads_with_every_field(tmp_path: Path) -> None:
    """Every key a profile may give is read; `${VAR}` stays unexpanded until the server starts."""
    profile = load_profile(str(write(tmp_path, VALID)))
    assert profile.name == "pets"
    assert profile.base_url == "${PETS_BASE_URL:-https://pets.example}"
    assert profile.headers == {"X-App": "${PETS_APP:-}"}
    assert (profile.auth.type, profile.auth.in_, profile.auth.name, profile.auth.env) == (
        "api_key", "query", "key", "PETS_KEY")
    assert profile.tool_prefix == "pets"
    assert profile.include is not None and profile.include.paths == ["/pets*"]
    assert profile.include.methods == ["GET", "POST"]
    assert profile.exclude is not None and profile.exclude.operations == ["DELETE /pets/{id}"]
    assert profile.read_only is True
    assert profile.overrides["GET /pets"].name == "list_pets"
    assert profile.overrides["GET /pets"].annotations == {"readOnlyHint": True}
    assert profile.idempotent_operations == ["POST /pets"]
    assert (profile.name_limit, profile.timeout) == (40, 5.0)


def test_defaults_for_a_minimal_profile(tmp_path: Path) -> None:
    """Only `spec` is needed; the rest takes the defaults the README lists."""
    profile = load_profile(str(write(tmp_path, "spec: https://api.example/openapi.json\n")))
    assert profile.auth.type == "none"
    assert (profile.name_limit, profile.description_limit, profile.timeout) == (64, 1024, 30.0)
    assert (profile.max_response_bytes, profile.refresh, profile.output_schemas) == (262_144, None, True)
    assert profile.tool_prefix is None and profile.include is None and profile.exclude is None


def test_spec_paths_are_relative_to_the_profile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`spec` and `spec_fallback` are resolved against the profile's own folder, not the working directory."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, VALID, "sub/profile.yaml")
    profile = load_profile("sub/profile.yaml")
    folder = (tmp_path / "sub").resolve()
    assert Path(profile.spec) == folder / "openapi.yaml"
    assert profile.spec_fallback is not None and Path(profile.spec_fallback) == folder / "specs" / "pets.json"


@pytest.mark.parametrize("spec", ["https://api.example/openapi.json", "http://localhost:8000/doc.yaml"])
def test_spec_urls_are_untouched(tmp_path: Path, spec: str) -> None:
    """A URL is not a path: it is kept as written, for spec and spec_fallback alike."""
    profile = load_profile(str(write(tmp_path, f"spec: {spec}\nspec_fallback: {spec}\n")))
    assert (profile.spec, profile.spec_fallback) == (spec, spec)


def test_absolute_spec_path_is_untouched(tmp_path: Path) -> None:
    """An absolute path already names one file."""
    absolute = tmp_path / "elsewhere" / "doc.json"
    profile = load_profile(str(write(tmp_path, f"spec: '{absolute}'\n")))
    assert Path(profile.spec) == absolute
    assert profile.spec_fallback is None


def _message(exc: pytest.ExceptionInfo[ProfileError], path: Path) -> str:
    """The error text with the file name taken out, so a key is not found in the path by chance."""
    text = str(exc.value)
    assert str(path) in text
    assert exc.value.source == str(path)
    return text.replace(str(path), "")


@pytest.mark.parametrize(("content", "key"), [
    ("spec: x.yaml\ncolour: red\n", "colour"),
    ("name: only-a-name\n", "spec"),
    ("spec: x.yaml\ntool_prefix: has space\n", "tool_prefix"),
    ("spec: x.yaml\ntool_prefix: twenty-five-characters-xx\n", "tool_prefix"),
    ("spec: x.yaml\nauth: {type: bearer, env: 1BAD}\n", "auth.env"),
    ("spec: x.yaml\nauth: {type: basic, username_env: USER, password_env: 'PASS-WORD'}\n", "auth.password_env"),
    ("spec: x.yaml\nauth: {type: oauth}\n", "auth.type"),
    ("spec: x.yaml\nauth: {in: body}\n", "auth.in"),
    ("spec: x.yaml\nname_limit: 15\n", "name_limit"),
    ("spec: x.yaml\nname_limit: 65\n", "name_limit"),
    ("spec: x.yaml\ntimeout: 0\n", "timeout"),
    ("spec: x.yaml\ninclude: {paths: [/a], verbs: [GET]}\n", "include.verbs"),
    ("spec: x.yaml\noverrides: {'GET /a': {nmae: x}}\n", "overrides.GET /a.nmae"),
    ("spec: x.yaml\noverrides: {'GET /a': {paginate: {cursor: next}}}\n", "cursor and cursor_param go together"),
    ("spec: x.yaml\noverrides: {'GET /a': {paginate: {max_pages: 0}}}\n", "overrides.GET /a.paginate.max_pages"),
    ("spec: x.yaml\noverrides: {'GET /a': {paginate: {cursor: c, cursor_param: c, page_param: p}}}\n", "not both"),
    ("spec: x.yaml\noverrides: {'GET /a': {paginate: {more: has_next}}}\n", "more goes with page_param"),
    ("spec: [unclosed\n", "not valid YAML"),
    ("spec: x\n\tbad: tab\n", "not valid YAML"),
    ("- spec: x.yaml\n", "mapping"),
    ("just a string\n", "mapping"),
    ("", "mapping"),
])
def test_bad_profiles_name_the_file_and_the_problem(tmp_path: Path, content: str, key: str) -> None:
    """An invalid key, broken YAML or a top level that is not a mapping is a ProfileError naming the file
    and the offending key or problem."""
    path = write(tmp_path, content)
    with pytest.raises(ProfileError) as exc:
        load_profile(str(path))
    assert key in _message(exc, path)


def test_missing_profile_file(tmp_path: Path) -> None:
    """A path that does not exist is a ProfileError naming it, not a bare OSError."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ProfileError) as exc:
        load_profile(str(path))
    assert "no such file" in _message(exc, path)


# -- expand_env -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("${GW_TEST_A}", "alpha"),
    ("https://${GW_TEST_A}.example/${GW_TEST_A}", "https://alpha.example/alpha"),
    ("${GW_TEST_A:-fallback}", "alpha"),
    ("${GW_TEST_UNSET:-fallback}", "fallback"),
    ("${GW_TEST_UNSET:-http://127.0.0.1:8765}", "http://127.0.0.1:8765"),  # a default may hold `:` and `/`
    ("${GW_TEST_UNSET:-}", ""),
    ("${GW_TEST_EMPTY:-fallback}", "fallback"),  # as in the shell, `:-` also covers a variable set to ""
    ("no variables, $GW_TEST_A or $", "no variables, $GW_TEST_A or $"),  # only the braced form expands
])
def test_expand_env(monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    """`${VAR}` and `${VAR:-default}` expand from the environment."""
    monkeypatch.setenv("GW_TEST_A", "alpha")
    monkeypatch.setenv("GW_TEST_EMPTY", "")
    monkeypatch.delenv("GW_TEST_UNSET", raising=False)
    assert expand_env(text, "profile.yaml: base_url") == expected


def test_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing variable without a default is a ProfileError that names it, where, and how to set it."""
    monkeypatch.delenv("GW_TEST_MISSING", raising=False)
    with pytest.raises(ProfileError) as exc:
        expand_env("Bearer ${GW_TEST_MISSING}", "pets.yaml: headers.Authorization")
    message = str(exc.value)
    assert "GW_TEST_MISSING" in message
    assert "pets.yaml: headers.Authorization" in message
    assert "export GW_TEST_MISSING=" in message


# -- looks_like_profile -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "expected"), [
    ("profile.yaml", "# comment\nname: x\nspec: openapi.yaml\n", True),
    ("profile.yml", "spec: https://api.example/openapi.json\n", True),
    ("openapi.yaml", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n", False),
    ("swagger.yaml", "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", False),
    ("mixed.yaml", "openapi: 3.0.3\nspec: x\n", False),  # a document that happens to have a `spec` key
    ("nested.yaml", "openapi: 3.0.3\ninfo:\n  spec: x\n", False),  # an indented `spec:` is not top level
    ("profile.json", '{"spec": "openapi.yaml"}', False),
])
def test_looks_like_profile(tmp_path: Path, name: str, content: str, expected: bool) -> None:
    """A profile is a YAML file with a top-level `spec` and no `openapi`/`swagger` key."""
    assert looks_like_profile(str(write(tmp_path, content, name))) is expected


@pytest.mark.parametrize("target", ["https://api.example/profile.yaml", "http://localhost/p.yml"])
def test_urls_are_documents_not_profiles(target: str) -> None:
    """A URL is always an OpenAPI document, never read as a profile."""
    assert looks_like_profile(target) is False


def test_missing_file_is_not_a_profile(tmp_path: Path) -> None:
    """A missing file is left for the document loader to report."""
    assert looks_like_profile(str(tmp_path / "missing.yaml")) is False


# -- bundled profiles -------------------------------------------------------------------------------

def test_bundled_profiles_are_found() -> None:
    """The six seed gateways and the demo are profiles; the demo's document is not."""
    names = {p.stem for p in BUNDLED}
    assert {"lium", "aigateway", "lumyx", "lumen", "lunos", "openai-compatible", "demo"} <= names
    assert not looks_like_profile(str(TOOL_SPECS / "demo.openapi.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_profile_loads(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bundled profile validates without its secrets, and its local documents exist."""
    for var in ("LUMEN_BASE_URL", "OPENAI_COMPAT_BASE_URL", "LUNOS_APP_ID", "DEMO_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    profile = load_profile(str(path))
    for source in (profile.spec, profile.spec_fallback):
        if source is not None and not source.startswith(("http://", "https://")):
            assert Path(source).is_file(), source


# -- the upstream side: a caller's own key, OAuth2, retries, limits ----------------------------------------------


def test_upstream_keys_have_defaults_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_profile(str(write(tmp_path, "spec: openapi.yaml\n")))
    assert (defaults.retries.attempts, defaults.retries.max_delay, defaults.retries.idempotency_keys) == (3, 10, False)
    assert defaults.max_concurrency == 32 and defaults.auth.user_key is None
    assert (defaults.breaker.failures, defaults.breaker.error_rate, defaults.breaker.window,
            defaults.breaker.min_calls, defaults.breaker.cooldown) == (5, 0.5, 60, 20, 30)
    profile = load_profile(str(write(tmp_path, """\
spec: openapi.yaml
auth:
  type: oauth2_client_credentials
  token_url: https://auth.example/oauth/token
  client_id_env: PETS_CLIENT_ID
  client_secret_env: PETS_CLIENT_SECRET
  scopes: [pets.read]
  user_key: {header: X-Upstream-Authorization, required: true}
retries: {attempts: 5, max_delay: 20, idempotency_keys: true}
max_concurrency: 4
breaker: {failures: 3, cooldown: 10}
""")))
    assert profile.auth.user_key is not None and profile.auth.user_key.required
    assert profile.auth.scopes == ["pets.read"] and profile.retries.attempts == 5 and profile.max_concurrency == 4
    assert profile.breaker.failures == 3 and profile.breaker.error_rate == 0.5


@pytest.mark.parametrize(("auth", "words"), [
    ("{type: bearer, env: K, user_key: {header: Authorization}}", "never passed on upstream"),
    ("{type: bearer, env: K, user_key: {header: mcp-session-id}}", "never passed on upstream"),
    ("{type: bearer, env: K, user_key: {header: 'X Key'}}", "is not an HTTP header name"),
    ("{type: none, user_key: {header: X-Key}}", "user_key needs an auth type"),
    ("{type: oauth2_client_credentials, client_id_env: A, client_secret_env: B}", "needs token_url"),
    ("{type: oauth2_client_credentials, token_url: 'ftp://x', client_id_env: A, client_secret_env: B}",
     "must be an http(s) URL"),
])
def test_upstream_auth_mistakes_are_named(tmp_path: Path, auth: str, words: str) -> None:
    with pytest.raises(ProfileError, match="auth") as raised:
        load_profile(str(write(tmp_path, f"spec: openapi.yaml\nauth: {auth}\n")))
    assert words in str(raised.value)


@pytest.mark.parametrize("setting", ["retries: {attempts: 0}", "max_concurrency: 0", "breaker: {error_rate: 2}",
                                     "retries: {max_delay: 0}"])
def test_out_of_range_limits_are_refused(tmp_path: Path, setting: str) -> None:
    with pytest.raises(ProfileError):
        load_profile(str(write(tmp_path, f"spec: openapi.yaml\n{setting}\n")))


@pytest.mark.parametrize(("content", "words"), [
    ("spec: x.yaml\nbse_url: https://a\n", "key `bse_url` is not a profile setting; check its spelling"),
    ("name: x\n", "key `spec` is required; add it"),
    ("spec: x.yaml\nauth: {type: bearer, env: 1BAD}\n", "'1BAD' is not an environment variable name (letters"),
    ("spec: x.yaml\n  bad: indent\n", "at line 2, column 6); fix the YAML there"),
    ("[]\n", "e.g. `spec: openapi.json`"),
    ("spec: x.yaml\noverrides: {'POST /a': {request_body: {type: object}, request_body_media_type: multipart}}\n",
     "'multipart' is not a media type: write type/subtype, e.g. multipart/form-data"),
    ("spec: x.yaml\noverrides: {'POST /a': {request_body_media_type: multipart/form-data}}\n",
     "request_body_media_type says how request_body is sent: give request_body"),
])
def test_profile_errors_say_what_to_do(tmp_path: Path, content: str, words: str) -> None:
    with pytest.raises(ProfileError) as raised:
        load_profile(str(write(tmp_path, content)))
    assert words in str(raised.value)
