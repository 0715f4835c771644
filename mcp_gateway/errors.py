"""One exception hierarchy: every error the user can meet names the thing and the next step."""


class GatewayError(Exception):
    """Base of every error mcp-gateway raises on purpose."""


class DocumentError(GatewayError):
    """An OpenAPI document could not be loaded or used as a whole."""

    def __init__(self, source: str, message: str, pointer: str = "") -> None:
        self.source = source
        self.pointer = pointer
        where = f"{source} at {pointer}" if pointer else source
        super().__init__(f"{where}: {message}")


class ProfileError(GatewayError):
    """A profile (tool_specs YAML) is invalid."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class OperationSkipped(GatewayError):
    """One operation cannot become a tool; the rest of the document still can."""


class UpstreamError(GatewayError):
    """A call that could not reach the upstream or read its answer; the text is safe to show."""


class UnknownTool(GatewayError):
    """A tools/call named no tool this server has; the message names the closest ones."""

    def __init__(self, name: str, closest: list[str]) -> None:
        self.name = name
        hint = f" Did you mean {', '.join(closest)}?" if closest else ""
        super().__init__(f"Unknown tool {name!r}.{hint} Call tools/list to see the tools this server offers.")


class ClientConfigError(GatewayError):
    """An MCP client's configuration cannot be printed or written as asked; the message says what to do instead."""
