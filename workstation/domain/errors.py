"""Typed errors of the domain core.

Every error carries one line of text that the edge (CLI, TUI, API) can show as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checklist import MissingItem


class DomainError(Exception):
    """A rule of the registration domain was broken; the message is one line."""

    def __init__(self, message: str) -> None:
        self.message = " ".join(message.split("\n")).strip()
        super().__init__(self.message)


class CatalogueError(DomainError):
    """The business catalogue, workflow or permission table is invalid, or a code is unknown."""


class IllegalTransition(DomainError):
    """An action the stage machine does not allow from the dossier's current state."""


class PermissionDenied(DomainError):
    """The acting user lacks a permission; `permission` names it (a Permission value) when one was wanted."""

    def __init__(self, message: str, permission: str | None = None) -> None:
        super().__init__(message)
        self.permission = permission


class MissingMaterials(DomainError):
    """Submission refused; `.missing` lists everything that is missing, all at once (一次性告知)."""

    def __init__(self, missing: Iterable[MissingItem]) -> None:
        self.missing: tuple[MissingItem, ...] = tuple(missing)
        count = len(self.missing)
        noun = "item" if count == 1 else "items"
        details = "; ".join(str(item) for item in self.missing)
        super().__init__(f"cannot submit: {count} {noun} missing: {details}")
