"""The desk's tables (SQLAlchemy 2). Ids are UUIDv7 strings made where the row is born."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workstation.store.ids import new_id
from workstation.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A partial index names its predicate once, as `sqlite_where`: `store.db` gives PostgreSQL engines the same one, so
# a desk on SQLite never loads the PostgreSQL dialect.
class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unit: Mapped[str | None] = mapped_column(String(32))  # the district office it belongs to (R17 records)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = _id()
    # Desk users are 2-32 characters; the registry's record of a desk's clerk is `name@STATION` (up to 65).
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(100), default="")  # space-separated UserRole values
    can_review_online: Mapped[bool] = mapped_column(Boolean, default=False)
    can_review_offline: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unit: Mapped[str | None] = mapped_column(String(32))  # the district office a registry person works for
    # desk: a user of this desk; registry: a person provisioned at the registry (on a desk, the copy kept from
    # their last login there: roles, grants and a password verifier for logging in while offline).
    origin: Mapped[str] = mapped_column(String(16), default="desk", server_default="desk")


class PersonSession(Base):
    """A person's short-lived login at the registry, bound to the station they logged in at (token as a digest)."""

    __tablename__ = "person_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    station_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("station_id", "number"),
        # 受理号 are unique city-wide (they carry their station's prefix; the registry refuses any other).
        Index("ix_dossiers_number", "number", unique=True),
        Index("ix_dossiers_stage_status", "stage", "status"),
        # The review pool in R15 order, per R14 class: the claim reads the first unlocked row of this index.
        # Partial: returned and rejected dossiers stay at REVIEW for good and would be scanned on every claim.
        Index(
            "ix_dossiers_pool_open",
            "digitized",
            "applicant_kind",
            "applied_at",
            "id",
            sqlite_where=text("stage = 'REVIEW' AND status IN ('submitted', 'in_review')"),
        ),
        # The dossiers offered first to the reviewer who returned them (every claim looks for its own).
        Index(
            "ix_dossiers_preferred",
            "preferred_reviewer_id",
            sqlite_where=text("preferred_reviewer_id IS NOT NULL"),
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[str] = _id()
    number: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"))
    business_code: Mapped[str] = mapped_column(String(40))
    registration_type: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    applicant_kind: Mapped[str] = mapped_column(String(16))
    digitized: Mapped[bool] = mapped_column(Boolean)
    hall_mode: Mapped[str] = mapped_column(String(16))
    stage_plan: Mapped[str] = mapped_column(String(100))  # space-separated stages, fixed at creation
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Review (issue 5). `fence` grows by one with every new lease of this dossier; a decision must carry the
    # current one. `lease_expires_at` mirrors the active lease so the pool query needs no join.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 受理: the time-limit clock starts here
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 登簿
    registered_by: Mapped[str | None] = mapped_column(String(36))  # 登簿人 (user id)
    # After 补正: offered first to the reviewer who returned it, until this time (then to the pool).
    preferred_reviewer_id: Mapped[str | None] = mapped_column(String(36))
    preferred_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A desk with a registry: the registry's clock (R19) of this dossier as last mirrored from the change feed
    # (acceptance, pauses, stop, and the registry's time of the entry); None until the first one arrives.
    clock_mirror: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Captured away from the hall (R8–R12): who witnessed the applicants' signing and how (domain/channels.py).
    signing: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    parties: Mapped[list[Party]] = relationship(
        back_populates="dossier", order_by="Party.position", cascade="all, delete-orphan"
    )
    slots: Mapped[list[MaterialSlot]] = relationship(
        back_populates="dossier", order_by="MaterialSlot.position", cascade="all, delete-orphan"
    )
    pages: Mapped[list[Page]] = relationship(
        back_populates="dossier", order_by="Page.position", cascade="all, delete-orphan"
    )


class Party(Base):
    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("dossier_id", "key"),)

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(16))  # p1, p2… stable within the dossier
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    id_type: Mapped[str | None] = mapped_column(String(16))  # id_number | uscc | other
    id_value: Mapped[str | None] = mapped_column(String(64))

    dossier: Mapped[Dossier] = relationship(back_populates="parties")


