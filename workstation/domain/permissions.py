"""Who may do what: user roles, their permissions (data/permissions.toml) and review grants (R14)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType

from .errors import CatalogueError, PermissionDenied

PERMISSIONS_FILE = "permissions.toml"


class UserRole(StrEnum):
    CLERK = "clerk"  # window clerk: pre-intake, digitisation, submission, handing over
    REVIEWER = "reviewer"  # 审核 and 登簿
    QC = "qc"  # quality inspection (R3)
    REGISTRAR = "registrar"  # 登簿人: records the registration in the register
    ADMIN = "admin"  # users, stations, audit; not a superuser


class Permission(StrEnum):
    DOSSIER_CREATE = "dossier_create"
    DOSSIER_EDIT = "dossier_edit"
    DOSSIER_SUBMIT = "dossier_submit"
    DOSSIER_WITHDRAW = "dossier_withdraw"
    DOSSIER_WAIVE = "dossier_waive"
    DOSSIER_VIEW = "dossier_view"
    REVIEW_DECIDE = "review_decide"
    REGISTER = "register"
    ISSUE = "issue"
    QC_INSPECT = "qc_inspect"
    USER_MANAGE = "user_manage"
    STATION_MANAGE = "station_manage"
    AUDIT_VERIFY = "audit_verify"


def load_permissions(text: str | None = None) -> Mapping[UserRole, frozenset[Permission]]:
    """Parse and validate the role → permission table (packaged, or `text`)."""
    if text is None:
        text = resources.files(__package__).joinpath("data", PERMISSIONS_FILE).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{PERMISSIONS_FILE}: invalid TOML: {exc}") from None
    roles = doc.get("roles")
    if set(doc) != {"roles"} or not isinstance(roles, dict):
        raise CatalogueError(f"{PERMISSIONS_FILE}: expected exactly one table, [roles]")
    known_roles = {role.value for role in UserRole}
    known_permissions = {permission.value for permission in Permission}
    table: dict[UserRole, frozenset[Permission]] = {}
    for name, granted in roles.items():
        if name not in known_roles:
            raise CatalogueError(f"{PERMISSIONS_FILE}: unknown role '{name}'; known: {', '.join(UserRole)}")
        if not isinstance(granted, list) or not all(isinstance(p, str) for p in granted):
            raise CatalogueError(f"{PERMISSIONS_FILE}: role '{name}' must list permission names")
        for permission in granted:
            if permission not in known_permissions:
                raise CatalogueError(f"{PERMISSIONS_FILE}: role '{name}' grants unknown permission '{permission}'")
        table[UserRole(name)] = frozenset(Permission(p) for p in granted)
    for role in UserRole:
        if role not in table:
            raise CatalogueError(f"{PERMISSIONS_FILE}: role '{role}' has no entry")
    return MappingProxyType(table)


@cache
def _default_table() -> Mapping[UserRole, frozenset[Permission]]:
    return load_permissions()


def permissions_of(roles: Iterable[UserRole | str]) -> frozenset[Permission]:
    """The union of the permissions the roles grant."""
    table = _default_table()
    granted: set[Permission] = set()
    for role in roles:
        granted |= table[UserRole(role)]
    return frozenset(granted)


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: frozenset[UserRole]
    can_review_online: bool = False  # 网上审核: digitised dossiers (R14)
    can_review_offline: bool = False  # 线下审核: paper dossiers (R14)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(UserRole(role) for role in self.roles))


def has_permission(actor: Actor, permission: Permission | str) -> bool:
    return Permission(permission) in permissions_of(actor.roles)


def require(actor: Actor, permission: Permission | str) -> None:
    """Raise PermissionDenied unless one of the actor's roles grants the permission."""
    wanted = Permission(permission)
    if not has_permission(actor, wanted):
        roles = ", ".join(role.value for role in UserRole if role in actor.roles) or "no role"
        raise PermissionDenied(f"user '{actor.username}' ({roles}) may not {wanted.value}", wanted.value)


def can_review(actor: Actor, digitized: bool) -> bool:
    """R14: digitised dossiers need the online grant and paper ones the offline grant (plus review_decide)."""
    if not has_permission(actor, Permission.REVIEW_DECIDE):
        return False
    return actor.can_review_online if digitized else actor.can_review_offline


def require_review(actor: Actor, digitized: bool) -> None:
    """Raise PermissionDenied unless `can_review(actor, digitized)`."""
    require(actor, Permission.REVIEW_DECIDE)
    if not can_review(actor, digitized):
        grant = "online review (网上审核)" if digitized else "offline review (线下审核)"
        kind = "digitised" if digitized else "paper"
        raise PermissionDenied(f"user '{actor.username}' may not review {kind} dossiers without {grant} (R14)")
