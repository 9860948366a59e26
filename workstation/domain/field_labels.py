"""What a person reads for a field key (data/field_labels.toml): `权利人 right holder` instead of `right_holder`.

Pure data, loaded and checked once; a key without a label reads as itself, so a new OCR key is never hidden.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from .errors import CatalogueError

LABELS_FILE = "field_labels.toml"


def load_field_labels(text: str | None = None) -> Mapping[str, tuple[str, str]]:
    """key → (Chinese, English), from the packaged file or `text`; a malformed table is a CatalogueError."""
    if text is None:
        text = resources.files(__package__).joinpath("data", LABELS_FILE).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{LABELS_FILE}: invalid TOML: {exc}") from None
    table = doc.get("labels")
    if set(doc) != {"labels"} or not isinstance(table, dict):
        raise CatalogueError(f"{LABELS_FILE}: expected exactly one table, [labels]")
    labels: dict[str, tuple[str, str]] = {}
    for key, pair in table.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) and p.strip() for p in pair)):
            raise CatalogueError(f'{LABELS_FILE}: {key} must be ["中文", "English"]')
        labels[key] = (pair[0].strip(), pair[1].strip())
    return MappingProxyType(labels)


@cache
def _default_labels() -> Mapping[str, tuple[str, str]]:
    return load_field_labels()


def field_label(key: str) -> str:
    """`权利人 right holder`; a key the table does not know reads as itself."""
    pair = _default_labels().get(key)
    return f"{pair[0]} {pair[1]}" if pair else key


def field_label_zh(key: str) -> str:
    """The Chinese label alone (narrow columns), or the key itself."""
    pair = _default_labels().get(key)
    return pair[0] if pair else key
