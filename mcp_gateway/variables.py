"""The environment variables a profile reads: its keys (auth) and its settings (`${VAR}` in base_url and headers).

`profiles` lists them and `config`/`install` reference them in a client's configuration, so that a user learns
what to export and no client file ever holds a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mcp_gateway.profile import Profile, env_references


@dataclass(frozen=True)
class Variable:
    """One environment variable a profile reads."""

    name: str
    kind: Literal["key", "setting"]  # key: a credential; setting: part of base_url or a static header
    required: bool  # False: `${VAR:-default}`, which starts without it
    default: str | None = None

    def label(self) -> str:
        """The name as a listing shows it: optional ones in brackets."""
        return self.name if self.required else f"[{self.name}]"


def variables_of(profile: Profile) -> tuple[Variable, ...]:
    """The profile's variables, keys first, each once, in the order the profile names them."""
    found: dict[str, Variable] = {}
    for field, value in profile.auth:
        if (field == "env" or field.endswith("_env")) and isinstance(value, str):
            found.setdefault(value, Variable(value, "key", required=True))
    for text in [profile.base_url or "", *profile.headers.values()]:
        for name, default in env_references(text):
            found.setdefault(name, Variable(name, "setting", required=default is None, default=default))
    return tuple(found.values())

