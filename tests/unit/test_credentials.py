"""Unit tests of Credentials: each auth type read from the environment and placed where the profile says."""

from __future__ import annotations

import base64

import pytest

from mcp_gateway.credentials import CallerKeyError, Credentials, caller_key
from mcp_gateway.profile import Auth

KEY = "sk-test-key-1234"


def test_no_auth_reads_nothing() -> None:
    credentials = Credentials(Auth())
    assert (credentials.headers, credentials.query, credentials.cookies) == ({}, [], [])
    assert credentials.missing == [] and credentials.secrets == [] and credentials.env_names() == []


def test_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", KEY)
    credentials = Credentials(Auth(type="bearer", env="TOKEN"))
    assert credentials.headers == {"Authorization": f"Bearer {KEY}"}
    assert credentials.query == [] and credentials.cookies == []
    assert credentials.secrets == [KEY] and credentials.missing == []
    assert credentials.env_names() == ["TOKEN"]


@pytest.mark.parametrize(("where", "headers", "query", "cookies"), [
    ("header", {"X-Service-Key": KEY}, [], []),
    ("query", {}, [("X-Service-Key", KEY)], []),
    ("cookie", {}, [], [("X-Service-Key", KEY)]),
])
def test_api_key_goes_where_the_profile_says(monkeypatch: pytest.MonkeyPatch, where: str, headers: dict[str, str],
                                            query: list[tuple[str, str]], cookies: list[tuple[str, str]]) -> None:
    monkeypatch.setenv("SERVICE_KEY", KEY)
    credentials = Credentials(Auth.model_validate({"type": "api_key", "in": where, "name": "X-Service-Key",
                                                   "env": "SERVICE_KEY"}))
    assert (credentials.headers, credentials.query, credentials.cookies) == (headers, query, cookies)
    assert credentials.secrets == [KEY]


def test_basic_user_name_is_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_USER", "api")
    monkeypatch.setenv("API_PASSWORD", "pw-9012")
    credentials = Credentials(Auth(type="basic", username_env="API_USER", password_env="API_PASSWORD"))
    token = base64.b64encode(b"api:pw-9012").decode()  # RFC 7617: base64 of user-id ":" password
    assert credentials.headers == {"Authorization": f"Basic {token}"}
    assert "api" not in credentials.secrets
    assert set(credentials.secrets) == {"pw-9012", token}
    assert credentials.env_names() == ["API_USER", "API_PASSWORD"]


def test_basic_user_name_equal_to_the_password_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_USER", "same-secret-77")
    monkeypatch.setenv("API_PASSWORD", "same-secret-77")
    credentials = Credentials(Auth(type="basic", username_env="API_USER", password_env="API_PASSWORD"))
    assert "same-secret-77" in credentials.secrets


def test_value_is_stripped_of_surrounding_whitespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", f"{KEY}\n")
    credentials = Credentials(Auth(type="bearer", env="TOKEN"))
    assert credentials.headers == {"Authorization": f"Bearer {KEY}"} and credentials.secrets == [KEY]


