"""The profiles shipped inside the package, and the one place a bare name (`serve lium`) becomes one of them.

They live in tool_specs/ at the checkout's root, which pyproject.toml installs as the package `mcp_gateway.tool_specs`
(data files beside an `__init__.py`): a wheel, pipx or uvx install carries every profile and its fallback document,
and an editable install reads the checkout's own folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from mcp_gateway.errors import ProfileError
from mcp_gateway.profile import load_profile, looks_like_profile
from mcp_gateway.variables import Variable, variables_of

_BARE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class BundledProfile:
    """One bundled profile as `mcp-gateway profiles` shows it."""

    name: str  # what `serve NAME` takes: the file's name without `.yaml`
    path: Path
    description: str
    variables: tuple[Variable, ...]


def folder() -> Path:
    """The folder of the bundled profiles (pip, pipx and uv install packages as plain files)."""
    return Path(str(files("mcp_gateway.tool_specs")))


def bundled_paths() -> dict[str, Path]:
    """Every bundled profile by name, in name order (the documents beside them are not profiles)."""
    return {path.stem: path for path in sorted(folder().glob("*.yaml")) if looks_like_profile(str(path))}


def resolve_target(target: str) -> str:
    """The path of the bundled profile a bare name means (a file of that name here wins); other targets as given."""
    if not _BARE_NAME.fullmatch(target) or os.path.exists(target):
        return target
    paths = bundled_paths()
    if target not in paths:
        raise ProfileError(target, f"is neither a file nor a bundled profile; the bundled profiles are "
                                   f"{', '.join(paths)} (`mcp-gateway profiles` shows what each needs)")
    return str(paths[target])


def description(text: str) -> str:
    """A profile's one-line description: the first sentence of the comment that opens its file."""
    lines = []
    for line in text.splitlines():
        words = line[1:] if line.startswith("#") else None
        if words is None or not words.strip() or words.startswith(("  ", "\t")):
            break  # the end of the opening paragraph: code, a blank line, or an indented example
        lines.append(words.strip())
    paragraph = " ".join(lines)
    sentence = re.match(r".*?[.!?](?=\s|$)", paragraph)
    return sentence.group(0) if sentence else paragraph


def bundled_profiles() -> list[BundledProfile]:
    """Every bundled profile with its description and the variables it reads."""
    return [BundledProfile(name, path, description(path.read_text(encoding="utf-8")),
                           variables_of(load_profile(str(path))))
            for name, path in bundled_paths().items()]


def listing(profiles: list[BundledProfile]) -> str:
    """The profiles as `mcp-gateway profiles` prints them: name, variables ([optional]), description; aligned."""
    rows = [(p.name, " ".join(v.label() for v in p.variables) or "-", p.description) for p in profiles]
    name_width = max((len(row[0]) for row in rows), default=0)
    needs_width = max((len(row[1]) for row in rows), default=0)
    return "".join(f"{name:<{name_width}}  {needs:<{needs_width}}  {text}".rstrip() + "\n"
                   for name, needs, text in rows)


def listing_json(profiles: list[BundledProfile]) -> list[dict[str, object]]:
    """The profiles as `mcp-gateway profiles --json` prints them."""
    return [{"name": p.name, "path": str(p.path), "description": p.description,
             "variables": [{"name": v.name, "kind": v.kind, "required": v.required, "default": v.default}
                           for v in p.variables]}
            for p in profiles]
