"""What the benchmarks that run on PostgreSQL share."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def postgres_problem(url: str) -> str | None:
    """Why the server `url` names cannot be used (not PostgreSQL, unreachable), in one line; None when it can."""
    shown = make_url(url).render_as_string(hide_password=True)
    if make_url(url).get_backend_name() != "postgresql":
        return f"{shown} is not PostgreSQL"
    try:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        return f"cannot connect to {shown}: {first[0] if first else type(exc).__name__}"
    return None


def pg_url_from_env(
    pg_url: str | None = None,
    *,
    given: str = "argument",
    why: str = "no URL given (pass pg_url / --pg-url, or set WS_BENCH_PG_URL or WS_TEST_PG_URL)",
) -> tuple[str | None, str]:
    """The PostgreSQL URL to use and where it came from (`given` for `pg_url`, else the setting's name), or None and
    `why` there is none: `pg_url`, else WS_BENCH_PG_URL, else WS_TEST_PG_URL."""
    if pg_url:
        return pg_url, given
    for name in ("WS_BENCH_PG_URL", "WS_TEST_PG_URL"):
        if os.environ.get(name):
            return os.environ[name], name
    return None, why
