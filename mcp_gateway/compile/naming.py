"""Tool and argument names that every mainstream client accepts, unique and stable across runs."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ARGUMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")

_VERSION_SEGMENT = re.compile(r"^(v\d+(\.\d+)*|api|rest)$", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ACTION_VERBS = frozenset(
    "accept activate approve archive cancel clone close complete confirm copy count decline deploy disable "
    "download enable execute export import lock merge move pause publish reboot refresh reject rename renew "
    "reset restart restore resume retry revoke rotate run search send start stop submit sync terminate test "
    "transfer unlock upload validate verify".split()
)


def clean(text: str, allowed: str = r"A-Za-z0-9_-") -> str:
    """Replace runs of characters outside `allowed` by one `_`, trimmed at both ends."""
    return re.sub(rf"[^{allowed}]+", "_", text).strip("_")


def shorten(name: str, limit: int) -> str:
    """Cut a name to `limit` characters, keeping it unique with a short hash of the whole name."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[: max(1, limit - 9)].rstrip('_-')}_{digest}"


def singular(word: str) -> str:
    """A plain English singular, good enough for resource names in URLs."""
    lower = word.lower()
    if lower.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _words(segment: str) -> str:
    return clean(_CAMEL.sub("_", segment), r"A-Za-z0-9").lower()


def derived_name(method: str, path: str) -> str:
    """A verb phrase from method and path: `GET /v1/models` -> `list_models`, `DELETE /pods/{id}` -> `delete_pod`."""
    raw = [s for s in path.split("?")[0].split("/") if s]
    segments: list[tuple[str, bool]] = []  # (words, is_parameter)
    for seg in raw:
        is_param = seg.startswith("{") and seg.endswith("}")
        if not is_param and _VERSION_SEGMENT.match(seg):
            continue
        segments.append((_words(seg.strip("{}")), is_param))
    nouns: list[str] = []
    for i, (words, is_param) in enumerate(segments):
        if is_param or not words:
            continue
        followed_by_param = i + 1 < len(segments) and segments[i + 1][1]
        nouns.append(singular(words) if followed_by_param else words)
    method = method.lower()
    item = bool(segments) and segments[-1][1]
    if not nouns:
        return {"get": "get_root", "post": "create_root"}.get(method, f"{method}_root")
    last = nouns[-1]
    if method == "get":
        verb = "get" if item or singular(last) == last else "list"
        return "_".join([verb, *nouns])
    if method == "post" and not item and last.split("_")[0] in _ACTION_VERBS:
        return "_".join([last, *(singular(n) for n in nouns[:-1])])  # POST /jobs/{id}/cancel -> cancel_job
    verb = {"post": "create", "put": "replace", "patch": "update", "delete": "delete"}.get(method, method)
    if not item:
        nouns[-1] = singular(last)
    return "_".join([verb, *nouns])


def by_parameters(name: str, path: str) -> str:
    """`name` told apart by the path's parameters: `get_chart` for `/chart/{pk}` -> `get_chart_by_pk`."""
    words = [_words(var) for var in re.findall(r"{([^{}]+)}", path.split("?")[0])]
    return "_".join([name, "by", *words]) if any(words) else name


class NameRegistry:
    """Hands out unique names; case-insensitive, since some clients fold case."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken: set[str] = set()

    def reserve(self, names: Iterable[str]) -> None:
        """Mark names as taken (by tools of other APIs served alongside)."""
        self._taken.update(name.lower() for name in names)

    def claim(self, wanted: str, fallbacks: Iterable[str] = ()) -> str:
        """`wanted` if free, else the first free fallback (drawn lazily), else `wanted` numbered; cut to the limit."""
        for candidate in itertools.chain([wanted], fallbacks):
            name = shorten(candidate, self.limit)
            if name.lower() not in self._taken:
                self._taken.add(name.lower())
                return name
        name = shorten(wanted, self.limit)
        n = 1
        while name.lower() in self._taken:
            n += 1
            suffix = f"_{n}"
            name = shorten(wanted, self.limit - len(suffix)) + suffix
        self._taken.add(name.lower())
        return name
