"""The people the city provisions (R14): reviewers, QC inspectors and registrars, their grants and unit, their logins.

They live at the registry. A desk can neither create nor elevate them: a person logs in at the registry from a
desk and gets a short-lived personal token bound to that desk's station; what the person then asks for (a claim,
a heartbeat, a decision under their lease, 登簿) counts for them only from that station. On a desk with no
registry configured the desk is its own registry and keeps its people itself, with the same commands.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from workstation.domain import logins
from workstation.domain.permissions import Actor, UserRole
from workstation.errors import AuthError, NotFound, UsageError
from workstation.services import audit
from workstation.services.users import (
    HASHER,
    PERSON_ROLES,
    REGISTRY_ORIGIN,
    USERNAME,
    actor_of,
    dummy_hash,
    insert_user,
    parse_roles,
)
from workstation.store.db import Database
from workstation.store.models import Assignment, AuditEvent, Dossier, PersonSession, User
from workstation.store.types import utcnow

TOKEN_PREFIX = "wsp_"
DEFAULT_TOKEN_MINUTES = 10 * 60  # a working day at the window
# Password checks at once in one process: one per core (each argon2 check takes 64 MiB and a core for its time).
_PASSWORD_CHECKS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
_UNIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


class PersonAuthError(AuthError):
    """A person could not be authenticated; `reason` is invalid (unknown, wrong, disabled), expired or station."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PersonView:
    username: str
    display_name: str
    roles: tuple[str, ...]
    can_review_online: bool
    can_review_offline: bool
    unit: str | None
    active: bool

    def to_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "roles": list(self.roles),
            "can_review_online": self.can_review_online,
            "can_review_offline": self.can_review_offline,
            "unit": self.unit,
            "active": self.active,
        }


@dataclass(frozen=True)
class Login:
    token: str  # shown once; only its digest is kept
    expires_at: datetime
    person: PersonView


def person_view(user: User) -> PersonView:
    return PersonView(
        username=user.username,
        display_name=user.display_name,
        roles=tuple(sorted(user.roles.split())),
        can_review_online=user.can_review_online,
        can_review_offline=user.can_review_offline,
        unit=user.unit,
        active=user.active,
    )


def parse_person_roles(names: list[str] | tuple[str, ...]) -> frozenset[UserRole]:
    known = ", ".join(r.value for r in PERSON_ROLES)
    for name in names:
        if name.strip().lower() not in known.split(", "):
            raise UsageError(f"'{name[:40]}' is not a role the registry provisions; roles: {known}")
    if not names:
        raise UsageError(f"a person needs at least one role: {known}")
    return parse_roles(names)


def check_unit(unit: str | None) -> str | None:
    """A unit (district office) code, as people and stations carry it (R17); None stays None."""
    if unit is None:
        return None
    if not _UNIT.match(unit):
        raise UsageError(f"bad unit code '{unit[:40]}': 1-32 letters, digits or '-', e.g. JN-LX")
    return unit


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_LOGIN_AND_PERSON = (
    select(PersonSession, User)
    .outerjoin(User, User.id == PersonSession.user_id)
    .where(PersonSession.token_sha256 == bindparam("digest"))
)


