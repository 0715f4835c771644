"""Values no request can carry (NaN, infinities, lone surrogates) and keys no header can carry are refused,
naming the argument or the variable, before anything is sent."""

from __future__ import annotations

import pytest

from tests.common import FIXTURES, server_env
from tests.servers import run_cli, serve_stdio, text_of

pytestmark = pytest.mark.anyio

COMPLETION = str(FIXTURES / "completion.yaml")


@pytest.mark.parametrize("temperature", ["NaN", "Infinity", "-Infinity"])
async def test_a_non_finite_number_names_its_argument(upstream, era, temperature: str) -> None:
    async with serve_stdio([COMPLETION, "--base-url", upstream.url], mode=era) as served:
        refused = await served.client.call_tool("complete", {"prompt": "hi", "temperature": temperature})
        fine = await served.client.call_tool("complete", {"prompt": "hi", "temperature": "0.5"})
    assert refused.is_error and "`temperature`" in text_of(refused)
    assert not fine.is_error
    assert [request.json() for request in upstream.requests] == [{"prompt": "hi", "temperature": 0.5}]


@pytest.mark.parametrize(("arguments", "argument"), [
    ('{"prompt": "hi", "temperature": NaN}', "temperature"),
    ('{"prompt": "hi", "temperature": Infinity}', "temperature"),
    ('{"prompt": "\\ud800"}', "prompt"),
])
def test_the_command_line_refuses_what_json_cannot_send(upstream, arguments: str, argument: str) -> None:
    done = run_cli("call", COMPLETION, "complete", "--args", arguments, "--base-url", upstream.url)
    assert done.returncode == 1 and f"`{argument}`" in done.stdout and "Nothing was sent upstream" in done.stdout
    assert "internal error" not in done.stdout and "Traceback" not in done.stderr
    assert upstream.requests == []


def test_a_key_with_a_line_break_inside_stops_start_up_naming_the_variable(upstream) -> None:
    env = server_env({"BROKEN_KEY": "sk-first-half\nX-Injected: yes"})
    done = run_cli("call", COMPLETION, "complete", "--args", '{"prompt": "hi"}', "--base-url", upstream.url,
                   "--bearer-env", "BROKEN_KEY", env=env)
    assert done.returncode == 2 and "BROKEN_KEY" in done.stderr and "control character" in done.stderr
    assert "sk-first-half" not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert upstream.requests == []
