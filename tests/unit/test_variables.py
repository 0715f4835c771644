"""The environment variables a profile reads: keys from its auth, settings from `${VAR}` in base_url and headers."""

from __future__ import annotations

from mcp_gateway.build import TargetOptions, profile_for
from mcp_gateway.profile import Auth, Profile, env_references
from mcp_gateway.variables import Variable, variables_of


def test_references_with_and_without_defaults():
    assert env_references("${A}/x/${B:-http://h:1}/${C:-}") == [("A", None), ("B", "http://h:1"), ("C", "")]
    assert env_references("$A and ${1X} are not references") == []


def test_keys_first_then_settings_each_once():
    profile = Profile(spec="x.yaml", base_url="${HOST}/${VERSION:-v1}",
                      headers={"X-App": "${APP_ID:-}", "X-Host": "${HOST}"},
                      auth=Auth(type="basic", username_env="USER_NAME", password_env="USER_PASSWORD"))
    assert variables_of(profile) == (
        Variable("USER_NAME", "key", required=True),
        Variable("USER_PASSWORD", "key", required=True),
        Variable("HOST", "setting", required=True),
        Variable("VERSION", "setting", required=False, default="v1"),
        Variable("APP_ID", "setting", required=False, default=""),
    )
    assert [v.label() for v in variables_of(profile)] == ["USER_NAME", "USER_PASSWORD", "HOST", "[VERSION]",
                                                          "[APP_ID]"]


def test_a_bare_document_needs_the_key_its_flags_name():
    bearer, _ = profile_for("openapi.json", TargetOptions(bearer_env="EXAMPLE_TOKEN"), single=True)
    assert variables_of(bearer) == (Variable("EXAMPLE_TOKEN", "key", required=True),)
    assert variables_of(profile_for("openapi.json", TargetOptions(), single=True)[0]) == ()


def test_the_bundled_demo_needs_its_key_and_may_have_its_base_url():
    demo, _ = profile_for("demo", TargetOptions(), single=True)
    assert variables_of(demo) == (Variable("DEMO_API_KEY", "key", required=True),
                                  Variable("DEMO_BASE_URL", "setting", required=False, default="http://127.0.0.1:8765"))
