"""References in converted input schemas written out where clients need them written out.

Many clients resolve no `$ref` (Gemini's function declarations), refuse a bare one (openai-agents' strict
mode) or validate with tools that know no `$defs`, so a reference to a definition that is not recursive is
replaced by the definition itself. Two kinds stay `$ref`s into the tool's `$defs`:

- recursive definitions (on a cycle of references), which cannot be written out;
- large ones a tool would write out more than once: a definition whose written-out form exceeds
  `INLINE_ALWAYS_BYTES` and that one tool reaches along two or more paths is kept once in `$defs`, so that
  nested reuse (A uses B twice, B uses C twice...) never multiplies the size of tools/list.

Each definition is written out once per document and the result shared (the same object) by every tool and
definition that uses it; only a tool that keeps a large definition as a reference gets its own copies of the
definitions above it. Everything is iterative over the reference graph, so a long chain of definitions costs
no recursion depth.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

# a definition at most this long written out is inlined wherever it is used. Measured over the 50 documents of
# ../shared/specs and Microsoft Graph: 1 KB keeps GitHub's tools free of `$ref` and leaves 123 of 8,797 tools a
# `$defs` (7 when everything non-recursive is written out), with 1.5% fewer input-schema bytes than `$defs` for
# every reference had (Graph: 18% more; 2 KB: 25% more, 8 KB: 58% more)
INLINE_ALWAYS_BYTES = 1024
# where a converted schema holds other schemas (values elsewhere, e.g. in `enum` or `default`, are data)
_ONE_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")
# words for people and defaults: they merge into an inlined `$ref`'s target
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"})

Definition = Callable[[str], tuple[Any, frozenset[str]]]


def subschemas(node: dict[str, Any]) -> Iterator[Any]:
    """The schemas directly inside a converted schema object: the places a `$ref` may sit."""
    for key, value in node.items():
        if key in _ONE_SUBSCHEMA:
            yield value
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            yield from value
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            yield from value.values()


def with_siblings(target: Any, siblings: dict[str, Any]) -> Any:
    """An inlined reference with the keywords written beside it: merged when they only add words for people,
    else both apply (`allOf`), as they do beside a `$ref` in 2020-12."""
    if not siblings:
        return target
    if isinstance(target, dict) and set(siblings) <= ANNOTATIONS:
        return {**target, **siblings}
    return {**siblings, "allOf": [target, *siblings.get("allOf", [])]}


class Inliner:
    """Writes out the references of one document's converted schemas; remembers all it has worked out."""

    def __init__(self, definition: Definition, pointers: dict[str, str], names: dict[str, str]) -> None:
        self._definition = definition  # pointer -> (converted schema with `$ref`s, pointers it refers to)
        self._pointers = pointers  # `#/$defs/<name>` -> document pointer
        self._names = names  # document pointer -> `$defs` name
        self._recursive: dict[str, bool] = {}
        self._written: dict[str, Any] = {}  # pointer -> converted schema, non-recursive references written out
        self._sites: dict[str, Counter[str]] = {}  # pointer -> how often its schema refers to each definition
        self._bytes: dict[str, int] = {}  # pointer -> length of its written-out JSON
        self._finished: dict[str, int] = {}  # pointer -> rank of completion: a definition ranks above all it inlines
        self._memos: dict[frozenset[str], dict[str, Any]] = {}  # kept definitions -> definitions written around them
        # a tool's references (and how often) -> (definitions reached, those kept, those that lead to a kept one)
        self._plans: dict[tuple[tuple[str, int], ...], tuple[list[str], frozenset[str], set[str]]] = {}

    def finish(self, schema: dict[str, Any], refs: set[str]) -> dict[str, Any]:
        """A tool's root `schema` with references written out, and `$defs` for those kept (in name order, so the
        same document gives the same bytes in every process). `refs` are the pointers `schema` refers to."""
        if not refs:
            return schema
        sites = self._count(schema)
        key = tuple(sorted(sites.items()))
        if key not in self._plans:  # operations that refer to the same definitions as often share the work
            reached = self._reached(set(sites))
            self._write_definitions(reached)
            kept = self._kept(sites, reached)
            self._plans[key] = (reached, kept, self._above(kept, reached) if kept else set())
        reached, kept, above = self._plans[key]
        root: dict[str, Any]
        if kept:
            # only the definitions that lead to a kept one differ from their shared written-out form
            memo = self._memos.setdefault(kept, {})  # tools that keep the same definitions share the rest too
            memo.update({ref: self._written[ref] for ref in reached if ref not in above and ref not in memo})
            root = self._write(schema, kept, memo)
            defs = {ref: self._write_definition(ref, kept, memo) for ref in reached if self._stays(ref, kept)}
        else:
            root = self._write(schema)
            defs = {ref: self._written[ref] for ref in reached if self._recursive[ref]}
        if not defs:
            return root
        return {**root, "$defs": dict(sorted((self._names[ref], body) for ref, body in defs.items()))}

    # -- the reference graph -----------------------------------------------------------------------
    def _targets(self, ref: str) -> frozenset[str]:
        """The definitions `ref`'s schema refers to (converting it on first use)."""
        return self._definition(ref)[1]

    def _reached(self, refs: set[str]) -> list[str]:
        """Every definition reachable from `refs`, each converted and known to be recursive or not."""
        seen: set[str] = set()
        order: list[str] = []
        stack = sorted(refs)
        while stack:
            ref = stack.pop()
            if ref in seen:
                continue
            seen.add(ref)
            self._classify(ref)
            order.append(ref)
            stack.extend(self._targets(ref))
        return order

    def _classify(self, start: str) -> None:
        """Tarjan's strongly connected components from `start`, without recursion: a definition is recursive when
        its component has more than one member or it refers to itself. Each definition is classified once."""
        if start in self._recursive:
            return
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        work: list[tuple[str, Iterator[str]]] = []

        def visit(ref: str) -> None:
            index[ref] = low[ref] = len(index)
            stack.append(ref)
            work.append((ref, iter(sorted(self._targets(ref)))))

        visit(start)
        while work:
            ref, targets = work[-1]
            for target in targets:
                if target in self._recursive:  # classified already: not on the stack
                    continue
                if target not in index:
                    visit(target)
                    break
                low[ref] = min(low[ref], index[target])  # still on the stack: same component
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[ref])
                if low[ref] == index[ref]:
                    at = stack.index(ref)
                    members = stack[at:]
                    del stack[at:]
                    recursive = len(members) > 1 or ref in self._targets(ref)
                    self._recursive.update(dict.fromkeys(members, recursive))

    # -- every tool's shared work ------------------------------------------------------------------
    def _write_definitions(self, refs: list[str]) -> None:
        """`_written`, `_sites` and `_bytes` for each of `refs`, children first (references to non-recursive
        definitions form no cycle)."""
        for first in refs:
            if first in self._written:
                continue
            work: list[tuple[str, Iterator[str]]] = [(first, iter(self._targets(first)))]
            while work:
                ref, targets = work[-1]
                for target in targets:
                    if target not in self._written and not self._recursive[target]:
                        work.append((target, iter(self._targets(target))))
                        break
                else:
                    work.pop()
                    converted = self._definition(ref)[0]
                    self._written[ref] = self._write(converted)
                    self._sites[ref] = self._count(converted)
                    size = len(json.dumps(converted, separators=(",", ":"), ensure_ascii=False))
                    self._bytes[ref] = size + sum(count * (self._bytes[target] - len(self._names[target]) - 19)
                                                  for target, count in self._sites[ref].items()
                                                  if not self._recursive[target])
                    self._finished[ref] = len(self._finished)

    def _count(self, node: Any) -> Counter[str]:
        """How often `node` refers to each definition (each reference counted where it stands)."""
        found: Counter[str] = Counter()
        stack = [node]
        while stack:
            item = stack.pop()
            if not isinstance(item, dict):
                continue
            pointer = self._pointers.get(item.get("$ref", ""))
            if pointer is not None:
                found[pointer] += 1
            stack.extend(subschemas(item))
        return found

    # -- one tool ------------------------------------------------------------------------------------
    def _kept(self, sites: Counter[str], reached: list[str]) -> frozenset[str]:
        """The large non-recursive definitions a tool whose own schema refers to `sites` would write out more than
        once. Parents come before children, so each definition's count of paths is complete when it is decided;
        a kept definition is written once, and counts once for what it uses."""
        if all(self._recursive[ref] or self._bytes[ref] <= INLINE_ALWAYS_BYTES for ref in reached):
            return frozenset()
        paths = Counter(sites)
        kept: set[str] = set()
        for ref in sorted(reached, key=lambda r: -self._finished[r]):
            written = paths[ref]
            if self._recursive[ref] or (written > 1 and self._bytes[ref] > INLINE_ALWAYS_BYTES):
                kept.add(ref)
                written = 1
            for target, count in self._sites[ref].items():
                paths[target] += written * count
        return frozenset(ref for ref in kept if not self._recursive[ref])

    def _above(self, kept: frozenset[str], reached: list[str]) -> set[str]:
        """The `kept` definitions and every reached definition that refers to one of them, directly or not."""
        referrers: dict[str, list[str]] = {}
        for ref in reached:
            for target in self._targets(ref):
                referrers.setdefault(target, []).append(ref)
        above = set(kept)
        stack = list(kept)
        while stack:
            for referrer in referrers.get(stack.pop(), ()):
                if referrer not in above:
                    above.add(referrer)
                    stack.append(referrer)
        return above

    def _stays(self, ref: str, kept: frozenset[str]) -> bool:
        return self._recursive[ref] or ref in kept

    def _write_definition(self, ref: str, kept: frozenset[str], memo: dict[str, Any]) -> Any:
        if ref not in memo:
            memo[ref] = self._write(self._definition(ref)[0], kept, memo)
        return memo[ref]

    def _write(self, node: Any, kept: frozenset[str] = frozenset(), memo: dict[str, Any] | None = None) -> Any:
        """`node` with each reference to a definition that does not stay a reference written out; unchanged
        parts stay the same objects, so written-out definitions are shared rather than copied."""
        if not isinstance(node, dict):
            return node
        pointer = self._pointers.get(node.get("$ref", ""))
        if pointer is not None and not self._stays(pointer, kept):
            target = self._written[pointer] if memo is None else self._write_definition(pointer, kept, memo)
            return with_siblings(target, self._write({k: v for k, v in node.items() if k != "$ref"}, kept, memo))
        out: dict[str, Any] | None = None
        for key, value in node.items():
            if key in _ONE_SUBSCHEMA:
                new: Any = self._write(value, kept, memo)
            elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
                items = [self._write(item, kept, memo) for item in value]
                new = value if all(a is b for a, b in zip(items, value, strict=True)) else items
            elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
                subs = {name: self._write(sub, kept, memo) for name, sub in value.items()}
                new = value if all(subs[name] is sub for name, sub in value.items()) else subs
            else:
                continue
            if new is not value:
                out = dict(node) if out is None else out
                out[key] = new
        return node if out is None else out
