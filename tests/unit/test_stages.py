"""The stage machine: at most four stages (R1), three in a professional hall (R2), and only legal moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain import (
    STATUS_GRAPH,
    TERMINAL_STATUSES,
    Action,
    CatalogueError,
    DossierState,
    HallMode,
    IllegalTransition,
    Stage,
    Status,
    allowed_actions,
    apply,
    default_catalogue,
    initial_state,
    stage_plan,
)

STANDARD = stage_plan(default_catalogue(), HallMode.STANDARD)
PROFESSIONAL = stage_plan(default_catalogue(), HallMode.PROFESSIONAL)
HAPPY_PATH = [Action.SUBMIT, Action.CLAIM, Action.APPROVE, Action.REGISTER, Action.ISSUE]


def run(actions: list[Action], plan: tuple[Stage, ...]) -> DossierState:
    state = initial_state()
    for action in actions:
        state = apply(state, action, plan)
    return state


def test_standard_plan_has_the_four_stages_in_order() -> None:
    assert STANDARD == (Stage.ACCEPT, Stage.REVIEW, Stage.REGISTER, Stage.ISSUE)


def test_professional_hall_merges_register_and_issue_into_three_stages() -> None:
    assert PROFESSIONAL == (Stage.ACCEPT, Stage.REVIEW, Stage.REGISTER_ISSUE)


def test_stage_plan_from_a_list_refuses_five_stages() -> None:
    with pytest.raises(CatalogueError, match="R1"):
        stage_plan(["ACCEPT", "REVIEW", "REGISTER", "CERTIFY", "ISSUE"], HallMode.STANDARD)


def test_stage_plan_from_a_list_is_merged_in_a_professional_hall() -> None:
    assert stage_plan(["ACCEPT", "REVIEW", "REGISTER", "ISSUE"], "professional") == PROFESSIONAL


def test_new_dossier_is_a_draft_at_the_accepting_window() -> None:
    assert initial_state() == DossierState(Stage.ACCEPT, Status.DRAFT)
    assert allowed_actions(initial_state(), STANDARD) == {Action.SUBMIT, Action.WITHDRAW, Action.REFUSE_INTAKE}


def test_standard_dossier_goes_through_all_four_stages() -> None:
    state = initial_state()
    visited = [(state.stage, state.status)]
    for action in HAPPY_PATH:
        state = apply(state, action, STANDARD)
        visited.append((state.stage, state.status))
    assert visited == [
        (Stage.ACCEPT, Status.DRAFT),
        (Stage.REVIEW, Status.SUBMITTED),
        (Stage.REVIEW, Status.IN_REVIEW),
        (Stage.REGISTER, Status.SUBMITTED),
        (Stage.ISSUE, Status.REGISTERED),
        (Stage.ISSUE, Status.ISSUED),
    ]


def test_professional_dossier_goes_from_draft_to_issued_through_register_issue() -> None:
    state = initial_state()
    visited = [(state.stage, state.status)]
    for action in HAPPY_PATH:
        state = apply(state, action, PROFESSIONAL)
        visited.append((state.stage, state.status))
    assert visited == [
        (Stage.ACCEPT, Status.DRAFT),
        (Stage.REVIEW, Status.SUBMITTED),
        (Stage.REVIEW, Status.IN_REVIEW),
        (Stage.REGISTER_ISSUE, Status.SUBMITTED),
        (Stage.REGISTER_ISSUE, Status.REGISTERED),
        (Stage.REGISTER_ISSUE, Status.ISSUED),
    ]
    assert {stage for stage, _ in visited} == set(PROFESSIONAL)


def test_returned_dossier_is_resubmitted_to_review() -> None:
    returned = run([Action.SUBMIT, Action.CLAIM, Action.RETURN], STANDARD)
    assert returned == DossierState(Stage.REVIEW, Status.RETURNED)
    assert apply(returned, Action.RESUBMIT, STANDARD) == DossierState(Stage.REVIEW, Status.SUBMITTED)


def test_released_dossier_goes_back_to_the_pool_at_the_same_stage() -> None:
    claimed = run([Action.SUBMIT, Action.CLAIM], STANDARD)
    assert apply(claimed, Action.RELEASE, STANDARD) == DossierState(Stage.REVIEW, Status.SUBMITTED)


def test_rejected_dossier_stays_at_review() -> None:
    assert run([Action.SUBMIT, Action.CLAIM, Action.REJECT], STANDARD) == DossierState(Stage.REVIEW, Status.REJECTED)


@pytest.mark.parametrize(
    "before",
    [
        [],
        [Action.SUBMIT],
        [Action.SUBMIT, Action.CLAIM],
        [Action.SUBMIT, Action.CLAIM, Action.RETURN],
        [Action.SUBMIT, Action.CLAIM, Action.APPROVE],
    ],
    ids=["draft", "submitted", "in_review", "returned", "approved_awaiting_registration"],
)
def test_withdraw_is_allowed_before_registration(before: list[Action]) -> None:
    state = run(before, STANDARD)
    assert apply(state, Action.WITHDRAW, STANDARD) == DossierState(state.stage, Status.WITHDRAWN)


@pytest.mark.parametrize(
    ("before", "action"),
    [
        ([], Action.APPROVE),
        ([Action.SUBMIT], Action.SUBMIT),
        ([Action.SUBMIT], Action.APPROVE),
        ([Action.SUBMIT, Action.CLAIM], Action.CLAIM),
        ([Action.SUBMIT, Action.CLAIM], Action.REGISTER),
        ([Action.SUBMIT, Action.CLAIM, Action.APPROVE], Action.CLAIM),
        ([Action.SUBMIT, Action.CLAIM, Action.APPROVE], Action.ISSUE),
        ([Action.SUBMIT, Action.CLAIM, Action.APPROVE, Action.REGISTER], Action.WITHDRAW),
        ([Action.SUBMIT, Action.CLAIM, Action.APPROVE, Action.REGISTER], Action.REGISTER),
        ([Action.SUBMIT, Action.CLAIM, Action.RETURN], Action.APPROVE),
    ],
)
def test_illegal_transition_is_refused(before: list[Action], action: Action) -> None:
    state = run(before, STANDARD)
    with pytest.raises(IllegalTransition):
        apply(state, action, STANDARD)


def test_illegal_transition_message_names_action_status_and_stage() -> None:
    with pytest.raises(IllegalTransition) as caught:
        apply(initial_state(), Action.APPROVE, STANDARD)
    assert str(caught.value) == "cannot approve a dossier that is draft at ACCEPT"


def test_withdraw_after_registration_in_a_professional_hall_is_refused() -> None:
    registered = run(HAPPY_PATH[:4], PROFESSIONAL)
    assert registered.status is Status.REGISTERED
    with pytest.raises(IllegalTransition, match="cannot withdraw a dossier that is registered"):
        apply(registered, Action.WITHDRAW, PROFESSIONAL)


def test_state_at_a_stage_outside_the_plan_is_refused() -> None:
    awaiting = DossierState(Stage.REGISTER, Status.SUBMITTED)
    with pytest.raises(IllegalTransition):
        apply(awaiting, Action.REGISTER, PROFESSIONAL)


@pytest.mark.parametrize(
    "before",
    [
        [Action.WITHDRAW],
        [Action.SUBMIT, Action.CLAIM, Action.REJECT],
        HAPPY_PATH,
    ],
    ids=["withdrawn", "rejected", "issued"],
)
@pytest.mark.parametrize("plan", [STANDARD, PROFESSIONAL], ids=["standard", "professional"])
def test_nothing_is_allowed_from_a_terminal_status(before: list[Action], plan: tuple[Stage, ...]) -> None:
    state = run(before, plan)
    assert state.status in TERMINAL_STATUSES
    assert allowed_actions(state, plan) == frozenset()
    for action in Action:
        with pytest.raises(IllegalTransition):
            apply(state, action, plan)


# The status edges the notice and 细则 allow, written out independently of the machine's rule table.
EXPECTED_GRAPH = {
    Status.DRAFT: {Status.SUBMITTED, Status.WITHDRAWN, Status.REFUSED},
    Status.SUBMITTED: {Status.IN_REVIEW, Status.REGISTERED, Status.WITHDRAWN},
    Status.IN_REVIEW: {Status.SUBMITTED, Status.RETURNED, Status.REJECTED, Status.WITHDRAWN},
    Status.RETURNED: {Status.SUBMITTED, Status.WITHDRAWN},
    Status.REGISTERED: {Status.ISSUED},
    Status.REJECTED: set(),
    Status.ISSUED: set(),
    Status.WITHDRAWN: set(),
    Status.REFUSED: set(),
}


def test_status_graph_is_exactly_the_allowed_edges() -> None:
    assert dict(STATUS_GRAPH) == EXPECTED_GRAPH
    assert {status for status, targets in EXPECTED_GRAPH.items() if not targets} == TERMINAL_STATUSES


def check_step(state: DossierState, action: Action, plan: tuple[Stage, ...], registered: bool) -> DossierState:
    """Apply one action if the machine allows it and check the invariants; return the new state."""
    allowed = allowed_actions(state, plan)
    try:
        after = apply(state, action, plan)
    except IllegalTransition:
        assert action not in allowed
        return state
    assert action in allowed
    assert after.status in EXPECTED_GRAPH[state.status]
    assert after.stage in plan
    assert plan.index(after.stage) >= plan.index(state.stage)
    if registered:
        assert after.status is not Status.WITHDRAWN
    return after


PLANS = st.sampled_from([STANDARD, PROFESSIONAL])


@given(plan=PLANS, actions=st.lists(st.sampled_from(list(Action)), max_size=40))
def test_random_action_sequences_stay_on_the_status_graph(plan: tuple[Stage, ...], actions: list[Action]) -> None:
    state, registered = initial_state(), False
    for action in actions:
        state = check_step(state, action, plan, registered)
        registered = registered or state.status in {Status.REGISTERED, Status.ISSUED}


@given(plan=PLANS, data=st.data())
def test_random_walks_through_allowed_actions_stay_on_the_status_graph(
    plan: tuple[Stage, ...], data: st.DataObject
) -> None:
    # Mostly allowed actions, so that the walk reaches registration and the terminal statuses;
    # every step also tries one arbitrary action, which must be refused or obey the same rules.
    state, registered = initial_state(), False
    for _ in range(30):
        stray = data.draw(st.sampled_from(list(Action)))
        state = check_step(state, stray, plan, registered)
        registered = registered or state.status in {Status.REGISTERED, Status.ISSUED}
        allowed = sorted(allowed_actions(state, plan))
        if not allowed:
            assert state.status in TERMINAL_STATUSES
            break
        state = check_step(state, data.draw(st.sampled_from(allowed)), plan, registered)
        registered = registered or state.status in {Status.REGISTERED, Status.ISSUED}


def test_a_window_refuses_only_a_draft_and_the_refusal_is_final() -> None:
    refused = apply(initial_state(), Action.REFUSE_INTAKE, STANDARD)
    assert refused == DossierState(Stage.ACCEPT, Status.REFUSED)
    assert allowed_actions(refused, STANDARD) == frozenset()
    submitted = apply(initial_state(), Action.SUBMIT, STANDARD)
    with pytest.raises(IllegalTransition):
        apply(submitted, Action.REFUSE_INTAKE, STANDARD)
