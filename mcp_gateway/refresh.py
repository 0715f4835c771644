"""Live documents: re-fetch every `refresh` seconds, rebuild an API whose tools changed, tell the clients."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from mcp_gateway.build import rebuild_api
from mcp_gateway.errors import GatewayError
from mcp_gateway.gateway import Api, Gateway

log = logging.getLogger("mcp_gateway")


def refreshing(gateway: Gateway) -> bool:
    """Whether any API of the gateway re-fetches its document."""
    return any(api.profile.refresh for api in gateway.apis)


async def _rebuilt(gateway: Gateway, api: Api, timeout: float) -> Api | None:
    taken = [name for name, (_, owner) in gateway.catalog.entries.items() if owner is not api]
    try:
        return await anyio.to_thread.run_sync(rebuild_api, api, taken, timeout)
    except GatewayError as exc:
        log.warning("refresh of %s failed, keeping the current tools: %s", api.profile.name, exc)
    except Exception as exc:  # noqa: BLE001 - a bad refresh must not end the server it runs beside
        log.warning("refresh of %s failed, keeping the current tools: %s: %s", api.profile.name,
                    type(exc).__name__, exc)
    return None


async def refresh_forever(gateway: Gateway, tools_changed: Callable[[], Awaitable[None]],
                          timeout: float = 10.0) -> None:
    """Every `refresh` seconds (the shortest any API asks for), rebuild changed APIs and await `tools_changed`."""
    intervals = [api.profile.refresh for api in gateway.apis if api.profile.refresh]
    if not intervals:
        return
    while True:
        await anyio.sleep(min(intervals))
        changed = False
        for api in list(gateway.apis):
            if not api.profile.refresh:
                continue
            new = await _rebuilt(gateway, api, timeout)
            if new is not None:
                gateway.replace(api, new)
                changed = True
        if changed:
            log.info("the tool list changed; notifying clients")
            await tools_changed()
