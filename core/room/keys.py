"""The teacher key: a short secret that opens the teacher view (the room's answers, the answers to every quiz).

The server's launcher (``shape-explorer serve`` / ``make run``) makes one at start, prints it in the terminal
and hands it to the app in ``$SHAPE_EXPLORER_TEACHER_KEY``; a teacher may set that variable (or
``make run TEACHER_KEY=…``) to choose one. A server started otherwise makes its own once per process and
prints it to its log. Keys are compared in constant time.

>>> check_key("ab12-cd34", "ab12-cd34"), check_key("AB12 CD34", "ab12-cd34"), check_key("nope", "ab12-cd34")
(True, True, False)
"""

from __future__ import annotations

import hmac
import os
import re
import secrets

from core.errors import SpecError

TEACHER_KEY_ENV = "SHAPE_EXPLORER_TEACHER_KEY"
# no 0/o, 1/l/i: a key read off a terminal and typed on a laptop is not mistyped
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MIN_KEY_CHARS = 6
MAX_KEY_CHARS = 64


def new_key(groups: int = 3, size: int = 4) -> str:
    """A fresh random key such as ``k7mp-3xqa-v9td`` (about 59 bits)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def normalize_key(text: str) -> str:
    """Lower case, spaces and dashes dropped: the form keys are compared in."""
    return re.sub(r"[\s\-]+", "", str(text)).lower()[: MAX_KEY_CHARS + 16]


def validate_key(text: str) -> str:
    """A teacher-chosen key, checked: SpecError unless 6–64 letters or digits (dashes allowed)."""
    key = str(text).strip()
    plain = normalize_key(key)
    if not (MIN_KEY_CHARS <= len(plain) <= MAX_KEY_CHARS) or not plain.isascii() or not plain.isalnum():
        raise SpecError(
            f"a teacher key is {MIN_KEY_CHARS}–{MAX_KEY_CHARS} letters or digits (dashes allowed), got {len(plain)} "
            "usable characters"
        )
    return key


def check_key(given: str | None, expected: str) -> bool:
    """True when ``given`` is the teacher key (case, spaces and dashes ignored), in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(normalize_key(given).encode(), normalize_key(expected).encode())


def key_from_env() -> str | None:
    value = os.environ.get(TEACHER_KEY_ENV, "").strip()
    return validate_key(value) if value else None
