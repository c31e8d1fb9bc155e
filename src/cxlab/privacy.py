"""Customer text on its way out: personal data redacted, markup escaped.

Every path that shows customer text to a person (report pages, the run index, the journey map,
messages) goes through ``redact`` (emails -> ``[email]``, phone numbers -> ``[phone]``) and, for
HTML, ``safe_text`` (redacted, then escaped, so a ``<script>`` in a comment shows as text).
"""
from __future__ import annotations

import html
import math
import re
from typing import Any

__all__ = ["redact", "safe_text"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# international (+44 20 7946 0958, +353 1 555 0198), North American ((555) 123-4567,
# 555-123-4567), plain runs; a number may end a sentence ("Call me on 020 7946 0321.")
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]\d{2,4}){1,4}(?!\w)(?!\.\d)"
    r"|(?<![\w.])\+?\d{9,13}(?!\w)(?!\.\d)"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def redact(text: Any) -> str:
    """Replace emails with [email] and phone numbers with [phone]; None becomes ''."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = _EMAIL.sub("[email]", str(text))

    def phone(match: re.Match) -> str:
        found = match.group(0)
        if _DATE.match(found):  # 2025-01-03 10:00 is a date, not a phone number
            return found
        return "[phone]" if sum(ch.isdigit() for ch in found) >= 9 else found

    return _PHONE.sub(phone, text)


def safe_text(text: Any) -> str:
    """Customer text ready for HTML: redacted, then escaped (a <script> shows as text)."""
    return html.escape(redact(text), quote=True)
