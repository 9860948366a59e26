"""`workstation kiosk`: the self-service terminal (R12), for applicants rather than clerks.

The kiosk acts under one desk account, named as every command names the person acting (`--as`/WS_USER, else the
OS user's `[operators]` mapping, else the configured `user`). On a station whose `station_kind` is "kiosk" that
account, which must be one of the desk's own users, is logged in without a password (audited); anywhere else its
password is asked for as for any command that changes data. An account without a clerk's rights is refused in one line
before the screen opens. The sync agent runs beside it, so what applicants submit reaches the registry.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workstation.config import Settings


def add_parser(sub: Any) -> None:
    sub.add_parser("kiosk", help="the self-service terminal (R12): mortgage cancellation and changes, no counter")


def cmd_kiosk(args: argparse.Namespace, settings: Settings) -> int:
    from workstation import cli_auth
    from workstation.config import StationKind
    from workstation.services import audit
    from workstation.services.kiosk import kiosk_businesses, kiosk_login, require_kiosk_rights

    audit.set_origin("kiosk", cli_auth.os_user())
    desk = cli_auth.open_desk(settings)
    try:
        kiosk_businesses(desk.catalogue, settings.kiosk_businesses)  # a bad setting stops here, in one line
        from workstation.cli_sync import attach_registry

        attach_registry(settings, desk)
        name = cli_auth.acting_name(settings, cli_auth.NAMED)
        if settings.station_kind is StationKind.KIOSK:
            actor = kiosk_login(desk, name)
        else:
            actor = cli_auth.person(desk, settings)
            require_kiosk_rights(actor)
        return _run(desk, settings, actor)
    finally:
        desk.close()


def _run(desk: Any, settings: Settings, actor: Any) -> int:
    from workstation.cli import _start_background_sync
    from workstation.tui.kiosk import KioskApp

    logging.getLogger("workstation").propagate = False  # the screen owns the terminal: log to the file only
    agent = _start_background_sync(desk, settings)
    try:
        KioskApp(desk, actor=actor).run()
    finally:
        if agent is not None:
            agent.stop()
    return 0
