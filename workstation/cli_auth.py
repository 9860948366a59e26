"""Who acts on the command line, proven: every command that changes data authenticates the person first.

`--as NAME` (or WS_USER) names the person; their password comes from WS_PASSWORD or, on a terminal, a prompt.
A machine with one operator may instead map OS users to desk users in the desk's config (`[operators]`,
`alice = "clerk1"`): the OS has already proven who is at the keyboard, so that user acts without a password —
only for desk users; the registry's people always log in with their password. Each login is audited (the user
service does that), and each event of the command records the OS user and the interface.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TYPE_CHECKING, Any

from workstation.errors import UsageError

if TYPE_CHECKING:
    from workstation.config import Settings


def os_user() -> str:
    """The OS account running this process (what the audit records beside the person)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return getpass.getuser()


def mapped_user(settings: Settings) -> str | None:
    """The desk user this OS user is mapped to in the config, if any."""
    return settings.operators.get(os_user())


NAMED = True  # whether the command line or WS_USER named the person (set by the command's start)


def acting_name(settings: Settings, named: bool) -> str:
    """The person a command acts as: the one named (`--as`/WS_USER), else the OS user's mapping, else admin."""
    if not named:
        mapped = mapped_user(settings)
        if mapped:
            return mapped
    return settings.user


def open_desk(settings: Settings) -> Any:
    """The desk, with the first admin's password shown on the very first start, whichever command it is."""
    from workstation.services.desk import open_desk as _open

    try:
        desk = _open(settings)
    finally:
        import gc

        gc.enable()  # off while the command loaded its libraries; the desk froze them out of the collector's sight
    announce_first_admin(desk.first_admin_password)
    return desk


def announce_first_admin(password: str | None) -> None:
    if password is None:
        return
    print(
        f"首次启动：已创建管理员 admin，密码 {password}\n"
        f"First start: created user 'admin' with password {password}\n"
        "It is shown only this once; note it now (or set WS_ADMIN_PASSWORD before the first start). "
        "Commands that change data ask for it (WS_PASSWORD, or typed on a terminal).",
        file=sys.stderr,
    )


def person(desk: Any, settings: Settings) -> Any:
    """The authenticated Actor for a command that changes data; exit 2 with one line when it cannot be proven."""
    name = acting_name(settings, NAMED)
    password = os.environ.get("WS_PASSWORD")
    if not password and mapped_user(settings) == name and desk.users.is_local(name):
        return desk.users.trust_os_user(name, os_user())
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"{name} 的密码 password of {name}: ")
    if not password:
        raise UsageError(
            f"需要 {name} 的密码 {name}'s password is needed to change data: set WS_PASSWORD or run on a terminal "
            "(a single-operator machine may map its OS user in the desk's config: "
            f'[operators] {os_user()} = "{name}")'
        )
    return desk.users.authenticate(name, password)
