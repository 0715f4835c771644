"""Build time: targets -> profiles -> documents -> compiled tools with absolute base URLs, credentials and
the secrets to mask, wired into a Gateway. Everything the runtime needs is decided here, once."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx

from mcp_gateway.bundled import resolve_target
from mcp_gateway.compile import Compilation, compile_document
from mcp_gateway.compile.naming import NameRegistry
from mcp_gateway.compile_cache import CompileCache, Entry, entry_key
from mcp_gateway.credentials import Credentials, has_control_character
from mcp_gateway.discovery import Mode
from mcp_gateway.errors import DocumentError, GatewayError, ProfileError
from mcp_gateway.gateway import Api, Gateway
from mcp_gateway.openapi import security_schemes
from mcp_gateway.profile import Auth, Profile, SchemaProfile, env_values, expand_env, load_profile, looks_like_profile
from mcp_gateway.redaction import Redactor
from mcp_gateway.spec import Parsed, deep_nesting_refused, parse_root, prepare, read_document
from mcp_gateway.spec.load import cache_dir, is_url, load_source
from mcp_gateway.upstream import LazyTransport, upstream_for

log = logging.getLogger("mcp_gateway")

T = TypeVar("T")

_SECRET_MIN_LENGTH = 8  # shorter values taken from the environment (a region, a version) are not masked


@dataclass(frozen=True)
class TargetOptions:
    """Command-line settings for bare documents (and `--base-url` for a single profile)."""

    base_url: str | None = None
    api_key_env: str | None = None
    api_key_header: str | None = None
    bearer_env: str | None = None
    spec_timeout: float = 10.0
    schema_profile: SchemaProfile | None = None  # every target's, when given
    name_budget: int | None = None  # every target's, when given


def profile_for(target: str, options: TargetOptions, single: bool) -> tuple[Profile, bool]:
    """A profile from a YAML profile file (or a bundled one's bare name), or one made from the flags for a bare
    document; and which it was."""
    target = resolve_target(target)
    chosen = {key: value for key, value in (("schema_profile", options.schema_profile),
                                            ("name_budget", options.name_budget)) if value is not None}
    if looks_like_profile(target):
        profile = load_profile(target)
        if options.base_url and single:
            profile = profile.model_copy(update={"base_url": options.base_url})
        return Profile.model_validate({**profile.model_dump(by_alias=True), **chosen}) if chosen else profile, True
    auth = Auth()
    if options.bearer_env:
        auth = Auth(type="bearer", env=options.bearer_env)
    elif options.api_key_env:
        auth = Auth(type="api_key", env=options.api_key_env, name=options.api_key_header or "X-API-Key")
    name = Path(target.split("?")[0]).stem.split(".")[0] or "api"
    return Profile.model_validate({"name": name, "spec": target, "base_url": options.base_url, "auth": auth,
                                   **chosen}), False


def read_spec(profile: Profile, read: Callable[[str], T]) -> T:
    """`read` of the profile's document, or of its fallback (with a warning) when the document cannot be had."""
    try:
        return read(profile.spec)
    except DocumentError as exc:
        if not profile.spec_fallback:
            raise
        log.warning("%s; using the bundled copy %s instead", exc, profile.spec_fallback)
        return read(profile.spec_fallback)


def refine_auth(profile: Profile, options: TargetOptions, schemes: dict[str, Any]) -> Profile:
    """For a bare document with `--api-key-env` and no header name, use the document's own apiKey scheme (one of
    its security `schemes`)."""
    keys = [s for s in schemes.values() if isinstance(s, dict) and s.get("type") == "apiKey"]
    if profile.auth.type != "api_key" or options.api_key_header or len(keys) != 1:
        return profile
    scheme = keys[0]
    auth = profile.auth.model_copy(update={"in_": scheme.get("in", "header"), "name": scheme.get("name", "X-API-Key")})
    return profile.model_copy(update={"auth": auth})


def absolute_server(url: str, document_url: str | None, root: str | None) -> str | None:
    """A server URL made absolute: relative ones against the document's own URL (OpenAPI's rule), else, for
    a document read from a file, against the document's root server when that is absolute; else None."""
    if is_url(url):
        return url
    if document_url:
        return urljoin(document_url, url or "/")
    if root and is_url(root):
        return urljoin(root, url or "/")
    return None


def with_base_urls(profile: Profile, compilation: Compilation, strict: bool) -> Compilation:
    """Every tool's plan with its final base URL: the profile's `base_url` when set, else the operation's,
    path item's or document's server (OpenAPI 3's default server is `/`), made absolute.

    When not `strict` (listing tools), a missing `${VAR}` in `base_url` is a warning and calls explain it.
    """
    document_url = profile.spec if is_url(profile.spec) else None
    root = compilation.default_base_url or "/"
    fixed: str | None = None
    if profile.base_url:
        try:
            fixed = expand_env(profile.base_url, f"profile {profile.name} (base_url)")
        except GatewayError as exc:
            if strict:
                raise
            log.warning("%s", exc)
    tools = tuple(
        replace(tool, plan=replace(tool.plan, base_url=fixed or absolute_server(
            tool.plan.base_url or root, document_url, compilation.default_base_url)))
        for tool in compilation.tools)
    if tools and any(tool.plan.base_url is None for tool in tools) and not profile.base_url:
        log.warning("%s: the document gives no absolute server URL; pass --base-url URL (or set base_url in the "
                    "profile) to make calls", profile.name)
    return replace(compilation, tools=tools)


def static_headers(profile: Profile, strict: bool) -> tuple[dict[str, str], list[str]]:
    """The profile's headers with `${VAR}` expanded (empty ones are not sent), and the secrets among them:
    every value taken from the environment, whole and as each variable's value."""
    headers: dict[str, str] = {}
    secrets: list[str] = []
    for key, template in profile.headers.items():
        try:
            value = expand_env(template, f"profile {profile.name} (headers.{key})")
        except GatewayError as exc:
            if strict:
                raise
            log.warning("%s", exc)
            continue
        if value != template:
            secrets.extend(v for v in [value, *env_values(template)] if len(v) >= _SECRET_MIN_LENGTH)
        if has_control_character(value):
            _refuse(f"profile {profile.name} (headers.{key}): a value taken from the environment holds a "
                    "control character (a line break?); set the variable to the value alone", strict)
        elif value:
            headers[key] = value
    return headers, list(dict.fromkeys(secrets))


def _refuse(message: str, strict: bool) -> None:
    """A configuration problem: it stops start-up when `strict`, else it is a warning."""
    if strict:
        raise ProfileError("environment", message)
    log.warning("%s", message)


def compiled(profile: Profile, from_file: bool, options: TargetOptions, taken: Iterable[str], cache: CompileCache
             ) -> tuple[Profile, Compilation]:
    """A target's profile (a bare document's refined by the document's apiKey scheme) and its tools, named beside
    the `taken` names of other targets: from the compile cache when the same document was compiled from the same
    inputs before, else compiled now (the document dropped once done) and cached."""
    names = sorted({name.lower() for name in taken})
    inputs = [profile.model_dump(mode="json"), from_file, asdict(options), names]

    def interpret(data: bytes, source: str) -> tuple[bytes | None, Entry | Parsed]:
        key = entry_key(data, inputs)
        return key, (cache.load(key) if key else None) or parse_root(data, source)

    def read(source: str) -> tuple[bytes | None, Entry | dict[str, Any]]:
        with deep_nesting_refused(source):
            key, found = load_source(source, options.spec_timeout, interpret)
            if isinstance(found, Entry):
                return key, found
            # compiled from other files too, which its key does not cover: not cached
            return (None if found.refers_elsewhere else key), prepare(found, source, options.spec_timeout)

    key, found = read_spec(profile, read)
    schemes = found.security_schemes if isinstance(found, Entry) else security_schemes(found)
    if not from_file:
        profile = refine_auth(profile, options, schemes)
    if isinstance(found, Entry):
        log.debug("%s: tools from the compile cache", profile.name)
        return profile, found.compilation
    registry = NameRegistry(profile.tool_name_limit)
    registry.reserve(names)
    compilation = compile_document(found, profile, registry)
    del found  # the parsed document is let go before the cache entry is written, which then reuses its memory
    if key is not None:
        cache.store(key, Entry(compilation, schemes))
    return profile, compilation


def build_api(profile: Profile, compilation: Compilation, client: httpx.AsyncClient, strict: bool) -> Api:
    """One API: every tool's base URL decided, credentials read, secrets known."""
    compilation = with_base_urls(profile, compilation, strict)
    credentials = Credentials(profile.auth)
    for name in credentials.malformed:  # its value is never shown: it is a secret
        _refuse(f"profile {profile.name} (auth): the environment variable {name} holds a control character "
                "inside its value; set it to the key alone", strict)
    headers, header_secrets = static_headers(profile, strict)
    redactor = Redactor([*credentials.secrets, *header_secrets])
    upstream = upstream_for(profile, credentials, headers, redactor, client)
    return Api(profile, compilation, upstream)


def build_gateway(targets: list[str], options: TargetOptions, page_size: int = 0,
                  client: httpx.AsyncClient | None = None, strict: bool = True, discovery: Mode = "off",
                  cache: CompileCache | None = None) -> Gateway:
    """Load, compile and wire every target (compiled tools kept in `cache`, by default the user's); a target that
    fails stops start-up with its reason."""
    shared = client or httpx.AsyncClient(transport=LazyTransport(httpx.Limits(max_connections=100)))
    cache = cache or user_cache()
    apis: list[Api] = []
    with cyclic_gc_paused():
        for target in targets:
            profile, from_file = profile_for(target, options, single=len(targets) == 1)
            taken = (tool.name for api in apis for tool in api.compilation.tools)
            api = build_api(*compiled(profile, from_file, options, taken, cache), shared, strict)
            compilation = api.compilation
            log.info("%s: %d tools from %d operations (%d skipped)", api.profile.name, len(compilation.tools),
                     compilation.operations, len(compilation.skipped))
            apis.append(api)
        return Gateway(apis, page_size, discovery)


SERVING_GC_THRESHOLD = 10_000  # allocations between collections of the youngest generation (Python's default: 700)


def gc_for_serving() -> None:
    """Collect young garbage less often while serving HTTP: a tool call allocates thousands of short-lived objects
    and makes almost no cycles, and at 100 calls in flight the default threshold spent 0.57 ms of each call in the
    collector (0.23 ms with this one; one call at a time on stdio showed no difference). What was built is frozen
    out of its reach already."""
    gc.set_threshold(SERVING_GC_THRESHOLD, *gc.get_threshold()[1:])


def user_cache(deferred: bool = False) -> CompileCache:
    """The compile cache in the user's cache directory."""
    return CompileCache(cache_dir() / "compiled", deferred)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building, and what was built frozen out of its reach afterwards: a
    build makes about a million containers and no garbage cycles, and walking them again and again cost
    GitHub's start-up some 80 ms."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()  # kept for the life of the server: the collector need not walk it again
    finally:
        if enabled:
            gc.enable()


def rebuild_api(api: Api, taken: Iterable[str], timeout: float) -> Api | None:
    """Re-read an API's live document and recompile it beside the `taken` tool names of the other APIs;
    None when its tools did not change (blocking I/O: run it in a worker thread)."""
    profile = api.profile
    registry = NameRegistry(profile.tool_name_limit)
    registry.reserve(taken)
    compilation = with_base_urls(profile, compile_document(read_document(profile.spec, timeout=timeout), profile,
                                                           registry), strict=False)
    if compilation.tools == api.compilation.tools:
        return None
    return Api(profile, compilation, api.upstream)
