"""Unit tests of OAuth2 client credentials: the token request, caching until shortly before expiry (a fake clock),
one fetch shared by concurrent callers, a rejected token fetched anew, and endpoint failures that name what to check
without showing the secret."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from mcp_gateway.oauth2 import TokenError, TokenSource, use_until
from mcp_gateway.profile import Auth
from mcp_gateway.redaction import Redactor

pytestmark = pytest.mark.anyio

CLIENT = ("client-7", "s3cret+/value")
URL = "http://auth.test/oauth/token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A token endpoint: each request gets a new token, or the `failure` set for it."""

    def __init__(self, expires_in: object = 3600) -> None:
        self.expires_in = expires_in
        self.requests: list[httpx.Request] = []
        self.failure: httpx.Response | None = None
        self.gate: anyio.Event | None = None  # when set, answers wait for it

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            return unread(self.failure)
        body = {"access_token": f"tok-{len(self.requests)}", "token_type": "bearer", "expires_in": self.expires_in}
        return unread(httpx.Response(200, json=body))


def unread(answer: httpx.Response) -> httpx.Response:
    """The answer as a real transport hands it over: not yet read."""
    return httpx.Response(answer.status_code, headers=answer.headers, stream=answer.stream)


def source(endpoint: Endpoint, clock: FakeClock | None = None, **auth: object) -> TokenSource:
    settings = Auth.model_validate({"type": "oauth2_client_credentials", "token_url": URL, "client_id_env": "CID",
                                    "client_secret_env": "CSECRET", **auth})
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    return TokenSource(settings, CLIENT, http, Redactor([CLIENT[1]]), 5.0, clock or FakeClock())


async def test_the_token_request_is_client_credentials_with_scopes_and_basic_client_auth() -> None:
    endpoint = Endpoint()
    tokens = source(endpoint, scopes=["read", "write"], audience="https://api.example")
    assert await tokens.token() == "tok-1"
    [request] = endpoint.requests
    assert request.method == "POST" and str(request.url) == URL
    assert dict(parse_qsl(request.content.decode())) == {"grant_type": "client_credentials", "scope": "read write",
                                                        "audience": "https://api.example"}
    expected = base64.b64encode(b"client-7:s3cret%2B%2Fvalue").decode()  # each part form-encoded (RFC 6749 2.3.1)
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_client_credentials_can_go_in_the_form_instead() -> None:
    endpoint = Endpoint()
    await source(endpoint, client_auth="body").token()
    [request] = endpoint.requests
    form = dict(parse_qsl(request.content.decode()))
    assert form["client_id"] == CLIENT[0] and form["client_secret"] == CLIENT[1]
    assert "authorization" not in request.headers


async def test_a_token_is_kept_until_shortly_before_it_expires() -> None:
    clock, endpoint = FakeClock(), Endpoint(expires_in=3600)
    tokens = source(endpoint, clock)
    assert await tokens.token() == "tok-1"
    clock.now += 3539
    assert await tokens.token() == "tok-1"
    clock.now += 1  # a minute before expiry: no longer used
    assert await tokens.token() == "tok-2"
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize(("expires_in", "after"), [(3600, 3540.0), (100, 90.0), ("120", 108.0), (None, None),
                                                   (0, None), (-5, None), (True, None), ("soon", None)])
def test_when_a_token_stops_being_used(expires_in: object, after: float | None) -> None:
    assert use_until(expires_in, 0.0) == after


async def test_concurrent_callers_share_one_fetch() -> None:
    endpoint = Endpoint()
    endpoint.gate = anyio.Event()
    tokens = source(endpoint)
    got: list[str] = []

    async def caller() -> None:
        got.append(await tokens.token())

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(caller)
        await anyio.wait_all_tasks_blocked()
        endpoint.gate.set()
    assert got == ["tok-1"] * 5 and len(endpoint.requests) == 1


async def test_callers_that_waited_for_a_failed_fetch_get_its_error_and_a_later_caller_tries_again() -> None:
    endpoint = Endpoint()
    endpoint.gate = anyio.Event()
    endpoint.failure = httpx.Response(503)
    tokens = source(endpoint)
    errors: list[str] = []

    async def caller() -> None:
        try:
            await tokens.token()
        except TokenError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tasks:
        for _ in range(3):
            tasks.start_soon(caller)
        await anyio.wait_all_tasks_blocked()
        endpoint.gate.set()
    assert len(errors) == 3 and len(endpoint.requests) == 1
    endpoint.failure = None
    assert await tokens.token() == "tok-2"


async def test_a_rejected_token_is_fetched_anew_once_however_many_calls_saw_it_rejected() -> None:
    endpoint = Endpoint()
    tokens = source(endpoint)
    first = await tokens.token()
    tokens.rejected(first)
    tokens.rejected(first)
    assert await tokens.token() == "tok-2"
    tokens.rejected(first)  # a late rejection of the old token changes nothing
    assert await tokens.token() == "tok-2" and len(endpoint.requests) == 2


@pytest.mark.parametrize(("answer", "expected"), [
    (httpx.Response(401, json={"error": "invalid_client", "error_description": f"bad secret {CLIENT[1]}"}),
     "it answered HTTP 401 (invalid_client bad secret ***)"),
    (httpx.Response(200, json={"token_type": "bearer"}), "HTTP 200 without an access_token"),
    (httpx.Response(200, json={"access_token": "t", "token_type": "mac"}), "a token of type 'mac'"),
    (httpx.Response(200, text="<html>login</html>"), "HTTP 200 without an access_token"),
])
async def test_endpoint_failures_name_the_endpoint_and_the_variables_never_the_secret(answer: httpx.Response,
                                                                                      expected: str) -> None:
    endpoint = Endpoint()
    endpoint.failure = answer
    with pytest.raises(TokenError) as raised:
        await source(endpoint).token()
    message = str(raised.value)
    assert message.startswith(f"could not get an OAuth2 access token from {URL}: ")
    assert expected in message and "CID and CSECRET" in message and CLIENT[1] not in message


async def test_an_unreachable_endpoint_is_a_token_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    settings = Auth.model_validate({"type": "oauth2_client_credentials", "token_url": URL, "client_id_env": "CID",
                                    "client_secret_env": "CSECRET"})
    tokens = TokenSource(settings, CLIENT, httpx.AsyncClient(transport=httpx.MockTransport(refuse)), Redactor(), 5.0)
    with pytest.raises(TokenError, match="ConnectError: connection refused"):
        await tokens.token()


async def test_a_huge_answer_is_read_no_further_than_the_cap() -> None:
    endpoint = Endpoint()
    endpoint.failure = httpx.Response(200, content=json.dumps({"access_token": "x" * 1_000_000}).encode())
    with pytest.raises(TokenError, match="without an access_token"):
        await source(endpoint).token()
