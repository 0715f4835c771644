"""Free-text search over compiled tools: BM25F over API-aware tokens, so an agent can find 1 operation in 1,000.

Pure and deterministic (no I/O): the index is built once from the tools in one pass over their text, and a
query weighs only the postings of its own terms. Equal scores keep document order.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from mcp_gateway.plan import CompiledTool

K1 = 1.2  # term-frequency saturation
# Each field's weight and length normalisation (b): a short title or name that says all the query says
# should beat a long one that also says it.
FIELDS = {"name": (2.0, 1.0), "operation": (1.5, 0.75), "title": (3.0, 1.0), "description": (0.3, 0.75),
          "arguments": (0.5, 0.75)}
VERB_BOOST = 0.3  # a tool whose method the query's first verb implies (create -> POST/PUT) scores this much more

# camelCase and ACRONYMWords split, PRs and URLs kept whole; _ - / {} and other punctuation dropped
_WORD = re.compile(r"[A-Z]+s?(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_URL = re.compile(r"https?://\S+")
_TEMPLATE = re.compile(r"\{[^}]*\}")
_STOP_WORDS = frozenset(
    "a an and any are as at be by can do does for from how i in into is it its of on or our "
    "should so that the their them these this those to us using via we what when which with you your".split()
)
# Words that mean the same thing in API language, each folded into the second: "remove a label" is
# "delete a label", and "my notifications" are the authenticated user's.
_SYNONYMS = {"repo": "repository", "pr": "pull", "remove": "delete", "add": "create", "new": "create",
             "my": "me", "authenticated": "me"}
_VERB_METHODS = {
    "create": ("POST", "PUT"),  # add and new fold into create; "add a collaborator" is a PUT
    "delete": ("DELETE",),  # remove folds into delete
    **dict.fromkeys(("open", "start", "trigger", "run", "send", "submit", "post", "upload", "publish"), ("POST",)),
    **dict.fromkeys(("update", "edit", "change", "set", "replace"), ("PATCH", "PUT")),
    **dict.fromkeys(("list", "get", "show", "find", "read", "fetch", "download", "search", "check"), ("GET",)),
}


@dataclass(frozen=True, slots=True)
class Hit:
    """One tool that matches a query, with what an agent needs to choose it."""

    name: str
    operation: str  # "METHOD /path"
    score: float
    summary: str  # one line


def stem(word: str) -> str:
    """A lower-case word without its plural, `-ing` or `-ed` ending: stars, starring, starred -> star."""
    if len(word) <= 2:
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"  # repositories -> repository, copied -> copy
    if word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]  # branches -> branch
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]  # pulls -> pull, ids -> id; status, access, analysis stay
    for ending in ("ing", "ed"):
        base = word.removesuffix(ending)
        if base != word and len(base) >= 3 and any(vowel in base for vowel in "aeiouy"):
            word = base[:-1] if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz" else base
            break  # starr -> star, committ -> commit; install, pass, add stay
    if word.endswith("e") and not word.endswith("ee") and len(word) > 3:
        word = word[:-1]  # create, created, creating -> creat
    return word


_CANONICAL = {stem(word): stem(same) for word, same in _SYNONYMS.items()}
_METHODS_BY_TERM = {stem(verb): methods for verb, methods in _VERB_METHODS.items()}


@functools.lru_cache(maxsize=1 << 16)
def _term(word: str) -> str | None:
    """The index term for one word, or None for a stop word or a single character."""
    lowered = word.lower()
    if len(lowered) < 2 or lowered in _STOP_WORDS:
        return None
    stemmed = stem(lowered)
    return _CANONICAL.get(stemmed, stemmed)


@functools.lru_cache(maxsize=1 << 16)
def _chunk_terms(chunk: str) -> tuple[str, ...]:
    """The index terms of one whitespace-separated chunk (cached: API text repeats its chunks a lot)."""
    words = _WORD.findall(_URL.sub(" ", chunk) if "://" in chunk else chunk)
    return tuple([term for word in words if (term := _term(word))])


def tokenize(text: str) -> list[str]:
    """The terms of a text, in order: camelCase, snake_case, kebab-case and paths split, lower-cased and
    stemmed, stop words and URLs dropped, synonyms folded."""
    return list(chain.from_iterable(map(_chunk_terms, text.split())))


def _fields(tool: CompiledTool) -> Iterator[tuple[str, str]]:
    """The text of each field of a tool.

    The operation without its path parameters and the description without the title and operation it
    repeats: those words are counted once, in their own fields. Arguments are their names and the
    values they take (`state: open|closed` answers "close an issue").
    """
    yield "name", tool.name
    yield "operation", _TEMPLATE.sub(" ", tool.operation)
    yield "title", tool.title or ""
    yield "description", _description(tool).removeprefix(tool.title or "")
    yield "arguments", " ".join(_argument_words(tool.input_schema))


def _argument_words(schema: dict[str, Any]) -> Iterator[str]:
    """Each argument's name and the string values it is limited to (its enum, or its items' enum)."""
    for name, argument in schema.get("properties", {}).items():
        yield name
        if isinstance(argument, dict):
            items = argument.get("items")
            values = argument.get("enum") or (items.get("enum") if isinstance(items, dict) else None) or ()
            yield from (value for value in values if isinstance(value, str))


def _description(tool: CompiledTool) -> str:
    """The tool's description without the `METHOD /path` line that compilation adds at its end."""
    return tool.description.removesuffix(tool.operation).strip()


