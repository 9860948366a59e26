"""The desk's top-level areas (Textual MODES), in the order of the header's tabs and of their keys."""

from __future__ import annotations

from dataclasses import dataclass

from workstation.domain.permissions import Actor, Permission, has_permission


@dataclass(frozen=True)
class Mode:
    name: str
    key: str
    label: str


MODES: tuple[Mode, ...] = (
    Mode("intake", "f3", "受理 Intake"),
    Mode("review", "f4", "审核 Review"),
    Mode("qc", "f5", "质检 QC"),
    Mode("sync", "f6", "同步 Sync"),
    Mode("admin", "f7", "管理 Admin"),
    Mode("issue", "f8", "发证 Issue"),
)


def modes_for(actor: Actor) -> tuple[Mode, ...]:
    """The areas this user's roles open; the sync screen is everyone's (has my work reached the registry?)."""
    allowed = {"sync"}
    if has_permission(actor, Permission.DOSSIER_CREATE):
        allowed.add("intake")
    if has_permission(actor, Permission.REVIEW_DECIDE):
        allowed.add("review")
    # QC: inspectors record results; whoever may 登簿 receives the correction cases a major error opens (R4).
    if has_permission(actor, Permission.QC_INSPECT) or has_permission(actor, Permission.REGISTER):
        allowed.add("qc")
    if has_permission(actor, Permission.USER_MANAGE) or has_permission(actor, Permission.STATION_MANAGE):
        allowed.add("admin")
    # 登簿 and 缴费发证: the registrar's list and the window's, on one screen.
    if has_permission(actor, Permission.REGISTER) or has_permission(actor, Permission.ISSUE):
        allowed.add("issue")
    return tuple(mode for mode in MODES if mode.name in allowed)


def first_mode(actor: Actor) -> str:
    """Where a user lands after login: the first area their roles open (a clerk at intake, a reviewer at review)."""
    names = [mode.name for mode in modes_for(actor) if mode.name != "sync"]
    return names[0] if names else "sync"
