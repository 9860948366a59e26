from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from workstation.config import load_settings
from workstation.domain.errors import PermissionDenied
from workstation.errors import AuthError, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.store.models import AuditEvent, User


def test_first_start_creates_one_admin_with_a_generated_password_shown_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path)
    first = open_desk(settings)
    secret = first.first_admin_password
    first.close()
    assert secret and len(secret) >= 12
    again = open_desk(settings)
    try:
        assert again.first_admin_password is None
        assert again.users.authenticate("admin", secret).username == "admin"
    finally:
        again.close()


def test_passwords_are_stored_with_argon2id(desk: Desk) -> None:
    with desk.db.read() as s:
        stored = s.execute(select(User.password_hash).where(User.username == "admin")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "admin-pass-1" not in stored


def test_wrong_password_and_unknown_user_get_the_same_answer(desk: Desk) -> None:
    for user, password in (("admin", "wrong-password"), ("ghost", "whatever1")):
        with pytest.raises(AuthError, match=r"^wrong user name or password$"):
            desk.users.authenticate(user, password)


def test_reviewer_flags_follow_r14(desk: Desk) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="rev2", password="rev-pass-02", roles=["reviewer"], can_review_offline=True)
    actor = desk.users.actor("rev2")
    assert (actor.can_review_online, actor.can_review_offline) == (False, True)


def test_only_an_admin_adds_users(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        desk.users.add(clerk, username="x1", password="password-1", roles=["clerk"])


@pytest.mark.parametrize(
    ("username", "password", "roles", "fragment"),
    [
        ("Bad Name", "password-1", ["clerk"], "bad user name"),
        ("ok1", "short", ["clerk"], "at least 8"),
        ("ok2", "password-1", ["wizard"], "unknown role"),
        ("admin", "password-1", ["clerk"], "already exists"),
    ],
)
def test_bad_user_input_is_refused(desk: Desk, username, password, roles, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=fragment):
        desk.users.add(desk.users.actor("admin"), username=username, password=password, roles=roles)


def test_an_admin_changes_roles_and_review_grants_and_the_change_is_audited(desk: Desk) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="rev3", password="rev-pass-03", roles=["clerk"])
    view = desk.users.update(admin, "rev3", roles=["reviewer", "clerk"], can_review_online=True)
    assert (view.roles, view.can_review_online, view.can_review_offline) == (("clerk", "reviewer"), True, False)
    actor = desk.users.actor("rev3")
    assert {r.value for r in actor.roles} == {"clerk", "reviewer"} and actor.can_review_online
    desk.users.update(admin, "rev3", can_review_offline=True)  # roles left as they are
    assert desk.users.actor("rev3").can_review_offline and len(desk.users.actor("rev3").roles) == 2
    with desk.db.read() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "user.update")).scalars().all()
    assert [json.loads(e.payload)["after"]["can_review_offline"] for e in events] == [False, True]
    desk.users.update(admin, "rev3", can_review_offline=True)  # no change, no event
    with desk.db.read() as s:
        assert len(s.execute(select(AuditEvent).where(AuditEvent.action == "user.update")).all()) == 2
    assert desk.verify_audit().ok


def test_changing_a_user_needs_user_manage_a_known_user_and_known_roles(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    admin = desk.users.actor("admin")
    with pytest.raises(PermissionDenied):
        desk.users.update(clerk, "clerk1", roles=["admin"])
    with pytest.raises(UsageError, match="no user 'ghost'"):
        desk.users.update(admin, "ghost", roles=["clerk"])
    with pytest.raises(UsageError, match="unknown role"):
        desk.users.update(admin, "clerk1", roles=["wizard"])
    with pytest.raises(UsageError, match="at least one role"):
        desk.users.update(admin, "clerk1", roles=[])
    with pytest.raises(UsageError, match="admin role from yourself"):
        desk.users.update(admin, "admin", roles=["clerk"])


def _login_events(desk: Desk, name: str) -> list[AuditEvent]:
    with desk.db.read() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.entity_id == name).order_by(AuditEvent.seq)).scalars()
        )


