"""The user's key remapping: a TOML file of binding id → keys, checked against the bindings that exist.

    [keys]
    "review.approve" = "a"
    "app.mode.review" = "f9"
    "dossiers.new" = "n,insert"

Each binding of the app carries an `id` (posting's approach); F1 lists them next to their keys.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from workstation.errors import ConfigError


def load_keymap(path: Path | None) -> dict[str, str]:
    """The remapping in `path`, or none when the file does not exist. A malformed file is a ConfigError."""
    if path is None or not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name}: not a readable TOML file ({exc})") from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f'{path.name}: [keys] must be a table of binding id = "key"')
    keymap: dict[str, str] = {}
    for binding_id, key in keys.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f'{path.name}: keys.{binding_id} must be a key name such as "f9" or "ctrl+n"')
        keymap[str(binding_id)] = ",".join(part.strip() for part in key.split(","))
    return keymap
