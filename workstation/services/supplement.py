"""补正 (一次性告知) between a return and the resubmission: what a notice may name, and what answered it.

The reviewer's items must name a material or a field of the dossier; the resubmission must address each one (a
new page in that slot, a changed field, or the clerk's note on the item). The desk checks before it sends; the
registry checks again on what arrives, against what it held when the dossier was returned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workstation.domain.errors import DomainError
from workstation.domain.review import ReturnItem, Snapshot, default_review_rules, items_outside, unaddressed
from workstation.services.views import SupplementItem, SupplementView
from workstation.store.models import Decision, Dossier, Field, Finding, MaterialSlot, Page, SupplementAnswer, User


def snapshot_of(session: Session, dossier: Dossier) -> Snapshot:
    slots = {
        s.id: (s.material, s.party_key)
        for s in session.execute(select(MaterialSlot).where(MaterialSlot.dossier_id == dossier.id)).scalars()
    }
    pages = {
        pid: slots[slot_id]
        for pid, slot_id in session.execute(
            select(Page.id, Page.slot_id).where(Page.dossier_id == dossier.id, Page.deleted.is_(False))
        )
        if slot_id in slots
    }
    values: dict[str, list[str]] = defaultdict(list)
    for key, value in session.execute(select(Field.key, Field.value).where(Field.dossier_id == dossier.id)):
        values[key].append(value or "")
    # An open consistency finding is named by its rule (the reviewer's list suggests them): it is addressed
    # when it is gone or says something else.
    for rule, message in _open_findings(session, dossier.id):
        values[rule].append(message)
    return Snapshot(pages=pages, fields={k: tuple(sorted(v)) for k, v in values.items()})


def _open_findings(session: Session, dossier_id: str) -> list[tuple[str, str]]:
    return [(rule, message or "") for rule, message in session.execute(_OPEN_ERRORS, {"dossier": dossier_id})]


_OPEN_ERRORS = select(Finding.rule, Finding.message).where(
    Finding.dossier_id == bindparam("dossier"), Finding.severity == "error", Finding.resolved.is_(False)
)


def open_errors(session: Session, dossier_id: str) -> list[dict[str, str]]:
    """The open error findings a submission or an approval goes past; recorded with it (who passed over what)."""
    return [{"rule": rule, "message": message} for rule, message in _open_findings(session, dossier_id)]


def check_items(session: Session, dossier: Dossier, items: Sequence[ReturnItem]) -> None:
    """A 补正 item names a material or field of this dossier's checklist; DomainError (all problems) otherwise."""
    slots = session.execute(
        select(MaterialSlot.material, MaterialSlot.party_key).where(MaterialSlot.dossier_id == dossier.id)
    ).all()
    keys = set(session.execute(select(Field.key).where(Field.dossier_id == dossier.id).distinct()).scalars())
    keys |= {rule for rule, _ in _open_findings(session, dossier.id)}
    problems = items_outside(items, [(m, p) for m, p in slots], keys)
    if problems:
        raise DomainError(f"the 补正 list names what {dossier.number} does not have: {'; '.join(problems[:5])}")


def latest_return(session: Session, dossier_id: str) -> Decision | None:
    return session.execute(
        select(Decision)
        .where(Decision.dossier_id == dossier_id, Decision.kind == "return", Decision.outcome == "applied")
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def answers_of(session: Session, decision_id: str) -> dict[int, str]:
    return {
        a.item: a.note
        for a in session.execute(select(SupplementAnswer).where(SupplementAnswer.decision_id == decision_id)).scalars()
    }


def items_of(decision: Decision) -> list[ReturnItem]:
    return [ReturnItem.from_json(i) for i in decision.items or [] if isinstance(i, Mapping)]


def check_addressed(session: Session, dossier: Dossier, extra_answers: Mapping[int, str] | None = None) -> None:
    """Before a resubmission: every item of the last 补正 notice addressed; DomainError naming the rest."""
    decision = latest_return(session, dossier.id)
    if decision is None or decision.baseline is None:
        return  # nothing to hold it against (a return recorded before notices kept their baseline)
    items = items_of(decision)
    answered = set(answers_of(session, decision.id)) | set(extra_answers or {})
    left = unaddressed(items, Snapshot.from_json(decision.baseline), snapshot_of(session, dossier), answered)
    if left:
        listed = "; ".join(f"{n}. {_item_text(items[n - 1])}" for n in left[:10])
        raise DomainError(
            f"{dossier.number}: {len(left)} 补正 item(s) not addressed yet — add a page to the slot, correct the "
            f"field, or note how it was addressed (dossier answer {dossier.number} N --note …): {listed}"
        )


def record_answers(session: Session, dossier: Dossier, decision_id: str, answers: Mapping[int, str], by: str) -> None:
    """Keep the clerk's notes on the notice's items (the registry keeps what the resubmission carried)."""
    have = answers_of(session, decision_id)
    for item, note in answers.items():
        if have.get(item) == note:
            continue
        row = session.execute(
            select(SupplementAnswer).where(SupplementAnswer.decision_id == decision_id, SupplementAnswer.item == item)
        ).scalar_one_or_none()
        if row is None:
            session.add(
                SupplementAnswer(dossier_id=dossier.id, decision_id=decision_id, item=item, note=note, answered_by=by)
            )
        else:
            row.note, row.answered_by = note, by


def prefer_returning_reviewer(session: Session, dossier: Dossier, now: datetime, window: timedelta) -> None:
    """After 补正 the dossier goes first to the reviewer who returned it, for `window` (then to the pool)."""
    decision = latest_return(session, dossier.id)
    if decision is None or window <= timedelta(0):
        dossier.preferred_reviewer_id = dossier.preferred_until = None
        return
    dossier.preferred_reviewer_id, dossier.preferred_until = decision.reviewer_id, now + window


def _item_text(item: ReturnItem) -> str:
    what = " ".join(x for x in (item.material, item.party_key, item.field) if x)
    return f"{what} ({item.problem})" + (f": {item.note}" if item.note else "")


def supplement_view(session: Session, dossier: Dossier) -> SupplementView | None:
    """The last 补正 notice of a dossier with the clerk's answers, for the window (None when never returned)."""
    decision = latest_return(session, dossier.id)
    if decision is None:
        return None
    answers = answers_of(session, decision.id)
    items = items_of(decision)
    is_open = dossier.status == "returned"
    left: set[int] = set()
    if is_open and decision.baseline is not None:
        left = set(unaddressed(items, Snapshot.from_json(decision.baseline), snapshot_of(session, dossier), answers))
    user = session.get(User, decision.reviewer_id)
    problems = default_review_rules().problems
    return SupplementView(
        decision_id=decision.id,
        decided_at=decision.decided_at,
        reviewer=(user.display_name or user.username) if user is not None else None,  # a name the applicant reads
        note=decision.note or "",
        open=is_open,
        items=tuple(
            SupplementItem(
                item=n,
                problem=item.problem,
                problem_label=problems.get(item.problem, item.problem),
                material=item.material,
                party_key=item.party_key,
                field=item.field,
                note=item.note,
                answer=answers.get(n),
                addressed=n not in left,
            )
            for n, item in enumerate(items, 1)
        ),
    )