class MaterialSlot(Base):
    __tablename__ = "material_slots"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    material: Mapped[str] = mapped_column(String(8))
    accepts: Mapped[list[str]] = mapped_column(JSON, default=list)
    party_key: Mapped[str | None] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean)
    satisfied: Mapped[bool] = mapped_column(Boolean, default=False)
    waived: Mapped[bool] = mapped_column(Boolean, default=False)
    waiver_reason: Mapped[str | None] = mapped_column(Text)
    waived_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))

    dossier: Mapped[Dossier] = relationship(back_populates="slots")


class IntakeFile(Base):
    """One file taken into a dossier (from the hot folder or `intake add`): its blob is the file as scanned.

    Unique per dossier and content, so the same scan can never be attached twice, whatever crashes.
    `moved_at` is set once the source left the inbox: a file still there with a row but no `moved_at` is
    the remnant of a crash between commit and move, not a second delivery.
    """

    __tablename__ = "intake_files"
    __table_args__ = (UniqueConstraint("dossier_id", "sha256"),)

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(500))  # path relative to the inbox, or the name given
    size: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[str | None] = mapped_column(ForeignKey("material_slots.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_id: Mapped[str | None] = mapped_column(ForeignKey("intake_files.id", ondelete="CASCADE"), index=True)
    file_page: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # 1-based, of a multi-page file
    source_name: Mapped[str] = mapped_column(String(255), default="")
    media_type: Mapped[str] = mapped_column(String(64), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    ocr_status: Mapped[str] = mapped_column(String(16), default="none")
    ocr_text: Mapped[str | None] = mapped_column(Text)
    material_guess: Mapped[str | None] = mapped_column(String(8))
    material_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_lines: Mapped[list[Any] | None] = mapped_column(JSON)  # [[text, [l, t, r, b], confidence], …]
    # How the material was decided: "title", "keywords", "continued" (a later page of a titled document), "clerk".
    material_basis: Mapped[str | None] = mapped_column(String(12))
    slot_by_clerk: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    ocr_engine: Mapped[str | None] = mapped_column(String(20))
    ocr_seconds: Mapped[float | None] = mapped_column(Float)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dossier: Mapped[Dossier] = relationship(back_populates="pages")


class OcrJob(Base):
    """A page waiting for, or done with, OCR; persisted so a crash resumes the queue."""

    __tablename__ = "ocr_jobs"

    id: Mapped[str] = _id()
    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued reading done failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeskState(Base):
    """Small settings the desk keeps between runs (the active dossier the hot folder fills)."""

    __tablename__ = "desk_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class Field(Base):
    __tablename__ = "fields"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    page_id: Mapped[str | None] = mapped_column(ForeignKey("pages.id", ondelete="SET NULL"))
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    valid: Mapped[bool | None] = mapped_column(Boolean)
    box: Mapped[list[Any] | None] = mapped_column(JSON)
    confirmed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who set the value: None = read by OCR (confirmed_by, if set, confirmed it as read); "clerk" or "reviewer"
    # = typed by that person (confirmed_by names them).
    source: Mapped[str | None] = mapped_column(String(12))


class Finding(Base):
    __tablename__ = "findings"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))  # info | warning | error
    message: Mapped[str] = mapped_column(Text)
    page_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """One link of a hash chain; `hash` covers `prev_hash` and every other column (keyed: see services.audit).

    `seq` orders all events of the database; `chain` and `link` place the event in its chain (a desk keeps one
    chain, "main", where link = seq; the registry one per station)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("uq_audit_events_chain_link", "chain", "link", unique=True),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain: Mapped[str] = mapped_column(String(32), default="main", server_default="main")
    link: Mapped[int] = mapped_column(Integer, default=lambda ctx: ctx.get_current_parameters()["seq"])
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    station_id: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # "sha256": a link written before the chain had a key (plain digest); "hmac-sha256": keyed, and no plain link
    # may follow a keyed one.
    alg: Mapped[str] = mapped_column(String(16), default="sha256", server_default="sha256")
    os_user: Mapped[str | None] = mapped_column(String(64))  # the operating-system account the process ran as
    interface: Mapped[str | None] = mapped_column(String(16))  # tui | cli | sync | registry | intake | …
    rows: Mapped[str | None] = mapped_column(Text)  # canonical JSON: digests of the audited rows its transaction left


class AuditHead(Base):
    """A chain's last link (`seq` is its link number), updated with each append: deleting the newest events breaks
    the match."""

    __tablename__ = "audit_head"

    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class OutboxOp(Base):
    __tablename__ = "outbox_ops"
    __table_args__ = (UniqueConstraint("station_id", "seq"),)

    op_id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    base_version: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(64))  # who made the change on this desk (sent with the op)
    # What the change meant here (stage and status after it), shown beside the registry's side of a conflict;
    # never sent: the registry decides those.
    intent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    server_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 500s answered to it alone
    # For a conflict: the dossier as the registry holds it (version, stage, status), shown beside the desk's op.
    remote: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncCursor(Base):
    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Counter(Base):
    """Gap-free sequences (受理号 per station and year, outbox sequence per station)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


# -- review, QC, time limits, evaluations (issue 5) ----------------------------------------------------------------


class Assignment(Base):
    """A lease of one dossier to one reviewer. At most one is active per dossier (a partial unique index)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "uq_assignments_active_dossier",
            "dossier_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
        ),
        Index("ix_assignments_reviewer_state", "reviewer_id", "state"),
    )

    id: Mapped[str] = _id()
    lease_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[str] = mapped_column(String(32))  # the desk holding the lease
    fence: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="active")  # active decided released expired ended
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Decision(Base):
    """A reviewer's decision as received: applied, or refused as a conflict (kept, never silently lost)."""

    __tablename__ = "decisions"

    id: Mapped[str] = _id()
    op_id: Mapped[str | None] = mapped_column(String(36), unique=True)  # idempotency key: a replay gets this row
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[str | None] = mapped_column(ForeignKey("assignments.id"))
    lease_id: Mapped[str | None] = mapped_column(String(36))
    fence: Mapped[int | None] = mapped_column(Integer)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    station_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # approve return reject register
    outcome: Mapped[str] = mapped_column(String(12))  # applied | conflict
    conflict: Mapped[str | None] = mapped_column(Text)  # why it was refused
    reason_code: Mapped[str | None] = mapped_column(String(40))  # 不予登记 reason
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # 补正: the complete list
    note: Mapped[str] = mapped_column(Text, default="")
    stage_before: Mapped[str] = mapped_column(String(20))
    status_before: Mapped[str] = mapped_column(String(20))
    stage_after: Mapped[str | None] = mapped_column(String(20))
    status_after: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # this database's clock
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the desk's clock: recorded, not trusted
    seconds: Mapped[float | None] = mapped_column(Float)  # from claim to decision
    # 补正: what the dossier held when it was returned (page ids, field values), so a resubmission can be
    # checked item by item against it.
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SupplementAnswer(Base):
    """A clerk's note on one item of a 补正 notice: how it was addressed when no page or field shows it."""

    __tablename__ = "supplement_answers"
    __table_args__ = (UniqueConstraint("decision_id", "item"),)

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[str] = mapped_column(String(36))
    item: Mapped[int] = mapped_column(Integer)  # the item's position on the notice, from 1
    note: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(100))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClockPause(Base):
    """A pause of the time-limit clock (R19): 补正 until resubmission, 公告, 实地查看."""

    __tablename__ = "clock_pauses"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # supplement | announcement | site_visit
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    ended_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class QcCheck(Base):
    """A quality inspection of a registered dossier (R3): full for some businesses, sampled for the rest."""

    __tablename__ = "qc_checks"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True)
    basis: Mapped[str] = mapped_column(String(12))  # full | sampled
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending | done
    result: Mapped[str | None] = mapped_column(String(8))  # pass | minor | major
    defects: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    inspector_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Correction(Base):
    """A correction case opened by a major QC error (R4), assigned to a person and audited."""

    __tablename__ = "corrections"

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    qc_check_id: Mapped[str | None] = mapped_column(ForeignKey("qc_checks.id"), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | resolved
    description: Mapped[str] = mapped_column(Text)
    assigned_to: Mapped[str] = mapped_column(ForeignKey("users.id"))
    opened_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")


class Evaluation(Base):
    """An applicant's service evaluation (评价) of a dossier; it counts for its clerk and reviewer (R17)."""

    __tablename__ = "evaluations"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[str] = _id()
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)  # 1 非常不满意 … 5 非常满意
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="window")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- the registry's side of sync (issue 6); desks have these tables too, empty ---------------------------------------


