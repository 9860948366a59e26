"""What the benchmarks that run on PostgreSQL share."""

from __future__ import annotations

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
