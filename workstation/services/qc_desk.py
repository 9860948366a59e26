"""How a desk reaches QC (R3–R4): `QcDesk`, the methods the QC screens and `workstation qc` call, and the lookup of
a check or correction case by its dossier's 受理号.

A desk working alone is its own registry and serves `QcDesk` with `QcService` on its database. A desk with a
registry does not keep QC: the registry opens the checks at 登簿 and records the results, so `sync.qc.RegistryQc`
serves `QcDesk` over HTTP once the desk is connected (`workstation.cli_sync.attach_registry`); until then
`NotConnectedQc` stands in and says so, rather than showing the desk's own (empty) tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select

from workstation.domain.permissions import Actor
from workstation.domain.qc import QcResult
from workstation.errors import NotFound, Offline, UsageError
from workstation.services.qc import CorrectionView, QcCheckView
from workstation.store.db import Database
from workstation.store.models import Correction, Dossier, QcCheck


class QcDesk(Protocol):
    """QC as the desk works it; the meaning of each method is `QcService`'s."""

    def pending(self, limit: int = 200) -> list[QcCheckView]: ...

    def checks(
        self, state: str | None = None, *, limit: int = 200, offset: int = 0, pending_first: bool = False
    ) -> list[QcCheckView]: ...

    def count(self) -> dict[str, int]: ...

    def check(self, check_id: str) -> QcCheckView: ...

    def corrections(
        self, state: str | None = None, assigned_to_username: str | None = None, *, limit: int = 500
    ) -> list[CorrectionView]: ...

    def correction(self, correction_id: str) -> CorrectionView: ...

    def record(
        self,
        actor: Actor,
        check_id: str,
        result: QcResult | str,
        *,
        defects: Iterable[str] = (),
        notes: str = "",
        assign_to: str | None = None,
    ) -> QcCheckView: ...

    def resolve_correction(self, actor: Actor, correction_id: str, resolution: str) -> CorrectionView: ...


class NotConnectedQc:
    """A desk with a registry before it is connected to it: QC is the registry's, so every call says so."""

    def _refuse(self) -> Offline:
        return Offline("QC is kept at the registry and this desk is not connected to it yet; try again shortly")

    def pending(self, limit: int = 200) -> list[QcCheckView]:
        raise self._refuse()

    def checks(
        self, state: str | None = None, *, limit: int = 200, offset: int = 0, pending_first: bool = False
    ) -> list[QcCheckView]:
        raise self._refuse()

    def count(self) -> dict[str, int]:
        raise self._refuse()

    def check(self, check_id: str) -> QcCheckView:
        raise self._refuse()

    def corrections(
        self, state: str | None = None, assigned_to_username: str | None = None, *, limit: int = 500
    ) -> list[CorrectionView]:
        raise self._refuse()

    def correction(self, correction_id: str) -> CorrectionView:
        raise self._refuse()

    def record(
        self,
        actor: Actor,
        check_id: str,
        result: QcResult | str,
        *,
        defects: Iterable[str] = (),
        notes: str = "",
        assign_to: str | None = None,
    ) -> QcCheckView:
        raise self._refuse()

    def resolve_correction(self, actor: Actor, correction_id: str, resolution: str) -> CorrectionView:
        raise self._refuse()


def check_id_of(db: Database, ref: str) -> str:
    """The id of the check `ref` names: its own id, or the 受理号 of its dossier (a dossier has at most one)."""
    with db.read() as session:
        found = session.execute(select(QcCheck.id).where(QcCheck.id == ref)).scalar_one_or_none()
        if found is None:
            found = session.execute(
                select(QcCheck.id).join(Dossier, Dossier.id == QcCheck.dossier_id).where(Dossier.number == ref)
            ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no QC check {_shown(ref)}: give a check's id or the 受理号 of a dossier under inspection")
    return found


def correction_id_of(db: Database, ref: str) -> str:
    """The id of the correction case `ref` names: its own id, or the 受理号 of its dossier when it has one case."""
    with db.read() as session:
        found = session.execute(select(Correction.id).where(Correction.id == ref)).scalar_one_or_none()
        if found is not None:
            return found
        cases = list(
            session.execute(
                select(Correction.id)
                .join(Dossier, Dossier.id == Correction.dossier_id)
                .where(Dossier.number == ref)
                .order_by(Correction.opened_at, Correction.id)
            ).scalars()
        )
    if not cases:
        raise NotFound(f"no correction case {_shown(ref)}: give a case's id or the 受理号 of a dossier with one")
    if len(cases) > 1:
        raise UsageError(f"{_shown(ref)} has {len(cases)} correction cases ({', '.join(cases)}); name one by its id")
    return cases[0]


def _shown(text: str) -> str:
    """User input quoted in an error: one line, short."""
    return " ".join(text.split())[:80]