def test_every_login_is_audited_failed_ones_with_the_name_tried(desk: Desk) -> None:
    desk.users.authenticate("admin", "admin-pass-1")
    with pytest.raises(AuthError):
        desk.users.authenticate("admin", "wrong-password")
    with pytest.raises(AuthError):
        desk.users.authenticate("ghost", "whatever1")
    assert [e.action for e in _login_events(desk, "admin")] == ["user.login", "user.login_failed"]
    [ghost] = _login_events(desk, "ghost")
    assert ghost.action == "user.login_failed" and json.loads(ghost.payload)["reason"] == "wrong user name or password"
    assert desk.verify_audit().ok


def _desk_with_clock(settings, clock):  # type: ignore[no-untyped-def]
    from workstation.services.users import UserService

    desk = open_desk(settings)
    desk.users = UserService(desk.db, settings.station_id, now=clock)
    return desk


def test_failures_slow_the_next_attempt_even_with_the_right_password_and_a_success_clears_them(settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from workstation.store.types import utcnow

    shift = [timedelta(0)]
    desk = _desk_with_clock(settings, lambda: utcnow() + shift[0])
    try:
        for _ in range(5):
            with pytest.raises(AuthError, match="wrong user name or password"):
                desk.users.authenticate("admin", "wrong-password")
        with pytest.raises(AuthError, match=r"too many failed logins for 'admin': try again in [12] s"):
            desk.users.authenticate("admin", "admin-pass-1")  # not even checked while the wait runs
        refused = len(_login_events(desk, "admin"))
        assert refused == 5  # the refusals during the wait are not failures: the wait does not grow by itself
        shift[0] = timedelta(seconds=2.5)
        with pytest.raises(AuthError, match="wrong user name or password"):
            desk.users.authenticate("admin", "wrong-again")
        # The sixth failure doubled the wait to 4 s; it is recorded at the real time, which this clock sees 2.5 s on.
        with pytest.raises(AuthError, match=r"try again in [12] s"):
            desk.users.authenticate("admin", "admin-pass-1")
        shift[0] = timedelta(seconds=10)
        assert desk.users.authenticate("admin", "admin-pass-1").username == "admin"
        with pytest.raises(AuthError, match="wrong user name or password"):  # the success cleared the count
            desk.users.authenticate("admin", "wrong-password")
    finally:
        desk.close()


def test_guessing_across_many_names_slows_the_whole_desk(settings) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk(settings)
    try:
        for i in range(20):
            with pytest.raises(AuthError, match="wrong user name or password"):
                desk.users.authenticate(f"guess{i}", "password-x")
        with pytest.raises(AuthError, match="too many failed logins for this desk"):
            desk.users.authenticate("admin", "admin-pass-1")
    finally:
        desk.close()


def test_users_are_disabled_and_enabled_never_deleted_and_it_is_audited(desk: Desk) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="clerk9", password="clerk-pass-9", roles=["clerk"])
    assert desk.users.set_active(admin, "clerk9", False).active is False
    with pytest.raises(AuthError, match="disabled"):
        desk.users.authenticate("clerk9", "clerk-pass-9")
    assert [u.username for u in desk.users.list() if not u.active] == ["clerk9"]
    assert desk.users.set_active(admin, "clerk9", True).active is True
    assert desk.users.authenticate("clerk9", "clerk-pass-9").username == "clerk9"
    with desk.db.read() as s:
        actions = list(s.execute(select(AuditEvent.action).where(AuditEvent.action.like("user.%able"))).scalars())
    assert actions == ["user.disable", "user.enable"]
    with pytest.raises(UsageError, match="cannot disable yourself"):
        desk.users.set_active(admin, "admin", False)
    clerk = desk.users.actor("clerk9")
    with pytest.raises(PermissionDenied):
        desk.users.set_active(clerk, "admin", False)
