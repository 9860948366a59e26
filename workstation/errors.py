"""Errors a user or the environment can cause, each turned into one clear line at the edge.

`exit_code` follows the command surface: 2 for bad usage or input, 1 for a failure of the system.
"""

from __future__ import annotations


class WorkstationError(Exception):
    """Base of the errors the CLI, TUI and API report as one line (no traceback)."""

    exit_code = 1


class UsageError(WorkstationError):
    """The user asked for something malformed or impossible."""

    exit_code = 2


class ConfigError(WorkstationError):
    """The configuration file or a WS_* variable is wrong."""

    exit_code = 2


class NotFound(UsageError):
    """A dossier, user or other record named by the user does not exist."""


class DataDirError(WorkstationError):
    """The data directory cannot be created or written."""


class StoreError(WorkstationError):
    """The database cannot be opened, is corrupt, or cannot be migrated."""


class BlobError(WorkstationError):
    """A blob is missing or its content no longer matches its hash."""


class AuthError(UsageError):
    """Unknown user, wrong password or disabled account."""


class ConflictError(WorkstationError):
    """A change was made against state that has moved on (a stale lease fence or version).

    The refused change is recorded and shown; it is never applied silently and never lost.
    """

    def __init__(self, message: str, record: object = None) -> None:
        super().__init__(message)
        self.record = record


class Offline(WorkstationError):
    """The registry cannot be reached now; what the desk holds can still be worked on."""
