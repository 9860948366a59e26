"""Text normalisation applied before every identifier check.

OCR output and hand-typed forms mix full-width and half-width characters, insert
spaces between printed segments and use lower-case x in ID numbers; every checker
first maps the text onto one canonical spelling.
"""

from __future__ import annotations

import string

_TABLE: dict[int, int | None] = {}
# Full-width ASCII variants U+FF01..U+FF5E sit at a fixed offset from ASCII;
# this covers digits, letters and the parentheses （）.
for _cp in range(0xFF01, 0xFF5F):
    _TABLE[_cp] = ord(chr(_cp - 0xFEE0).upper())  # ASCII upper() only touches a-z
for _ch in string.ascii_lowercase:
    _TABLE[ord(_ch)] = ord(_ch.upper())
# Zero-width characters are not whitespace to str.split() but creep in through
# copy-paste from web pages and PDFs; they are never part of a code.
for _cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
    _TABLE[_cp] = None


def normalize(text: str) -> str:
    """Full-width → half-width, drop all whitespace, upper-case ASCII letters.

    Only ASCII letters are upper-cased: str.upper() would also change non-ASCII
    text (ß → SS), which is not ours to touch. Idempotent.
    """
    # str.split() with no argument splits on every Unicode whitespace, including
    # U+3000 ideographic space, NBSP, tabs and newlines.
    return "".join(text.translate(_TABLE).split())
