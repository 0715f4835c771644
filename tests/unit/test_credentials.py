"""Unit tests of Credentials: each auth type read from the environment and placed where the profile says."""

from __future__ import annotations

import base64

import pytest

from mcp_gateway.credentials import Credentials
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
