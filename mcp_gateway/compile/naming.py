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
    return name if len(name) <= limit else hashed(name, limit, name)


def hashed(text: str, limit: int, whole: str) -> str:
    """`text` cut to leave room for, and ending in, an 8-character hash of the `whole` name it stands for."""
    digest = hashlib.sha1(whole.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{text[: max(1, limit - 9)].rstrip('_-')}_{digest}"


# words that carry little when a name must be shorter (never the first word)
_FILLER = frozenset("a an the of for by to from in on with and or at via".split())
# the usual short forms of long words in API operation names
_SHORT_FORMS = {
    "administrator": "admin", "application": "app", "applications": "apps", "authenticated": "auth",
    "authentication": "auth", "authorization": "authz", "collaborator": "collab",
    "collaborators": "collabs", "configuration": "config", "configurations": "configs", "deployment": "deploy",
    "deployments": "deploys", "description": "desc", "directory": "dir", "environment": "env",
    "environments": "envs", "identifier": "id", "information": "info", "installation": "install",
    "installations": "installs", "management": "mgmt", "message": "msg", "messages": "msgs",
    "notification": "notif", "notifications": "notifs", "organization": "org", "organizations": "orgs",
    "parameter": "param", "parameters": "params", "permission": "perm", "permissions": "perms",
    "reference": "ref", "references": "refs", "repositories": "repos", "repository": "repo", "request": "req",
    "requests": "reqs", "response": "resp", "specification": "spec", "statistics": "stats",
    "subscription": "sub", "subscriptions": "subs", "temporary": "temp", "version": "ver", "versions": "vers",
}
_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|[^A-Za-z0-9]+")  # words (camelCase split) and separators
_SEPARATOR_RUN = re.compile(r"[_-]{2,}")


def abbreviate(name: str, limit: int) -> str:
    """`name` made shorter readably until it fits in `limit` characters, as far as that goes: runs of separators
    folded, filler words dropped, then long words replaced by their usual short forms, longest word first."""
    if len(name) <= limit:
        return name
    parts = _PARTS.findall(name)
    words = [i for i, part in enumerate(parts) if part[0].isalnum()]

    def text() -> str:
        return _SEPARATOR_RUN.sub(lambda run: run.group(0)[0], "".join(parts)).strip("_-")

    for i in words[1:]:
        if len(text()) <= limit:
            break
        if parts[i].lower() in _FILLER:
            parts[i] = ""
    for i in sorted(words, key=lambda i: -len(parts[i])):
        if len(text()) <= limit:
            break
        short = _SHORT_FORMS.get(parts[i].lower())
        if short:
            parts[i] = _keep_case(parts[i], short)
    return text() or name


def _keep_case(word: str, short: str) -> str:
    """`short` in the case `word` was written in (capitalised or upper case words stay so)."""
    if word.isupper() and len(word) > 1:
        return short.upper()
    return short[:1].upper() + short[1:] if word[:1].isupper() else short


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
        """`wanted` if free, else the first free fallback (drawn lazily), else `wanted` numbered. A name past the
        limit is shortened readably (`abbreviate`); when that does not fit or is taken, it is cut and ends in a hash
        of the whole name."""
        for candidate in itertools.chain([wanted], fallbacks):
            readable = abbreviate(candidate, self.limit)
            forms = [readable, hashed(readable, self.limit, candidate)] if len(candidate) > self.limit else [readable]
            for name in forms:
                if len(name) <= self.limit and name.lower() not in self._taken:
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
