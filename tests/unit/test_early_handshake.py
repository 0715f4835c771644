"""The handshake answered before the SDK loads (early.py): its version is the SDK's, and the client capabilities it
answers without the SDK's models are ones those models accept."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import mcp_types as types
import pytest
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from mcp_gateway.early import HANDSHAKE_VERSION, plain_initialize

PLAIN: list[dict[str, Any]] = [
    {},
    {"roots": {"listChanged": True}},
    {"roots": {}, "sampling": {}, "elicitation": {}},
    {"elicitation": {"form": {}, "url": {}}, "sampling": {"context": {}, "tools": {}}},
]
NOT_PLAIN: list[dict[str, Any]] = [
    {"roots": {"listChanged": "yes"}},  # the model refuses it: the SDK words the error
    {"elicitation": {"form": {"extra": 1}}},
    {"experimental": {"x": {}}},  # valid, but not a shape answered without the model
    {"tasks": {}},
]


def _params(capabilities: dict[str, Any], **info: str) -> dict[str, Any]:
    return {"protocolVersion": HANDSHAKE_VERSION, "capabilities": capabilities,
            "clientInfo": info or {"name": "client", "version": "1.0"}}


def test_the_handshake_version_is_the_sdks_latest() -> None:
    assert HANDSHAKE_VERSION == LATEST_HANDSHAKE_VERSION


@pytest.mark.parametrize("capabilities", PLAIN)
def test_plain_capabilities_are_ones_the_sdks_model_accepts(capabilities: dict[str, Any]) -> None:
    params = _params(capabilities)
    assert plain_initialize(params)
    types.InitializeRequestParams.model_validate(params, by_name=False)


@pytest.mark.parametrize("capabilities", NOT_PLAIN)
def test_other_capabilities_go_to_the_model(capabilities: dict[str, Any]) -> None:
    assert not plain_initialize(_params(capabilities))


def test_client_info_must_be_plain_strings_with_name_and_version() -> None:
    assert plain_initialize(_params({}, name="c", version="1", title="C"))
    assert not plain_initialize(_params({}, name="c"))
    assert not plain_initialize({**_params({}), "clientInfo": {"name": "c", "version": 1}})
    assert not plain_initialize({**_params({}), "clientInfo": {"name": "c", "version": "1", "icons": []}})


def test_the_sdks_wire_models_load_at_their_first_use() -> None:
    script = (
        "import sys\n"
        "import mcp_gateway.build, mcp_gateway.early, mcp_gateway.gateway\n"
        "from mcp_types.version import LATEST_HANDSHAKE_VERSION\n"  # a submodule: the package's code not run
        "print(type(sys.modules['mcp_types']).__name__, 'Tool' in vars(sys.modules['mcp_types']))\n"
        "import mcp_types\n"
        "print(mcp_types.Tool.__name__, type(sys.modules['mcp_types']).__name__)\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert shown.split() == ["_LoadedOnFirstUse", "False", "Tool", "module"]
