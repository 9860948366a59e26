"""Lookup of county-level administrative division codes (GB/T 2260).

The tables are package data under ``data/`` so they can be extended without code
changes; see the header of each file for its format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    status: str  # "current" | "former" | "functional_zone"
    replaced_by: str | None = None
    since: int | None = None  # year the former code was replaced


def _rows(filename: str) -> list[list[str]]:
    text = (resources.files("ocr.codes") / "data" / filename).read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


@cache
def _table() -> dict[str, Division]:
    table: dict[str, Division] = {}
    for code, name in _rows("functional_zones.txt"):
        table[code] = Division(code, name, "functional_zone")
    for code, name, successor, year in _rows("divisions_former.txt"):
        table[code] = Division(code, name, "former", successor, int(year))
    # Current divisions last: a code that is current wins over any older entry.
    for code, name in _rows("divisions.txt"):
        table[code] = Division(code, name, "current")
    return table


def lookup_division(code: str) -> Division | None:
    """The division for a 6-digit code, or None when the tables do not know it."""
    return _table().get(code)
