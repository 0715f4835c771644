"""Inbound auth: fixed tokens read from the environment and matched, and the flags checked before serving."""

from __future__ import annotations

import pytest

from mcp_gateway.errors import GatewayError
from mcp_gateway.inbound_auth import AnyOf, JwtVerifier, StaticTokens, inbound_auth

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("environ", "words"), [
    ({}, "is not set"), ({"TOKENS": " , ,"}, "holds no token"), ({"TOKENS": "good,bad token"}, "a space"),
    ({"TOKENS": "good,caf\u00e9"}, "outside ASCII"), ({"TOKENS": "good,tab\tbed"}, "control character")])
def test_a_bad_token_variable_is_named_and_its_value_never_shown(environ: dict[str, str], words: str) -> None:
    with pytest.raises(GatewayError) as refused:
        StaticTokens.from_env("TOKENS", environ=environ)
    assert "TOKENS" in str(refused.value) and words in str(refused.value)
    assert all(value not in str(refused.value) for value in environ.values() if value.strip(" ,"))


async def test_each_token_is_known_by_its_number() -> None:
    tokens = StaticTokens.from_env("TOKENS", ["tools"], {"TOKENS": " alpha-1 ,beta-2"})
    second = await tokens.verify_token("beta-2")
    assert second is not None and second.client_id == "token#2" and second.scopes == ["tools"]
    assert (await tokens.verify_token("alpha-1")) is not None
    for wrong in ("beta-", "beta-22", "", "alpha-1,beta-2", " alpha-1"):
        assert await tokens.verify_token(wrong) is None


def test_flags_make_the_auth_asked_for() -> None:
    assert inbound_auth(None) is None
    oauth = inbound_auth(None, "https://issuer.example", "https://gateway.example/mcp", scopes=["tools"])
    assert oauth is not None and isinstance(oauth.verifier, JwtVerifier) and oauth.scopes == ("tools",)
    settings = oauth.settings()
    assert settings is not None and str(settings.issuer_url) == "https://issuer.example"  # no `/` added
    assert str(oauth.metadata_url()) == "https://gateway.example/.well-known/oauth-protected-resource/mcp"
    assert {route.path for route in oauth.metadata_routes()} == {
        "/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}


def test_fixed_tokens_and_oauth_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_TOKENS", "one")
    both = inbound_auth("TEAM_TOKENS", "http://127.0.0.1:9000", "http://127.0.0.1:8000/mcp")
    assert both is not None and isinstance(both.verifier, AnyOf) and len(both.verifier.verifiers) == 2


@pytest.mark.parametrize(("flags", "words"), [
    ({"issuer": "https://issuer.example"}, "--oauth-audience"),
    ({"audience": "https://gateway.example/mcp"}, "--oauth-issuer"),
    ({"issuer": "http://issuer.example", "audience": "https://g.example/mcp"}, "https://"),
    ({"issuer": "https://issuer.example", "audience": "https://g.example/mcp", "jwks_url": "ftp://x"}, "https://"),
    ({"issuer": "https://issuer.example", "audience": "gateway"}, "this server's URL"),
    ({"scopes": ["tools"]}, "needs inbound auth")])
def test_bad_oauth_flags_say_what_to_give(flags: dict[str, object], words: str) -> None:
    with pytest.raises(GatewayError) as refused:
        inbound_auth(None, **flags)
    assert words in str(refused.value)
