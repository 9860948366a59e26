"""Stages and statuses of a dossier: at most four stages (R1), merged in a professional hall (R2).

The stage says where a dossier is in the workflow; the status says what is happening to it there.
`apply` is the only way to move a dossier; every edge it can take is in `STATUS_GRAPH`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from .errors import CatalogueError, IllegalTransition

if TYPE_CHECKING:
    from .catalogue import Business, Catalogue

MAX_STAGES = 4
"""R1: every registration has at most four stages."""


class Stage(StrEnum):
    ACCEPT = "ACCEPT"  # 受理
    REVIEW = "REVIEW"  # 审核
    REGISTER = "REGISTER"  # 登簿制证
    ISSUE = "ISSUE"  # 缴费发证
    REGISTER_ISSUE = "REGISTER_ISSUE"  # 登簿制证 + 缴费发证 in a professional hall (R2)


class Status(StrEnum):
    DRAFT = "draft"  # 预受理: being captured at the window
    SUBMITTED = "submitted"  # waiting for someone to act at its stage
    IN_REVIEW = "in_review"  # claimed by a reviewer
    RETURNED = "returned"  # 补正: back to the applicant with the complete list of what is missing
    REJECTED = "rejected"  # 不予登记
    REGISTERED = "registered"  # 登簿 done: legal effect starts here (民法典 §214)
    ISSUED = "issued"  # certificate or proof handed over
    WITHDRAWN = "withdrawn"  # 撤回 by the applicants before 登簿 (细则 §13)
    REFUSED = "refused"  # 不予受理 at the window, with its written notice (条例 §17)


class HallMode(StrEnum):
    STANDARD = "standard"
    PROFESSIONAL = "professional"  # 不动产专业大厅 (R2)


class Action(StrEnum):
    SUBMIT = "submit"
    CLAIM = "claim"
    RELEASE = "release"
    APPROVE = "approve"
    RETURN = "return"
    RESUBMIT = "resubmit"
    REJECT = "reject"
    REGISTER = "register"
    ISSUE = "issue"
    WITHDRAW = "withdraw"
    REFUSE_INTAKE = "refuse_intake"


CANONICAL_STAGES: tuple[Stage, ...] = (Stage.ACCEPT, Stage.REVIEW, Stage.REGISTER, Stage.ISSUE)
MERGED_STAGES: tuple[Stage, ...] = (Stage.ACCEPT, Stage.REVIEW, Stage.REGISTER_ISSUE)
PROFESSIONAL_MERGE: tuple[str, str] = (Stage.REGISTER.value, Stage.ISSUE.value)
TERMINAL_STATUSES: frozenset[Status] = frozenset({Status.REJECTED, Status.ISSUED, Status.WITHDRAWN, Status.REFUSED})


def validate_stages(names: object, where: str) -> tuple[str, ...]:
    """Check a configured stage list and return it as a tuple; `where` names its source in errors.

    Accepted: the four canonical stages in order, or ACCEPT, REVIEW, REGISTER_ISSUE. Each stage is needed
    by the stage machine (登簿 is where a registration takes effect), so none may be left out.
    """
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise CatalogueError(f"{where}: stages must be a list of stage names")
    stages = tuple(str(n) for n in names)
    if len(stages) > MAX_STAGES:
        raise CatalogueError(
            f"{where}: {len(stages)} stages ({', '.join(stages)}) but at most {MAX_STAGES} are allowed (R1)"
        )
    known = {s.value for s in Stage}
    for name in stages:
        if name not in known:
            raise CatalogueError(f"{where}: unknown stage '{name}'; known: {', '.join(s.value for s in Stage)}")
    for name in stages:
        if stages.count(name) > 1:
            raise CatalogueError(f"{where}: stage '{name}' is listed twice")
    merged = Stage.REGISTER_ISSUE.value in stages
    if merged and (Stage.REGISTER.value in stages or Stage.ISSUE.value in stages):
        raise CatalogueError(f"{where}: REGISTER_ISSUE replaces REGISTER and ISSUE; list one or the other")
    expected = tuple(s.value for s in (MERGED_STAGES if merged else CANONICAL_STAGES))
    for name in expected:
        if name not in stages:
            raise CatalogueError(f"{where}: stage '{name}' is missing; expected {' → '.join(expected)}")
    if stages != expected:
        raise CatalogueError(
            f"{where}: stages {', '.join(stages)} are not in the canonical order {' → '.join(expected)}"
        )
    return stages


def validate_professional_merge(pair: object, where: str) -> tuple[str, str]:
    if not isinstance(pair, list | tuple) or tuple(pair) != PROFESSIONAL_MERGE:
        raise CatalogueError(
            f'{where}: professional_merge must be ["REGISTER", "ISSUE"] (R2 merges 登簿制证 and 缴费发证)'
        )
    return PROFESSIONAL_MERGE


def stage_plan(
    catalogue_or_stages: Catalogue | Sequence[str],
    hall_mode: HallMode | str,
    *,
    business: Business | None = None,
) -> tuple[Stage, ...]:
    """The stages a dossier goes through: the workflow's four, or three in a professional hall (R2).

    `business`, when given and carrying its own stage list, overrides the catalogue's workflow.
    """
    if isinstance(catalogue_or_stages, str):
        raise CatalogueError("stage_plan: expected a catalogue or a list of stage names, got a string")
    if isinstance(catalogue_or_stages, Sequence):
        names = validate_stages(list(catalogue_or_stages), "stage plan")
    else:
        names = catalogue_or_stages.stages
    if business is not None and business.stages is not None:
        names = validate_stages(list(business.stages), f"business {business.code}")
    plan = tuple(Stage(name) for name in names)
    if HallMode(hall_mode) is HallMode.PROFESSIONAL and plan == CANONICAL_STAGES:
        return MERGED_STAGES
    return plan


@dataclass(frozen=True)
class DossierState:
    stage: Stage
    status: Status


def initial_state() -> DossierState:
    """A new dossier: 预受理 at the accepting window."""
    return DossierState(Stage.ACCEPT, Status.DRAFT)


_Move = Literal["stay", "next"]


@dataclass(frozen=True)
class _Rule:
    action: Action
    sources: frozenset[Status]
    at: frozenset[Stage] | None  # None: at any stage of the plan
    target: Status
    move: _Move


def _rule(action: Action, sources: set[Status], at: set[Stage] | None, target: Status, move: _Move = "stay") -> _Rule:
    return _Rule(action, frozenset(sources), None if at is None else frozenset(at), target, move)


_BEFORE_REGISTRATION = {Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED}

_RULES: tuple[_Rule, ...] = (
    _rule(Action.SUBMIT, {Status.DRAFT}, {Stage.ACCEPT}, Status.SUBMITTED, "next"),
    _rule(Action.REFUSE_INTAKE, {Status.DRAFT}, {Stage.ACCEPT}, Status.REFUSED),
    _rule(Action.CLAIM, {Status.SUBMITTED}, {Stage.REVIEW}, Status.IN_REVIEW),
    _rule(Action.RELEASE, {Status.IN_REVIEW}, None, Status.SUBMITTED),
    _rule(Action.RETURN, {Status.IN_REVIEW}, {Stage.REVIEW}, Status.RETURNED),
    _rule(Action.RESUBMIT, {Status.RETURNED}, {Stage.REVIEW}, Status.SUBMITTED),
    _rule(Action.REJECT, {Status.IN_REVIEW}, {Stage.REVIEW}, Status.REJECTED),
    _rule(Action.APPROVE, {Status.IN_REVIEW}, {Stage.REVIEW}, Status.SUBMITTED, "next"),
    _rule(Action.REGISTER, {Status.SUBMITTED}, {Stage.REGISTER}, Status.REGISTERED, "next"),
    _rule(Action.REGISTER, {Status.SUBMITTED}, {Stage.REGISTER_ISSUE}, Status.REGISTERED),
    _rule(Action.ISSUE, {Status.REGISTERED}, {Stage.ISSUE, Stage.REGISTER_ISSUE}, Status.ISSUED),
    # 撤回 is possible only before 登簿 (细则 §13).
    _rule(Action.WITHDRAW, _BEFORE_REGISTRATION, None, Status.WITHDRAWN),
)


def _status_graph() -> Mapping[Status, frozenset[Status]]:
    edges: dict[Status, set[Status]] = {status: set() for status in Status}
    for rule in _RULES:
        for source in rule.sources:
            edges[source].add(rule.target)
    return MappingProxyType({status: frozenset(targets) for status, targets in edges.items()})


STATUS_GRAPH: Mapping[Status, frozenset[Status]] = _status_graph()
"""Every status edge `apply` can take; terminal statuses have none."""


def apply(state: DossierState, action: Action | str, plan: Sequence[Stage]) -> DossierState:
    """The state after `action`, or IllegalTransition when the stage machine does not allow it."""
    act = Action(action)
    plan = tuple(plan)
    if state.stage in plan:
        for rule in _RULES:
            if rule.action is act and state.status in rule.sources and (rule.at is None or state.stage in rule.at):
                return DossierState(_target_stage(state.stage, rule.move, plan), rule.target)
    raise IllegalTransition(f"cannot {act.value} a dossier that is {state.status.value} at {state.stage.value}")


def _target_stage(stage: Stage, move: _Move, plan: tuple[Stage, ...]) -> Stage:
    if move == "stay":
        return stage
    index = plan.index(stage) + 1
    if index >= len(plan):
        raise IllegalTransition(f"stage {stage.value} is the last of the plan {', '.join(plan)}")
    return plan[index]


def allowed_actions(state: DossierState, plan: Sequence[Stage]) -> frozenset[Action]:
    """The actions `apply` accepts from `state` under `plan`."""
    allowed = set()
    for action in Action:
        try:
            apply(state, action, plan)
        except IllegalTransition:
            continue
        allowed.add(action)
    return frozenset(allowed)
