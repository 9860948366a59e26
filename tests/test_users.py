from __future__ import annotations

import pytest
from sqlalchemy import select

from workstation.config import load_settings
from workstation.domain.errors import PermissionDenied
from workstation.errors import AuthError, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.store.models import User


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
