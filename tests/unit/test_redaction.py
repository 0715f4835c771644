"""Unit tests of the Redactor: every known secret masked in text, bytes and decoded JSON, in each spelling."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from mcp_gateway.redaction import MASK, Redactor

SECRET = "sk/live key+1234"


@pytest.mark.parametrize("spelling", [
    SECRET,
    quote(SECRET, safe=""),  # sk%2Flive%20key%2B1234, as an echoed URL writes it
    json.dumps(SECRET)[1:-1],  # JSON-escaped (nothing to escape but the quotes)
    json.dumps(SECRET)[1:-1].replace("/", "\\/"),  # sk\/live key+1234, as PHP's json_encode writes it
    "".join(f"\\u{ord(c):04x}" for c in SECRET),  # every character a \\u escape
], ids=["plain", "percent-encoded", "json", "json-slash", "unicode-escapes"])
def test_each_spelling_is_masked_in_text_and_bytes(spelling: str) -> None:
    redactor = Redactor([SECRET])
    assert redactor.text(f"key={spelling}.") == f"key={MASK}."
    assert redactor.bytes(f'{{"key": "{spelling}"}}'.encode()) == b'{"key": "***"}'


def test_json_escaped_quotes_and_backslashes() -> None:
    secret = 'pa"ss\\word'
    raw = json.dumps({"echo": secret})
    assert secret not in raw  # only the escaped spelling is in the raw JSON
    assert Redactor([secret]).text(raw) == '{"echo": "***"}'


def test_non_ascii_secret_escaped_as_json_ascii() -> None:
    secret = "clé-secrète-42"
    raw = json.dumps({"echo": secret})  # ensure_ascii: cl\u00e9-secr\u00e8te-42
    assert Redactor([secret]).bytes(raw.encode()) == b'{"echo": "***"}'


def test_every_occurrence_of_every_secret() -> None:
    redactor = Redactor(["alpha-111", "beta-222"])
    assert redactor.text("alpha-111 beta-222 alpha-111") == "*** *** ***"


def test_longest_secret_first_when_one_contains_another() -> None:
    redactor = Redactor(["abc123", "abc123-long-token"])
    assert redactor.text("t=abc123-long-token") == "t=***"
    assert redactor.bytes(b"t=abc123-long-token, k=abc123") == b"t=***, k=***"


@pytest.mark.parametrize("secrets", [[], [""], ["", ""]])
def test_no_secrets_or_empty_ones_change_nothing(secrets: list[str]) -> None:
    redactor = Redactor(secrets)
    assert not redactor
    assert redactor.text("anything at all") == "anything at all"
    assert redactor.bytes(b"anything") == b"anything"
    value = {"a": ["b"]}
    assert redactor.value(value) is value


def test_empty_secret_beside_a_real_one_is_ignored() -> None:
    redactor = Redactor(["", "tok-9876"])
    assert redactor
    assert redactor.text("x tok-9876 y") == "x *** y"


def test_value_masks_strings_at_any_depth_and_keys() -> None:
    redactor = Redactor(["tok-9876"])
    value = {"a": "Bearer tok-9876", "list": [1, None, True, "tok-9876", {"tok-9876": 2.5}], "n": 3}
    assert redactor.value(value) == {"a": "Bearer ***", "list": [1, None, True, "***", {"***": 2.5}], "n": 3}


def test_value_sees_secrets_that_parsing_unescaped() -> None:
    redactor = Redactor(["sk-abc123"])
    raw = b'{"k": "\\u0073k-abc123"}'
    assert redactor.bytes(raw) == raw  # the byte mask cannot see this spelling...
    assert redactor.value(json.loads(raw)) == {"k": "***"}  # ...the parsed value shows it


@pytest.mark.parametrize("prefix", ["", "a", "ab", "Authorization: Bearer "])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["standard", "url-safe"])
def test_a_secret_inside_longer_base64_is_masked_at_any_alignment(prefix: str, encode: Any) -> None:
    """An upstream that base64-encodes a text holding the key (a token, a debug dump) shows no part of it."""
    encoded = encode(f"{prefix}{SECRET} and more".encode()).decode()
    masked = Redactor([SECRET]).text(encoded)
    cut = len(encoded) - (len(masked) - len(MASK))  # base64 characters taken out
    assert MASK in masked and cut >= 4 * len(SECRET) // 3 - 4  # all but the 1-2 characters shared with neighbours


def test_adding_secrets_makes_a_wider_redactor_and_leaves_this_one_as_it_was() -> None:
    base = Redactor(["server-secret-1234"])
    wider = base.adding(["caller-secret-5678", ""])
    assert wider.text("server-secret-1234 caller-secret-5678") == f"{MASK} {MASK}"
    assert base.text("caller-secret-5678") == "caller-secret-5678"
    assert wider.bytes(quote("caller-secret-5678").encode()) == MASK.encode()
    assert base.adding(["server-secret-1234"]) is base and base.adding([]) is base
