"""Placeholder while the admin screen is built."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.tui.widgets.chrome import AppHeader


class AdminScreen(Screen[None]):
    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("admin")
        yield Footer()