@pytest.mark.parametrize("value", [None, "", "  \n"])
def test_missing_or_blank_variable_is_listed(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("TOKEN", raising=False)
    else:
        monkeypatch.setenv("TOKEN", value)
    credentials = Credentials(Auth(type="bearer", env="TOKEN"))
    assert credentials.missing == ["TOKEN"]
    assert credentials.headers == {} and credentials.secrets == []


def test_basic_lists_each_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_USER", raising=False)
    monkeypatch.delenv("API_PASSWORD", raising=False)
    credentials = Credentials(Auth(type="basic", username_env="API_USER", password_env="API_PASSWORD"))
    assert credentials.missing == ["API_USER", "API_PASSWORD"] and credentials.headers == {}


def test_basic_with_only_the_user_sends_nothing_and_keeps_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_USER", "alice")
    monkeypatch.delenv("API_PASSWORD", raising=False)
    credentials = Credentials(Auth(type="basic", username_env="API_USER", password_env="API_PASSWORD"))
    assert credentials.missing == ["API_PASSWORD"]
    assert credentials.headers == {} and credentials.secrets == []


def test_auth_without_a_variable_name_is_reported_missing() -> None:
    credentials = Credentials(Auth(type="bearer"))
    assert len(credentials.missing) == 1 and "no environment variable" in credentials.missing[0]
    assert credentials.headers == {} and credentials.env_names() == []


@pytest.mark.parametrize("value", [f"{KEY[:4]}\n{KEY[4:]}", f"{KEY}\x1bx", "sk\r\nX-Evil: 1"])
def test_a_key_with_a_control_character_inside_is_malformed_and_never_placed(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TOKEN", value)
    credentials = Credentials(Auth(type="bearer", env="TOKEN"))
    assert credentials.malformed == ["TOKEN"] and credentials.headers == {}
    assert credentials.secrets  # still masked wherever it might appear


def test_surrounding_whitespace_is_no_part_of_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", f"  {KEY}\n")
    credentials = Credentials(Auth(type="bearer", env="TOKEN"))
    assert credentials.headers == {"Authorization": f"Bearer {KEY}"} and credentials.malformed == []


# -- a caller's own key -------------------------------------------------------------------------------------------

OWN = "caller-own-key-9876"


def own_key(kind: str, required: bool = False, **extra: str) -> Auth:
    return Auth.model_validate({"type": kind, "env": "TOKEN", **extra,
                                "user_key": {"header": "X-Upstream-Authorization", "required": required}})


@pytest.mark.parametrize(("auth", "value", "headers", "query"), [
    ({"type": "bearer"}, OWN, {"Authorization": f"Bearer {OWN}"}, []),
    ({"type": "bearer"}, f"Bearer {OWN}", {"Authorization": f"Bearer {OWN}"}, []),
    ({"type": "oauth2_client_credentials", "token_url": "https://auth.example/token", "client_id_env": "CID",
      "client_secret_env": "CSECRET"}, f"bearer {OWN}", {"Authorization": f"Bearer {OWN}"}, []),
    ({"type": "api_key", "in": "header", "name": "X-Key"}, OWN, {"X-Key": OWN}, []),
    ({"type": "api_key", "in": "query", "name": "key"}, OWN, {}, [("key", OWN)]),
    ({"type": "basic"}, "ann:pw-1234", {"Authorization": "Basic " + base64.b64encode(b"ann:pw-1234").decode()}, []),
    ({"type": "basic"}, "Basic YW5uOnB3", {"Authorization": "Basic YW5uOnB3"}, []),
], ids=["bearer", "bearer-prefixed", "oauth2", "api_key-header", "api_key-query", "basic", "basic-encoded"])
def test_a_callers_key_goes_where_the_servers_would(monkeypatch: pytest.MonkeyPatch, auth: dict[str, str], value: str,
                                                   headers: dict[str, str], query: list[tuple[str, str]]) -> None:
    monkeypatch.setenv("TOKEN", KEY)
    credentials = Credentials(Auth.model_validate(auth), caller_key=value)
    assert credentials.headers == headers and credentials.query == query
    assert KEY not in str(vars(credentials)) and credentials.missing == [] and not credentials.oauth2
    assert value in credentials.secrets


def test_the_callers_header_is_read_only_when_the_profile_names_it() -> None:
    headers = {"x-upstream-authorization": f"  {OWN} ", "authorization": "Bearer for-the-gateway"}
    assert caller_key(own_key("bearer"), headers) == OWN  # any case, without surrounding spaces
    assert caller_key(Auth(type="bearer", env="TOKEN"), headers) is None
    assert caller_key(own_key("bearer"), {"authorization": "Bearer for-the-gateway"}) is None
    assert caller_key(own_key("bearer"), None) is None  # stdio: the server's key serves


def test_a_required_key_that_is_missing_says_which_header_to_send() -> None:
    with pytest.raises(CallerKeyError, match="send it in the X-Upstream-Authorization header"):
        caller_key(own_key("bearer", required=True), {"x-upstream-authorization": " "})
    with pytest.raises(CallerKeyError, match="stdio has no headers: serve it over HTTP"):
        caller_key(own_key("bearer", required=True), None)


def test_a_callers_key_with_a_control_character_is_refused_without_showing_it() -> None:
    with pytest.raises(CallerKeyError) as raised:
        caller_key(own_key("bearer"), {"X-Upstream-Authorization": f"{OWN}\x00"})
    assert OWN not in str(raised.value) and "control character" in str(raised.value)


def test_messages_about_a_callers_key_name_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Credentials(own_key("bearer"), caller_key=OWN).env_names() == ["the X-Upstream-Authorization header"]
    assert Credentials(own_key("bearer")).env_names() == ["TOKEN"]


def test_oauth2_client_credentials_are_read_and_only_the_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CID", "client-1")
    monkeypatch.setenv("CSECRET", KEY)
    credentials = Credentials(Auth.model_validate({"type": "oauth2_client_credentials", "client_id_env": "CID",
                                                   "client_secret_env": "CSECRET",
                                                   "token_url": "https://auth.example/token"}))
    assert credentials.client == ("client-1", KEY) and credentials.oauth2 and credentials.headers == {}
    assert KEY in credentials.secrets and "client-1" not in credentials.secrets
    assert base64.b64encode(f"client-1:{KEY}".encode()).decode() in credentials.secrets
    assert credentials.env_names() == ["CID", "CSECRET"]
    monkeypatch.delenv("CSECRET")
    missing = Credentials(credentials.auth)
    assert missing.missing == ["CSECRET"] and missing.client is None
