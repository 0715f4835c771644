"""mcp-gateway: serve any HTTP API described by OpenAPI as MCP tools."""

__version__ = "0.1.0"


import importlib.util as _importlib_util
import sys as _sys
from types import ModuleType as _ModuleType
from typing import Any as _Any


class _LoadedOnFirstUse(_ModuleType):
    """A module whose code runs when a name it defines is first asked for: importing it, or one of its submodules,
    costs nothing until then. (The standard library's LazyLoader loads at the import statement already, which reads
    the module's `__spec__`.)"""

    def __getattr__(self, name: str) -> _Any:
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        self.__class__ = _ModuleType  # type: ignore[assignment]  # an ordinary module from here on, also while its code runs
        spec.loader.exec_module(self)
        return getattr(self, name)


def _load_on_first_use(name: str) -> None:
    """Register package `name` to load at its first use, unless it is loaded already or cannot be found."""
    if name in _sys.modules:
        return
    spec = _importlib_util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    module = _importlib_util.module_from_spec(spec)
    module.__class__ = _LoadedOnFirstUse
    _sys.modules[name] = module


# the MCP SDK's wire models take some 80 ms to import; a stdio start answers the handshake and the tool list
# without them (early.py)
_load_on_first_use("mcp_types")
