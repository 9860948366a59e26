"""Permissions: separate duties per role, no superuser, and online/offline review grants (R14)."""

from __future__ import annotations

import pytest

from workstation.domain import (
    Actor,
    CatalogueError,
    Permission,
    PermissionDenied,
    UserRole,
    can_review,
    load_permissions,
    permissions_of,
    require,
    require_review,
)

P = Permission


def actor(*roles: UserRole, online: bool = False, offline: bool = False, name: str = "wang") -> Actor:
    return Actor("u-1", name, frozenset(roles), can_review_online=online, can_review_offline=offline)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            UserRole.CLERK,
            {
                P.DOSSIER_CREATE,
                P.DOSSIER_EDIT,
                P.DOSSIER_SUBMIT,
                P.DOSSIER_WITHDRAW,
                P.DOSSIER_WAIVE,
                P.DOSSIER_VIEW,
                P.ISSUE,
            },
        ),
        (UserRole.REVIEWER, {P.DOSSIER_VIEW, P.REVIEW_DECIDE, P.REGISTER}),
        (UserRole.QC, {P.DOSSIER_VIEW, P.QC_INSPECT}),
        (UserRole.ADMIN, {P.USER_MANAGE, P.STATION_MANAGE, P.AUDIT_VERIFY, P.DOSSIER_VIEW}),
        (UserRole.REGISTRAR, {P.DOSSIER_VIEW, P.REGISTER}),
    ],
)
def test_each_role_grants_exactly_its_permissions(role: UserRole, expected: set[Permission]) -> None:
    assert permissions_of([role]) == expected


def test_clerk_may_not_decide_reviews() -> None:
    with pytest.raises(PermissionDenied) as caught:
        require(actor(UserRole.CLERK), Permission.REVIEW_DECIDE)
    assert str(caught.value) == "user 'wang' (clerk) may not review_decide"


def test_reviewer_may_not_create_dossiers() -> None:
    with pytest.raises(PermissionDenied, match=r"user 'li' \(reviewer\) may not dossier_create"):
        require(actor(UserRole.REVIEWER, name="li"), Permission.DOSSIER_CREATE)
    require(actor(UserRole.REVIEWER), Permission.REGISTER)


def test_admin_is_not_a_superuser() -> None:
    admin = actor(UserRole.ADMIN, online=True, offline=True)
    require(admin, Permission.USER_MANAGE)
    for permission in (P.DOSSIER_CREATE, P.REVIEW_DECIDE, P.REGISTER, P.ISSUE, P.QC_INSPECT):
        with pytest.raises(PermissionDenied):
            require(admin, permission)
    assert not can_review(admin, digitized=True)


def test_user_without_roles_may_do_nothing() -> None:
    with pytest.raises(PermissionDenied, match=r"\(no role\) may not dossier_view"):
        require(actor(), Permission.DOSSIER_VIEW)


def test_several_roles_grant_the_union_of_their_permissions() -> None:
    both = actor(UserRole.CLERK, UserRole.QC)
    require(both, Permission.DOSSIER_CREATE)
    require(both, Permission.QC_INSPECT)
    with pytest.raises(PermissionDenied, match=r"\(clerk, qc\)"):
        require(both, Permission.REVIEW_DECIDE)


def test_actor_roles_given_as_strings_become_user_roles() -> None:
    assert Actor("u-2", "zhao", frozenset({"reviewer"}), True, False).roles == {UserRole.REVIEWER}  # type: ignore[arg-type]


def test_online_reviewer_reviews_digitised_dossiers_only() -> None:
    reviewer = actor(UserRole.REVIEWER, online=True)
    assert can_review(reviewer, digitized=True)
    assert not can_review(reviewer, digitized=False)


def test_offline_reviewer_reviews_paper_dossiers_only() -> None:
    reviewer = actor(UserRole.REVIEWER, offline=True)
    assert can_review(reviewer, digitized=False)
    assert not can_review(reviewer, digitized=True)


def test_review_grants_do_not_help_a_clerk() -> None:
    assert not can_review(actor(UserRole.CLERK, online=True, offline=True), digitized=True)


def test_require_review_names_the_missing_grant() -> None:
    with pytest.raises(PermissionDenied, match="paper dossiers without offline review"):
        require_review(actor(UserRole.REVIEWER, online=True), digitized=False)
    require_review(actor(UserRole.REVIEWER, online=True), digitized=True)


def test_permission_table_granting_an_unknown_permission_is_refused() -> None:
    text = '[roles]\nclerk = ["dossier_create", "fly"]\nreviewer = []\nqc = []\nadmin = []\n'
    with pytest.raises(CatalogueError, match="role 'clerk' grants unknown permission 'fly'"):
        load_permissions(text)


def test_permission_table_missing_a_role_is_refused() -> None:
    with pytest.raises(CatalogueError, match="role 'registrar' has no entry"):
        load_permissions("[roles]\nclerk = []\nreviewer = []\nqc = []\n")