class RegistryStation(Base):
    """A desk allowed to sync: its token is stored as a SHA-256 digest (tokens are 256-bit random)."""

    __tablename__ = "registry_stations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StationSeq(Base):
    """The last op sequence number the registry holds from a station (applied, conflicted or skipped)."""

    __tablename__ = "station_seqs"

    station_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class AppliedOp(Base):
    """Each op the registry received, once: a replay returns this row's result."""

    __tablename__ = "applied_ops"
    __table_args__ = (UniqueConstraint("station_id", "seq"),)

    op_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(12))  # applied | conflict | skipped
    code: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)
    desk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the desk's clock, recorded only
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncConflict(Base):
    """An op refused because the registry had moved on (stale version or fence): kept, shown, never lost."""

    __tablename__ = "sync_conflicts"

    id: Mapped[str] = _id()
    station_id: Mapped[str] = mapped_column(String(32), index=True)
    op_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    base_version: Mapped[int | None] = mapped_column(Integer)
    current_version: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeRecord(Base):
    """The registry's change feed, in commit order: a reader's cursor never passes a change that commits later.

    On PostgreSQL `seq` is the writing transaction's id shifted left by 20 bits plus the change's place in it
    (services: sync.server.registry); on SQLite, where writers take turns, a gap-free counter."""

    __tablename__ = "change_feed"
    __table_args__ = (
        Index("ix_change_feed_audience_seq", "audience", "seq"),
        Index("ix_change_feed_audience2_seq", "audience2", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    station_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who may read it: the dossier's own station and the station holding (or that held) its lease; a station sees
    # its own dossiers and its people's leases, not the city's.
    audience: Mapped[str | None] = mapped_column(String(32))
    audience2: Mapped[str | None] = mapped_column(String(32))


class WitnessedHead(Base):
    """A desk's audit chain head as the registry received it at a sync: each station's head history.

    `witnessed` heads only move forward (a higher seq; at the same seq, the same hash); a head that went back or
    changed is kept as `refused`, with why: evidence that the desk's chain was cut short, wiped or rewritten."""

    __tablename__ = "witnessed_heads"
    __table_args__ = (Index("ix_witnessed_heads_station_status_seq", "station_id", "status", "seq"),)

    id: Mapped[str] = _id()
    station_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # witnessed | refused
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # the registry's clock, first received
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # the same head sent again


# -- stages 3 and 4: the register, fees and payment, delivery (issue 18) --------------------------------------------


class RegisterEntry(Base):
    """One entry of the register (不动产登记簿) of a unit, written by 登簿 or entered by order (查封, 异议, 预告).

    Entries are never edited in place: a change closes the entry (`state` closed, `closed_by`) and opens its new
    version (`amends_id`), so the register keeps its history. A certificate or proof number is allocated once,
    at the registry, gap-free per year and kind (Counter `cert:KIND:YEAR`)."""

    __tablename__ = "register_entries"
    __table_args__ = (
        Index("ix_register_entries_unit_state", "unit_number", "state"),
        Index("ix_register_entries_cert_number", "cert_number", unique=True),
    )

    id: Mapped[str] = _id()
    unit_number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # ownership | mortgage | seizure | objection | advance
    state: Mapped[str] = mapped_column(String(10), default="current")  # current | closed
    dossier_id: Mapped[str | None] = mapped_column(String(36), index=True)  # None: entered by order
    business_code: Mapped[str | None] = mapped_column(String(40))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # EntryFacts as JSON: holders, use, area, amount…
    cert_kind: Mapped[str | None] = mapped_column(String(12))  # certificate | proof
    cert_number: Mapped[str | None] = mapped_column(String(80))
    amends_id: Mapped[str | None] = mapped_column(String(36))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(64))  # user name of the 登簿人 (or of who entered the order)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))  # the dossier number or the order that closed it


class Charge(Base):
    """What a dossier owes (R6), assessed from the fee schedule at 受理, and its payment once made."""

    __tablename__ = "charges"

    dossier_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    exemptions: Mapped[list[str]] = mapped_column(JSON, default=list)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_fen: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    method: Mapped[str | None] = mapped_column(String(10))  # qr | online | cash
    reference: Mapped[str | None] = mapped_column(String(64))  # transaction reference or cash receipt number
    receipt_number: Mapped[str | None] = mapped_column(String(40), unique=True)  # 票据号, allocated at payment
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryRow(Base):
    """How the certificate or proof reaches the applicant (R10–R11): collected, or sent by free EMS."""

    __tablename__ = "deliveries"

    dossier_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)  # domain.delivery.Delivery as JSON
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{at, by, status, …}]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- partner platforms' online applications (网上申请, 网上预审; R13) --------------------------------------------------