def _summary(tool: CompiledTool) -> str:
    """The first line of the tool's title, or else of its description."""
    return (tool.title or _description(tool)).strip().partition("\n")[0].strip()


class ToolIndex:
    """A BM25F index over tools, built once; `search` ranks them against a free-text query."""

    def __init__(self, tools: Sequence[CompiledTool]) -> None:
        self._tools = list(tools)
        docs = [[(field, tokenize(text)) for field, text in _fields(tool)] for tool in self._tools]
        lengths = Counter[str]()
        for doc in docs:
            for field, terms in doc:
                lengths[field] += len(terms)
        # term -> one (tool, field weight) per occurrence: summed and saturated per query, which touches
        # few terms, so that building is one cheap pass
        found = defaultdict[str, list[tuple[int, float]]](list)
        for position, doc in enumerate(docs):
            for field, terms in doc:
                if terms:  # (an empty field weighs nothing, and b = 1 would divide by zero)
                    weight, b = FIELDS[field]
                    occurrence = (position, weight / (1 - b + b * len(terms) * len(docs) / lengths[field]))
                    for term in terms:
                        found[term].append(occurrence)
        self._postings = dict(found)

    def search(self, query: str, limit: int = 5, *, methods: Collection[str] = ()) -> list[Hit]:
        """The `limit` best tools for `query`, best first; `methods` keeps only those HTTP methods.

        A query with no searchable word (empty, or only stop words) finds nothing.
        """
        terms = list(dict.fromkeys(tokenize(query)))
        scores: dict[int, float] = {}
        for term in terms:
            frequencies: dict[int, float] = {}
            for position, frequency in self._postings.get(term, ()):
                frequencies[position] = frequencies.get(position, 0.0) + frequency
            idf = math.log(1 + (len(self._tools) - len(frequencies) + 0.5) / (len(frequencies) + 0.5))
            for position, frequency in frequencies.items():
                scores[position] = scores.get(position, 0.0) + idf * frequency * (K1 + 1) / (K1 + frequency)
        implied = next((_METHODS_BY_TERM[term] for term in terms if term in _METHODS_BY_TERM), ())
        wanted = {method.upper() for method in methods}
        ranked = []
        for position, score in scores.items():
            method = self._tools[position].plan.method
            if wanted and method not in wanted:
                continue
            ranked.append((score * (1 + VERB_BOOST) if method in implied else score, position))
        best = heapq.nsmallest(limit, ranked, key=lambda entry: (-entry[0], entry[1]))
        return [Hit(self._tools[position].name, self._tools[position].operation, score,
                    _summary(self._tools[position])) for score, position in best]
