"""Local users, roles and passwords (argon2id). Permissions are checked here, not in the UI.

A desk with a registry keeps only its own people (clerks, admins); reviewers, QC inspectors and registrars are
the registry's. They log in there (`PersonDirectory`); the desk keeps a copy of what the registry said of them
(roles, grants, unit) and a verifier of the password they used, so that while the registry cannot be reached they
can still log in here and decide the leases they hold.

Passwords are hashed at argon2-cffi's production cost (RFC 9106, low-memory profile) unless the environment says
`WS_PASSWORD_COST=test`: the test suite's setting, argon2id at the lowest cost, so that the thousand tests that
create people do not spend minutes hashing. Any other value is refused (one line, exit 2) the first time a password
is hashed or checked; a hash records its own cost, so hashes made either way verify either way.

Every login is audited, failed ones included (`user.login`, `user.login_failed`, with the name tried), and failures
slow the next attempt down, per name and per desk (`workstation.domain.logins`): while a wait runs, no password is
even checked. People are disabled, never deleted: their names stay on the audit events they wrote.
"""

from __future__ import annotations

import functools
import math
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workstation.domain import logins
from workstation.domain.permissions import Actor, Permission, UserRole, require
from workstation.errors import AuthError, ConfigError, NotFound, Offline, UsageError
from workstation.services import audit
from workstation.store.db import Database
from workstation.store.models import AuditEvent, User
from workstation.store.types import utcnow

PASSWORD_COST_ENV = "WS_PASSWORD_COST"


def password_hasher(cost: str | None = None) -> PasswordHasher:
    """The production hasher, or with `cost="test"` the cheapest argon2id (tests only); see the module docstring."""
    cost = os.environ.get(PASSWORD_COST_ENV, "") if cost is None else cost
    if cost in ("", "production"):
        return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
    if cost == "test":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # argon2id; the hash's shape unchanged
    raise ConfigError(f"{PASSWORD_COST_ENV}={cost!r} is not a password cost: leave it unset (production) or 'test'")


class _Hasher:
    """The process's hasher, made on first use: a wrong setting is reported by the command that meets it."""

    @functools.cached_property
    def _hasher(self) -> PasswordHasher:
        return password_hasher()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)


HASHER: Any = _Hasher()
LOGIN = "login"  # the audit entity of login attempts; entity_id is the name tried
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
FIRST_ADMIN = "admin"
PERSON_ROLES = (UserRole.REVIEWER, UserRole.QC, UserRole.REGISTRAR)  # the registry's people hold these
REGISTRY_ROLES = frozenset(PERSON_ROLES)
REGISTRY_ORIGIN = "registry"


@dataclass(frozen=True)
class RemotePerson:
    """A person as the registry describes them at login."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    can_review_online: bool
    can_review_offline: bool
    unit: str | None


class PersonDirectory(Protocol):
    """The registry's people, as a desk reaches them (`sync/people.py`)."""

    def login(self, username: str, password: str) -> RemotePerson:
        """AuthError for a wrong name or password; Offline when the registry cannot be asked now."""


@dataclass(frozen=True)
class UserView:
    id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    can_review_online: bool
    can_review_offline: bool
    active: bool

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "roles": list(self.roles),
            "can_review_online": self.can_review_online,
            "can_review_offline": self.can_review_offline,
            "active": self.active,
        }


def _roles_of(user: User) -> frozenset[UserRole]:
    return frozenset(UserRole(r) for r in user.roles.split())


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        roles=_roles_of(user),
        can_review_online=user.can_review_online,
        can_review_offline=user.can_review_offline,
    )


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=tuple(sorted(user.roles.split())),
        can_review_online=user.can_review_online,
        can_review_offline=user.can_review_offline,
        active=user.active,
    )


def parse_roles(names: list[str] | tuple[str, ...]) -> frozenset[UserRole]:
    known = ", ".join(r.value for r in UserRole)
    roles = set()
    for name in names:
        try:
            roles.add(UserRole(name.strip().lower()))
        except ValueError:
            raise UsageError(f"unknown role '{name}'; roles are: {known}") from None
    if not roles:
        raise UsageError(f"a user needs at least one role: {known}")
    return frozenset(roles)


