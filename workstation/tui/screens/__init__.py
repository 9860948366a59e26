"""The workstation's screens, and what they share: how times and failed service calls read on screen."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from workstation.domain.errors import DomainError
from workstation.errors import WorkstationError
from workstation.services.views import OFFICE_TZ

log = logging.getLogger("workstation.tui")


def local_time(moment: datetime) -> str:
    """Office time (UTC+8), whatever zone the machine is set to; a time without a zone is UTC, as stored."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


def error_line(error: BaseException | None) -> str:
    """One line for the user. Errors a user can cause read as they are; anything else is logged in full."""
    if isinstance(error, (WorkstationError, DomainError)):
        return str(error)
    log.error("internal error in the terminal UI", exc_info=error)
    return f"internal error: {type(error).__name__}: {error} (details in the log)"
