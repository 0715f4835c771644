"""The compile cache: a second build of the same document with the same inputs is served from disk; a change to
any input (the document's bytes, the profile, the options, other targets' names, the code) compiles again; a
damaged entry is compiled again and rewritten; the tools are the same either way."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_gateway import build, compile_cache
from mcp_gateway.build import TargetOptions, build_gateway, compiled, profile_for
from mcp_gateway.compile import Compilation, compile_document
from mcp_gateway.compile_cache import CompileCache
from mcp_gateway.profile import Profile
from mcp_gateway.spec import read_document

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0", "info": {"title": "Pets 🐈", "version": "1"},
    "servers": [{"url": "https://pets.example.com/v1"}],
    "components": {"schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
                   "securitySchemes": {"key": {"type": "apiKey", "in": "query", "name": "api_key"}}},
    "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "responses": OK,
                                     "parameters": [{"name": "id", "in": "path", "required": True,
                                                     "schema": {"type": "integer"}}]}},
              "/pets": {"post": {"operationId": "addPet", "responses": OK, "requestBody": {
                  "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                      "photo": {"type": "string", "format": "binary"}, "name": {"type": "string"}}}}}}}}},
}


@pytest.fixture(autouse=True)
def _code_digest_recomputed() -> Iterator[None]:
    """A test that pretends to be other code leaves no digest of it behind."""
    yield
    compile_cache.code_digest.cache_clear()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CompileCache:
    monkeypatch.setenv("MCP_GATEWAY_CACHE_DIR", str(tmp_path / "cache"))
    return CompileCache(tmp_path / "cache" / "compiled")


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[Compilation]:
    """Every compilation the build makes (a cache hit makes none)."""
    made: list[Compilation] = []

    def counted(*args: Any, **kwargs: Any) -> Compilation:
        made.append(compile_document(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(build, "compile_document", counted)
    return made


def _write(path: Path, document: dict[str, Any] | str) -> str:
    path.write_text(document if isinstance(document, str) else json.dumps(document, ensure_ascii=False),
                    encoding="utf-8")
    return str(path)


def _compiled(target: str, cache: CompileCache, options: TargetOptions | None = None, taken: tuple[str, ...] = (),
              **profile: Any) -> tuple[Profile, Compilation]:
    options = options or TargetOptions()
    found, from_file = profile_for(target, options, single=True)
    return compiled(found.model_copy(update=profile), from_file, options, taken, cache)


def _entries(cache: CompileCache) -> list[Path]:
    return sorted(cache.directory.glob("*.compiled"))


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_a_second_build_comes_from_the_cache_with_the_same_tools(tmp_path: Path, cache: CompileCache,
                                                                compilations: list[Compilation], kind: str) -> None:
    target = _write(tmp_path / f"pets.{kind}", DOCUMENT if kind == "json" else
                    "openapi: 3.1.0\ninfo: {title: Pets, version: '1'}\npaths:\n  /pets:\n    get:\n"
                    "      operationId: listPets\n      responses: {'200': {description: ok}}\n")
    first = _compiled(target, cache)
    second = _compiled(target, cache)
    assert len(compilations) == 1 and len(_entries(cache)) == 1
    assert second == first
    assert [tool.to_mcp() for tool in second[1].tools] == [tool.to_mcp() for tool in first[1].tools]
    assert second[1] == compile_document(read_document(target), first[0])


def _other_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_cache, "__version__", "0.0.0-other")
    compile_cache.code_digest.cache_clear()


CHANGES: dict[str, Callable[[Path, pytest.MonkeyPatch], dict[str, Any]]] = {
    "document bytes": lambda path, _: {"target": _write(path, json.dumps(DOCUMENT, indent=1))},
    "document": lambda path, _: {"target": _write(path, {**DOCUMENT, "servers": [{"url": "https://other.example"}]})},
    "profile": lambda *_: {"tool_prefix": "pets"},
    "options": lambda *_: {"options": TargetOptions(api_key_env="PETS_KEY")},
    "other targets' names": lambda *_: {"taken": ("getpet",)},
    "code": lambda _, monkeypatch: _other_version(monkeypatch) or {},
}


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_of_an_input_compiles_again(tmp_path: Path, cache: CompileCache, compilations: list[Compilation],
                                               monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    path = tmp_path / "pets.json"
    _compiled(_write(path, DOCUMENT), cache)
    changed = {"target": str(path), **CHANGES[change](path, monkeypatch)}
    profile, compilation = _compiled(cache=cache, **changed)
    assert len(compilations) == 2 and len(_entries(cache)) == 2
    fresh_profile, fresh = _compiled(cache=CompileCache(tmp_path / "elsewhere"), **changed)
    assert (profile, compilation) == (fresh_profile, fresh)


def _flip_last_byte(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 1])


@pytest.mark.parametrize("damage", [
    _flip_last_byte,
    lambda blob: blob[: len(blob) // 2],
    lambda blob: b"",
    lambda blob: b"not an entry at all",
    lambda blob: blob.replace(compile_cache.MAGIC, b"mcp-gateway compiled tools 0\n"),
], ids=["bit flipped", "cut short", "empty", "garbage", "other format"])
def test_a_damaged_entry_is_compiled_again_and_rewritten(tmp_path: Path, cache: CompileCache,
                                                         compilations: list[Compilation],
                                                         damage: Callable[[bytes], bytes]) -> None:
    target = _write(tmp_path / "pets.json", DOCUMENT)
    first = _compiled(target, cache)
    (entry,) = _entries(cache)
    entry.write_bytes(damage(entry.read_bytes()))
    assert _compiled(target, cache) == first
    assert len(compilations) == 2
    assert _compiled(target, cache) == first  # rewritten whole: served from the cache again
    assert len(compilations) == 2


def test_an_intact_entry_that_holds_no_compilation_is_compiled_again(tmp_path: Path, cache: CompileCache,
                                                                     compilations: list[Compilation]) -> None:
    """An entry whose digest is right but whose content is not a compilation (written by a faulty version)."""
    target = _write(tmp_path / "pets.json", DOCUMENT)
    first = _compiled(target, cache)
    (entry,) = _entries(cache)
    blob = entry.read_bytes()
    key = blob[len(compile_cache.MAGIC):len(compile_cache.MAGIC) + 32]
    for content in ((1, 2), ({}, (b"Unknown", 1)), ({}, (b"Skipped", "too", "many", "fields"))):
        payload = marshal.dumps(content)
        entry.write_bytes(compile_cache.MAGIC + key + hashlib.sha256(payload).digest() + payload)
        assert _compiled(target, cache) == first
    assert len(compilations) == 4


def test_a_bare_documents_api_key_scheme_comes_with_the_cached_tools(tmp_path: Path, cache: CompileCache,
                                                                     compilations: list[Compilation]) -> None:
    target = _write(tmp_path / "pets.json", DOCUMENT)
    options = TargetOptions(api_key_env="PETS_KEY")
    first_profile, _ = _compiled(target, cache, options)
    second_profile, _ = _compiled(target, cache, options)
    assert len(compilations) == 1
    assert second_profile == first_profile
    assert (second_profile.auth.in_, second_profile.auth.name) == ("query", "api_key")


def test_names_taken_by_earlier_targets_are_part_of_the_key(tmp_path: Path, cache: CompileCache,
                                                            compilations: list[Compilation]) -> None:
    target = _write(tmp_path / "pets.json", DOCUMENT)
    options = TargetOptions(base_url="http://127.0.0.1:9")

    def names(targets: list[str]) -> list[str]:
        return sorted(build_gateway(targets, options, discovery="off").catalog.entries)

    both = names([target, target])
    assert len(both) == 4 and {"addPet", "getPet"} < set(both)
    assert names([target]) == ["addPet", "getPet"]
    assert names([target, target]) == both
    assert len(compilations) == 2  # the first target's tools and the second's; the rest came from the cache


def test_a_document_that_refers_to_other_files_is_not_cached(tmp_path: Path, cache: CompileCache,
                                                             compilations: list[Compilation]) -> None:
    _write(tmp_path / "pet.json", {"type": "object", "properties": {"name": {"type": "string"}}})
    body = {"content": {"application/json": {"schema": {"$ref": "pet.json"}}}}
    split = {**DOCUMENT, "paths": {"/pets": {"post": {"operationId": "addPet", "responses": OK, "requestBody": body}}}}
    target = _write(tmp_path / "pets.json", split)
    first = _compiled(target, cache)
    _write(tmp_path / "pet.json", {"type": "object", "properties": {"id": {"type": "integer"}}})
    second = _compiled(target, cache)
    assert len(compilations) == 2 and _entries(cache) == []
    assert second != first


def test_a_cache_that_cannot_be_written_costs_only_time(tmp_path: Path, compilations: list[Compilation],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("MCP_GATEWAY_CACHE_DIR", str(blocked))
    cache = CompileCache(blocked / "compiled")
    target = _write(tmp_path / "pets.json", DOCUMENT)
    assert _compiled(target, cache) == _compiled(target, cache)
    assert len(compilations) == 2


def test_the_least_recently_used_entries_go_beyond_the_limit(tmp_path: Path, cache: CompileCache,
                                                             compilations: list[Compilation],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_cache, "KEEP", 2)
    a, b, c = (_write(tmp_path / f"{name}.json", {**DOCUMENT, "info": {"title": name, "version": "1"}})
               for name in "abc")
    _compiled(a, cache)
    _compiled(b, cache)
    for age, entry in enumerate(_entries(cache)):
        os.utime(entry, (1_000_000 + age, 1_000_000 + age))
    _compiled(a, cache)  # used: now the most recent
    _compiled(c, cache)
    assert len(_entries(cache)) == 2
    _compiled(a, cache)
    _compiled(b, cache)
    assert len(compilations) == 4  # a, b, c, and b again: a stayed
