"""Secrets never shown: every credential and environment-filled header value, in each spelling an echo may use."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"


_MIN_BASE64 = 12  # shorter base64 runs are too likely to occur by chance to be masked


def _base64_runs(secret: str) -> set[str]:
    """The part of the secret's base64 form that does not depend on what surrounds it, at each of the three
    alignments it can have inside a longer encoded text, in the standard and the URL-safe alphabet."""
    data = secret.encode()
    runs = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        run = encoded[-(-4 * offset // 3):(4 * (offset + len(data))) // 3]
        if len(run) >= _MIN_BASE64:
            runs |= {run, run.replace("+", "-").replace("/", "_")}
    return runs


def _spellings(secret: str) -> set[str]:
    """The secret as written, percent-encoded, JSON-escaped (with `\\/` too, as PHP writes it, and as
    `\\uXXXX` escapes), and base64-encoded."""
    escaped = json.dumps(secret)[1:-1]
    unicode_escaped = "".join(f"\\u{ord(c):04x}" for c in secret)
    return {secret, quote(secret, safe=""), escaped, escaped.replace("/", "\\/"), unicode_escaped,
            unicode_escaped.upper().replace("\\U", "\\u"), *_base64_runs(secret)}


class Redactor:
    """Knows the secrets of one API and masks them in text, bytes and decoded JSON values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        spelled = {form for secret in secrets if secret for form in _spellings(secret)}
        self._texts = sorted(spelled, key=len, reverse=True)  # longest first: a secret may contain another
        self._bytes = [form.encode() for form in self._texts]

    def __bool__(self) -> bool:
        return bool(self._texts)

    def adding(self, secrets: Iterable[str]) -> Redactor:
        """A redactor for these secrets and `secrets` too (a caller's own key, a token fetched for a call); this
        one when they add nothing."""
        known = set(self._texts)
        extra = {form for secret in secrets if secret for form in _spellings(secret)} - known
        if not extra:
            return self
        wider = Redactor()
        wider._texts = sorted([*self._texts, *extra], key=len, reverse=True)
        wider._bytes = [form.encode() for form in wider._texts]
        return wider

    def text(self, message: str) -> str:
        """The message with every known secret replaced by `***`."""
        for secret in self._texts:
            if secret in message:
                message = message.replace(secret, MASK)
        return message

    def bytes(self, body: bytes) -> bytes:
        """The body with every known secret replaced by `***` (before it is parsed or shown)."""
        for secret in self._bytes:
            if secret in body:
                body = body.replace(secret, MASK.encode())
        return body

    def value(self, value: Any) -> Any:
        """A decoded JSON value with every string masked: parsing undoes escapes the byte mask could not see."""
        if not self._texts:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