def insert_user(
    session: Session,
    *,
    station_id: str | None,
    username: str,
    password: str,
    roles: frozenset[UserRole],
    display_name: str,
    can_review_online: bool,
    can_review_offline: bool,
    unit: str | None = None,
    origin: str = "desk",
) -> User:
    """A new user with a checked name and password (argon2id), in the caller's transaction."""
    if not USERNAME.match(username):
        raise UsageError(
            f"bad user name '{username}': 2-32 lower-case letters, digits, '_', '.' or '-', starting with a letter"
        )
    if len(password) < 8:
        raise UsageError("a password needs at least 8 characters")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise UsageError(f"user '{username}' already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=HASHER.hash(password),
        roles=" ".join(sorted(r.value for r in roles)),
        can_review_online=can_review_online,
        can_review_offline=can_review_offline,
        station_id=station_id,
        unit=unit,
        origin=origin,
    )
    session.add(user)
    session.flush()
    return user


class UserService:
    def __init__(
        self,
        db: Database,
        station_id: str,
        *,
        with_registry: bool = False,
        now: Callable[[], datetime] = utcnow,
        allowance: logins.Allowance = logins.ALLOWANCE,
    ):
        self._db = db
        self._station = station_id
        self._now = now
        self._allowance = allowance
        # With a registry, reviewers, QC inspectors and registrars are the registry's to provision.
        self.with_registry = with_registry
        self._directory: PersonDirectory | None = None

    def attach_directory(self, directory: PersonDirectory) -> None:
        self._directory = directory

    def ensure_first_admin(self, password: str | None = None) -> str | None:
        """On the very first start create `admin`; returns the generated password (shown once) or None."""
        with self._db.transaction() as session:
            if session.execute(select(func.count(User.id))).scalar_one():
                return None
            generated = password is None
            secret = password or secrets.token_urlsafe(12)
            user = insert_user(
                session,
                station_id=self._station,
                username=FIRST_ADMIN,
                password=secret,
                roles=frozenset({UserRole.ADMIN}),
                display_name="管理员",
                can_review_online=False,
                can_review_offline=False,
            )
            audit.append(
                session,
                station_id=self._station,
                actor="system",
                action="user.create",
                entity="user",
                entity_id=user.id,
                payload={"username": FIRST_ADMIN, "roles": ["admin"], "first_start": True},
            )
            return secret if generated else None

    def actor(self, username: str) -> Actor:
        with self._db.read() as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user '{username}' on this desk; an admin adds one with 'workstation user add'")
            if not user.active:
                raise AuthError(f"user '{username}' is disabled")
            return actor_of(user)

    def authenticate(self, username: str, password: str) -> Actor:
        """The person behind a name, by their password; every attempt is audited and failures slow the next one."""
        name = username[:64]
        self._refuse_while_waiting(name)
        try:
            actor = self._check_password(username, password)
        except AuthError as exc:
            self._record_login(name, ok=False, reason=str(exc))
            raise
        self._record_login(name, ok=True, user_id=actor.user_id)
        return actor

    def _check_password(self, username: str, password: str) -> Actor:
        if self._directory is not None:
            with self._db.read() as session:
                local = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
                origin = local.origin if local is not None else None
            if origin in (None, REGISTRY_ORIGIN):
                return self._authenticate_at_registry(self._directory, username, password)
        with self._db.read() as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            # Hash even for unknown users so timing does not reveal which names exist.
            stored = user.password_hash if user is not None else dummy_hash()
            try:
                HASHER.verify(stored, password)
                ok = user is not None
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok or user is None:
                raise AuthError("wrong user name or password")
            if not user.active:
                raise AuthError(f"user '{username}' is disabled")
            return actor_of(user)

    def _refuse_while_waiting(self, name: str) -> None:
        """Refuse, without checking any password, while this name or this desk is waiting after failures."""
        now = self._now()
        since = now - logins.WINDOW
        with self._db.read() as session:
            cleared = session.execute(
                select(func.max(AuditEvent.at)).where(
                    AuditEvent.entity == LOGIN, AuditEvent.entity_id == name, AuditEvent.action == "user.login"
                )
            ).scalar_one_or_none()
            failed = select(AuditEvent.entity_id, AuditEvent.at).where(
                AuditEvent.entity == LOGIN, AuditEvent.action == "user.login_failed", AuditEvent.at >= since
            )
            rows = session.execute(failed).all()
        mine = [at for who, at in rows if who == name and (cleared is None or at > cleared)]
        wait_name = logins.wait_seconds(mine, now, self._allowance.per_person)
        wait_desk = logins.wait_seconds([at for _, at in rows], now, self._allowance.per_desk)
        wait = max(wait_name, wait_desk)
        if wait > 0:
            whom = f"'{name}'" if wait_name >= wait_desk else "this desk"
            raise AuthError(f"登录失败次数过多 too many failed logins for {whom}: try again in {math.ceil(wait)} s")

    def _record_login(self, name: str, *, ok: bool, reason: str = "", user_id: str | None = None) -> None:
        payload: dict[str, object] = {"username": name}
        if not ok:
            payload["reason"] = reason[:200]
        if user_id is not None:
            payload["user_id"] = user_id
        with self._db.transaction() as session:
            audit.append(
                session,
                station_id=self._station,
                actor=name,
                action="user.login" if ok else "user.login_failed",
                entity=LOGIN,
                entity_id=name,
                payload=payload,
            )

    def is_local(self, username: str) -> bool:
        """Whether the name is one of this desk's own users (not a copy of a registry person)."""
        with self._db.read() as session:
            origin = session.execute(select(User.origin).where(User.username == username)).scalar_one_or_none()
        return origin is not None and origin != REGISTRY_ORIGIN

    def trust_os_user(self, username: str, os_user: str) -> Actor:
        """A desk user whom the desk's config maps to the OS account running this process: audited as a login."""
        actor = self.actor(username)
        with self._db.transaction() as session:
            audit.append(
                session,
                station_id=self._station,
                actor=username,
                action="user.login",
                entity=LOGIN,
                entity_id=username[:64],
                payload={"username": username, "user_id": actor.user_id, "method": "os_user", "os_user": os_user},
            )
        return actor

    def set_active(self, actor: Actor, username: str, active: bool) -> UserView:
        """Disable or enable a person; nobody is ever deleted. An admin cannot disable themselves."""
        require(actor, Permission.USER_MANAGE)
        with self._db.transaction() as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user '{username[:64]}' on this desk")
            if self.with_registry and user.origin == REGISTRY_ORIGIN:
                raise UsageError(
                    f"{username} is the registry's: disable them there ('workstation registry user disable')"
                )
            if user.id == actor.user_id and not active:
                raise UsageError("you cannot disable yourself; another admin can")
            if user.active != active:
                user.active = active
                audit.append(
                    session,
                    station_id=self._station,
                    actor=actor.username,
                    action="user.enable" if active else "user.disable",
                    entity="user",
                    entity_id=user.id,
                    payload={"username": user.username},
                )
            return _view(user)

    def _authenticate_at_registry(self, directory: PersonDirectory, username: str, password: str) -> Actor:
        """A registry person logs in there; offline, on the verifier kept from their last login there."""
        try:
            person = directory.login(username, password)
        except Offline as exc:
            with self._db.read() as session:
                local = session.execute(
                    select(User).where(User.username == username, User.origin == REGISTRY_ORIGIN)
                ).scalar_one_or_none()
                if local is None:
                    raise AuthError(
                        f"the registry cannot be reached ({exc}) and {username} has never logged in at this desk"
                    ) from None
                try:
                    HASHER.verify(local.password_hash, password)
                except (VerificationError, InvalidHashError):
                    raise AuthError("wrong user name or password") from None
                if not local.active:
                    raise AuthError(f"user '{username}' is disabled") from None
                return actor_of(local)  # offline: the leases held can be decided; nothing new is claimed
        roles = frozenset(UserRole(r) for r in person.roles if r in {x.value for x in UserRole})
        with self._db.transaction() as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                user = User(username=username, password_hash="!", station_id=self._station, origin=REGISTRY_ORIGIN)
                session.add(user)
            user.display_name = person.display_name or username
            user.roles = " ".join(sorted(r.value for r in roles))
            user.can_review_online, user.can_review_offline = person.can_review_online, person.can_review_offline
            user.unit, user.active = person.unit, True
            user.password_hash = HASHER.hash(password)
            session.flush()
            audit.append(
                session,
                station_id=self._station,
                actor=username,
                action="user.login_registry",
                entity="user",
                entity_id=user.id,
                payload={"roles": sorted(r.value for r in roles), "unit": person.unit},
            )
            return actor_of(user)

    def _refuse_registry_roles(self, roles: frozenset[UserRole] | None, grants: bool = False) -> None:
        if not self.with_registry:
            return
        if (roles and roles & REGISTRY_ROLES) or grants:
            raise UsageError(
                "reviewers, QC inspectors and registrars and their review grants are provisioned at the registry "
                "('workstation registry user add|grant' where the registry runs); this desk keeps clerks and admins"
            )

    def add(
        self,
        actor: Actor,
        *,
        username: str,
        password: str,
        roles: list[str] | tuple[str, ...],
        display_name: str = "",
        can_review_online: bool = False,
        can_review_offline: bool = False,
    ) -> UserView:
        require(actor, Permission.USER_MANAGE)
        parsed = parse_roles(roles)
        self._refuse_registry_roles(parsed, can_review_online or can_review_offline)
        with self._db.transaction() as session:
            user = insert_user(
                session,
                station_id=self._station,
                username=username,
                password=password,
                roles=parsed,
                display_name=display_name,
                can_review_online=can_review_online,
                can_review_offline=can_review_offline,
            )
            audit.append(
                session,
                station_id=self._station,
                actor=actor.username,
                action="user.create",
                entity="user",
                entity_id=user.id,
                payload={
                    "username": username,
                    "roles": sorted(r.value for r in parsed),
                    "can_review_online": can_review_online,
                    "can_review_offline": can_review_offline,
                },
            )
            return _view(user)

    def update(
        self,
        actor: Actor,
        username: str,
        *,
        roles: list[str] | tuple[str, ...] | None = None,
        can_review_online: bool | None = None,
        can_review_offline: bool | None = None,
    ) -> UserView:
        """Change a user's roles and review grants (R14); what is None stays. An admin cannot drop their own admin."""
        require(actor, Permission.USER_MANAGE)
        parsed = parse_roles(roles) if roles is not None else None
        self._refuse_registry_roles(parsed, bool(can_review_online or can_review_offline))
        with self._db.transaction() as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user '{username[:64]}' on this desk")
            if self.with_registry and user.origin == REGISTRY_ORIGIN:
                self._refuse_registry_roles(None, grants=True)
            if parsed is not None and user.id == actor.user_id and UserRole.ADMIN not in parsed:
                raise UsageError("you cannot take the admin role from yourself; another admin can")
            before = {
                "roles": sorted(user.roles.split()),
                "can_review_online": user.can_review_online,
                "can_review_offline": user.can_review_offline,
            }
            if parsed is not None:
                user.roles = " ".join(sorted(r.value for r in parsed))
            if can_review_online is not None:
                user.can_review_online = can_review_online
            if can_review_offline is not None:
                user.can_review_offline = can_review_offline
            after = {
                "roles": sorted(user.roles.split()),
                "can_review_online": user.can_review_online,
                "can_review_offline": user.can_review_offline,
            }
            if after != before:
                audit.append(
                    session,
                    station_id=self._station,
                    actor=actor.username,
                    action="user.update",
                    entity="user",
                    entity_id=user.id,
                    payload={"username": user.username, "before": before, "after": after},
                )
            return _view(user)

    def list(self) -> list[UserView]:
        with self._db.read() as session:
            return [_view(u) for u in session.execute(select(User).order_by(User.username)).scalars()]


@functools.cache
def dummy_hash() -> str:
    """What an unknown name's password is checked against (timing); hashed on first use, not on every start-up."""
    return HASHER.hash("not a real password, only for timing")