class RegistryPartner(Base):
    """A partner platform allowed to file online applications (一网通办 portal, a bank, a notary, a court): its
    token is stored as a SHA-256 digest, like a station's; it is never a station token."""

    __tablename__ = "registry_partners"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # BANK-ICBC: the prefix of its dossiers' numbers
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))  # portal | bank | notary | court
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(500))  # where outcomes are POSTed, if anywhere
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PartnerApplication(Base):
    """One online application as a partner filed it: its dossier at the registry, and where pre-review stands.

    Unique per partner and reference (the partner's own id of the application): the same body again is the same
    application; `body_sha256` tells a replay from a different application under a reused reference."""

    __tablename__ = "partner_applications"
    __table_args__ = (
        UniqueConstraint("partner_id", "reference"),
        Index("ix_partner_applications_status_due", "status", "due_at"),
    )

    id: Mapped[str] = _id()
    partner_id: Mapped[str] = mapped_column(ForeignKey("registry_partners.id"))
    reference: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    dossier_id: Mapped[str] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    # received → reading (OCR) → pre_review → accepted (受理) | returned (补正) | refused (不予受理)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # pre-review is due by then (partner_prereview_hours)
    declared: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field values the applicant typed
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the complete 补正 list of a return
    reason_code: Mapped[str | None] = mapped_column(String(40))  # 不予受理: its reason (domain/data/notices.toml)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(100))  # the pre-reviewer's user name
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))  # the outcome's notice, once rendered (a blob)