class PeopleService:
    """People and their logins, kept by whoever is the registry: the registry itself, or a desk working alone."""

    def __init__(self, db: Database, *, station_id: str, token_minutes: float = DEFAULT_TOKEN_MINUTES):
        if token_minutes <= 0:
            raise UsageError("a person's login must last more than 0 minutes")
        self._db = db
        self._station = station_id
        self.token_lifetime = timedelta(minutes=token_minutes)

    # -- provisioning (the registry's operator) ---------------------------------------------------------------

    def add(
        self,
        operator: str,
        username: str,
        password: str,
        roles: list[str] | tuple[str, ...],
        *,
        online: bool = False,
        offline: bool = False,
        unit: str | None = None,
        display_name: str = "",
    ) -> PersonView:
        parsed = parse_person_roles(roles)
        if len(display_name) > 200:
            raise UsageError("a display name may have at most 200 characters")
        unit = check_unit(unit)
        with self._db.transaction() as session:
            user = insert_user(
                session,
                station_id=None,
                username=username,
                password=password,
                roles=parsed,
                display_name=display_name,
                can_review_online=online,
                can_review_offline=offline,
                unit=unit,
                origin=REGISTRY_ORIGIN,
            )
            view = person_view(user)
            self._audit(session, operator, "person.create", user, view.to_json())
            return view

    def grant(
        self,
        operator: str,
        username: str,
        *,
        roles: list[str] | tuple[str, ...] | None = None,
        online: bool | None = None,
        offline: bool | None = None,
        unit: str | None = None,
    ) -> PersonView:
        """Change a person's roles, R14 grants or unit; what is None stays."""
        parsed = parse_person_roles(roles) if roles is not None else None
        unit = check_unit(unit)
        with self._db.transaction() as session:
            user = self._person(session, username)
            before = person_view(user).to_json()
            if parsed is not None:
                user.roles = " ".join(sorted(r.value for r in parsed))
            if online is not None:
                user.can_review_online = online
            if offline is not None:
                user.can_review_offline = offline
            if unit is not None:
                user.unit = unit
            after = person_view(user).to_json()
            if after != before:
                self._audit(session, operator, "person.grant", user, {"before": before, "after": after})
            return person_view(user)

    def disable(self, operator: str, username: str) -> PersonView:
        """A person leaves: their logins end at once, their live leases go back to the pool."""
        now = utcnow()
        with self._db.transaction() as session:
            user = self._person(session, username)
            user.active = False
            sessions = list(
                session.execute(
                    select(PersonSession).where(PersonSession.user_id == user.id, PersonSession.revoked_at.is_(None))
                ).scalars()
            )
            for row in sessions:
                row.revoked_at = now
            leases = list(
                session.execute(
                    select(Assignment).where(Assignment.reviewer_id == user.id, Assignment.state == "active")
                ).scalars()
            )
            for lease in leases:
                lease.state, lease.ended_at = "ended", now
                dossier = session.get(Dossier, lease.dossier_id)
                if dossier is not None and dossier.status == "in_review":
                    dossier.status, dossier.lease_expires_at = "submitted", None
            self._audit(
                session,
                operator,
                "person.disable",
                user,
                {"sessions_revoked": len(sessions), "leases_returned": [x.lease_id for x in leases]},
            )
            return person_view(user)

    def list(self) -> list[PersonView]:
        with self._db.read() as session:
            rows = session.execute(select(User).where(User.origin == REGISTRY_ORIGIN).order_by(User.username)).scalars()
            return [person_view(u) for u in rows]

    # -- logging in ---------------------------------------------------------------------------------------------

    def _login_wait(self, session: Session, station_id: str, username: str) -> str | None:
        """Why a login must wait after failures (per name, and per station across names), or None."""
        now = utcnow()
        cleared = session.execute(
            select(func.max(AuditEvent.at)).where(AuditEvent.action == "person.login", AuditEvent.actor == username)
        ).scalar_one_or_none()
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.station_id, AuditEvent.at).where(
                AuditEvent.action == "person.login_refused", AuditEvent.at >= now - logins.WINDOW
            )
        ).all()
        mine = [at for who, _, at in rows if who == username and (cleared is None or at > cleared)]
        wait_name = logins.wait_seconds(mine, now, logins.ALLOWANCE.per_person)
        here = [at for _, station, at in rows if station == station_id]
        wait_station = logins.wait_seconds(here, now, logins.ALLOWANCE.per_desk)
        wait = max(wait_name, wait_station)
        if wait <= 0:
            return None
        whom = f"'{username}'" if wait_name >= wait_station else f"station {station_id}"
        return f"登录失败次数过多 too many failed logins for {whom}: try again in {math.ceil(wait)} s"

    def login(self, station_id: str, username: str, password: str) -> Login:
        """A short-lived personal token bound to `station_id`; PersonAuthError (invalid) otherwise. Both audited.

        After repeated failures (per name, and per station) the next attempts wait, and no password is checked
        while they do (`workstation.domain.logins`)."""
        refusal: str | None = None
        with self._db.read() as session:
            waiting = self._login_wait(session, station_id, username)
            if waiting is None:
                found = session.execute(
                    select(User.id, User.password_hash).where(User.username == username, User.origin == REGISTRY_ORIGIN)
                ).first()
        if waiting is not None:
            raise PersonAuthError("invalid", waiting)
        # Hash even for unknown names so timing does not reveal which exist; outside any transaction (no connection
        # held while it runs) and a few at a time (each check takes 64 MiB: a 9 a.m. rush of logins queues here).
        with _PASSWORD_CHECKS:
            try:
                HASHER.verify(found[1] if found is not None else dummy_hash(), password)
                ok = found is not None
            except (VerificationError, InvalidHashError):
                ok = False
        with self._db.transaction() as session:
            user = session.get(User, found[0]) if found is not None else None
            if not ok or user is None or not user.active:
                refusal = f"{username} is disabled at the registry" if ok else "wrong user name or password"
                audit.append(
                    session,
                    station_id=station_id,
                    actor=username if USERNAME.match(username) else "(unknown)",
                    action="person.login_refused",
                    entity="user",
                    entity_id=user.id if user is not None else "-",
                    payload={"why": "disabled" if ok else "wrong name or password"},
                )
            else:
                token = TOKEN_PREFIX + secrets.token_urlsafe(32)
                now = utcnow()
                row = PersonSession(
                    token_sha256=hash_token(token),
                    user_id=user.id,
                    station_id=station_id,
                    issued_at=now,
                    expires_at=now + self.token_lifetime,
                )
                session.add(row)
                payload: dict[str, object] = {"expires_at": row.expires_at.isoformat()}
                self._audit(session, username, "person.login", user, payload, station_id)
                return Login(token, row.expires_at, person_view(user))
        raise PersonAuthError("invalid", refusal)

    def logout(self, station_id: str, token: str) -> None:
        with self._db.transaction() as session:
            row = session.get(PersonSession, hash_token(token))
            if row is not None and row.station_id == station_id and row.revoked_at is None:
                row.revoked_at = utcnow()

    def verify(self, station_id: str, token: str | None) -> Actor:
        """The person a token stands for, with their roles and grants as the registry holds them now."""
        with self._db.read() as session:
            return self.verify_in(session, station_id, token)

    @staticmethod
    def verify_in(session: Session, station_id: str, token: str | None) -> Actor:
        """`verify` in the caller's transaction: the login and its person in one read."""
        if not token:
            raise PersonAuthError("missing", "this acts for a person: log in and send the personal token")
        digest = hash_token(token)
        found = session.execute(_LOGIN_AND_PERSON, {"digest": digest}).first()
        row, user = found if found is not None else (None, None)
        if row is None or not hmac.compare_digest(row.token_sha256, digest) or row.revoked_at is not None:
            raise PersonAuthError("invalid", "unknown or revoked personal token; log in again")
        if row.station_id != station_id:
            raise PersonAuthError("station", f"the personal token was issued to station {row.station_id}")
        if row.expires_at <= utcnow():
            raise PersonAuthError("expired", "the personal login has expired; log in again")
        if user is None or not user.active:
            raise PersonAuthError("invalid", "the person is disabled at the registry")
        return actor_of(user)

    def logged_in_at(self, session: Session, station_id: str, username: str) -> User | None:
        """The active person `username` if they hold a live login at `station_id` now (they vouch for an op)."""
        user = session.execute(
            select(User).where(User.username == username, User.origin == REGISTRY_ORIGIN, User.active.is_(True))
        ).scalar_one_or_none()
        if user is None:
            return None
        live = session.execute(
            select(PersonSession.token_sha256)
            .where(
                PersonSession.user_id == user.id,
                PersonSession.station_id == station_id,
                PersonSession.revoked_at.is_(None),
                PersonSession.expires_at > utcnow(),
            )
            .limit(1)
        ).first()
        return user if live else None

    # -- internals -------------------------------------------------------------------------------------------

    @staticmethod
    def _person(session: Session, username: str) -> User:
        user = session.execute(
            select(User).where(User.username == username, User.origin == REGISTRY_ORIGIN)
        ).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no person '{username[:64]}' at the registry; add one with 'registry user add'")
        return user

    def _audit(
        self,
        session: Session,
        actor: str,
        action: str,
        user: User,
        payload: dict[str, object],
        station_id: str | None = None,
    ) -> None:
        audit.append(
            session,
            station_id=station_id or self._station,
            actor=actor,
            action=action,
            entity="user",
            entity_id=user.id,
            payload={"username": user.username, **payload},
        )
