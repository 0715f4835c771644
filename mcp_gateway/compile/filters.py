"""Profile filters: which operations become tools."""

from __future__ import annotations

from fnmatch import fnmatchcase

from mcp_gateway.profile import Filter, Profile

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def _any(globs: list[str], values: list[str], fold: bool = False) -> bool:
    if fold:
        globs = [g.lower() for g in globs]
        values = [v.lower() for v in values]
    return any(fnmatchcase(value, glob) for glob in globs for value in values)


def matches(flt: Filter, method: str, path: str, operation_id: str | None, tags: list[str]) -> bool:
    """True when every non-empty list of the filter has a glob that matches the operation."""
    checks = [
        (flt.tags, tags, False),
        (flt.operations, ([operation_id] if operation_id else []) + [f"{method} {path}"], False),
        (flt.paths, [path], False),
        (flt.methods, [method], True),
    ]
    given = [(globs, values, fold) for globs, values, fold in checks if globs]
    return bool(given) and all(_any(globs, values, fold) for globs, values, fold in given)


def selected(profile: Profile, method: str, path: str, operation_id: str | None, tags: list[str]) -> bool:
    """Whether the profile keeps this operation."""
    if profile.read_only and method not in _READ_METHODS:
        return False
    if profile.include is not None and not matches(profile.include, method, path, operation_id, tags):
        return False
    return not (profile.exclude is not None and matches(profile.exclude, method, path, operation_id, tags))