class PartnerEvent(Base):
    """An outcome told to a partner, once per decision: one per application and pre-review round (a supplement
    opens the next round); its `id` is the event id partners dedup on.

    The row is also the durable delivery to the partner's callback: pending until a 2xx answer, retried with
    backoff; `claimed_until` keeps two registry processes from sending it at the same time."""

    __tablename__ = "partner_events"
    __table_args__ = (
        UniqueConstraint("application_id", "round", name="uq_partner_events_application_round"),
        Index("ix_partner_events_partner_seq", "partner_id", "seq"),
        Index("ix_partner_events_delivery_next", "delivery", "next_attempt_at"),
    )

    id: Mapped[str] = _id()
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # the partners' feed order (Counter partner_events)
    partner_id: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[str] = mapped_column(ForeignKey("partner_applications.id"))
    reference: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(12))  # accepted | returned | refused
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # the pre-review round decided
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the callback and the feed carry
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivery: Mapped[str] = mapped_column(String(12))  # pending | delivered | none (the partner has no callback)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class PartnerSupplement(Base):
    """A partner's answer to a return (补正): what it sent, and the return it answered, kept as the history.

    Unique per application and body digest: the same supplement sent again (a retry) is this one, applied once and
    answered again with `answer`. `round` is the pre-review round it opened (the filing is round 1); the return it
    answered decided the round before."""

    __tablename__ = "partner_supplements"
    __table_args__ = (
        UniqueConstraint("application_id", "body_sha256"),
        UniqueConstraint("application_id", "round", name="uq_partner_supplements_application_round"),
    )

    id: Mapped[str] = _id()
    application_id: Mapped[str] = mapped_column(ForeignKey("partner_applications.id"))
    round: Mapped[int] = mapped_column(Integer)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")  # the partner's
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field values sent with it
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{name, sha256, pages, material}]
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the 补正 list it answered
    return_note: Mapped[str] = mapped_column(Text, default="")  # the pre-reviewer's note on that return
    returned_by: Mapped[str | None] = mapped_column(String(100))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))  # that return's notice, if it was rendered
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)  # the application as the partner was answered
