"""Schema migrations, applied automatically when a desk or the registry opens its database.

Opening an up-to-date database is on every start-up's path, so that check reads the version table with one
query and finds the newest migration by reading the migration files' `revision` lines; Alembic (and the
template engine it brings) is imported only when something must actually run.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r'^(down_)?revision\s*(?::[^=]*)?=\s*(?:"([^"]*)"|None)', re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("workstation.store") / "migrations"))
    return cfg


def head_revision() -> str | None:
    """The newest migration: the one revision no other migration names as its predecessor."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for entry in (resources.files("workstation.store") / "migrations" / "versions").iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("__"):
            continue
        for down, name in _REVISION.findall(entry.read_text(encoding="utf-8")):
            if name:
                (parents if down else revisions).add(name)
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {sorted(heads)}")
    return heads.pop() if heads else None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head; returns whether anything ran."""
    if current_revision(engine) == head_revision():
        return False
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


def check_current(engine: Engine) -> None:
    """A process that must not migrate (a worker of a served registry): the schema is at head, or a one-line
    RuntimeError says what it is at."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise RuntimeError(f"the database's schema is at {current or 'nothing'}, not {head}: migrate it first")
