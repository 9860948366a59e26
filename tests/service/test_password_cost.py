"""Passwords keep argon2id's production cost outside the tests; the suite's cheap cost is opt-in by name only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from argon2 import PasswordHasher, profiles

from workstation.errors import ConfigError
from workstation.services.users import HASHER, PASSWORD_COST_ENV, password_hasher

PRODUCTION = profiles.RFC_9106_LOW_MEMORY


def _hasher_in_a_fresh_process(cost: str | None) -> dict[str, object]:
    """The users service's hasher as a process that starts with `cost` (None: the variable unset) sees it."""
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_COST_ENV}
    if cost is not None:
        env[PASSWORD_COST_ENV] = cost
    code = (
        "import json; from workstation.services.users import HASHER as h; "
        "print(json.dumps({'t': h.time_cost, 'm': h.memory_cost, 'p': h.parallelism, 'hash': h.hash('pass-word-1')}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("cost", [None, "", "production"])
def test_without_the_test_setting_passwords_are_hashed_at_the_production_cost(cost: str | None) -> None:
    seen = _hasher_in_a_fresh_process(cost)
    assert (seen["t"], seen["m"], seen["p"]) == (PRODUCTION.time_cost, PRODUCTION.memory_cost, PRODUCTION.parallelism)
    assert (PRODUCTION.time_cost, PRODUCTION.memory_cost, PRODUCTION.parallelism) == (3, 64 * 1024, 4)
    assert str(seen["hash"]).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_the_test_setting_is_argon2id_at_the_lowest_cost_and_verifies_production_hashes() -> None:
    cheap = password_hasher("test")
    assert (cheap.time_cost, cheap.memory_cost, cheap.parallelism) == (1, 8, 1)
    assert cheap.hash("pass-word-1").startswith("$argon2id$v=19$m=8,t=1,p=1$")
    # A hash carries its own cost: each side verifies the other's, so a desk's stored hashes stay valid either way.
    production = PasswordHasher.from_parameters(PRODUCTION)
    assert cheap.verify(production.hash("pass-word-1"), "pass-word-1")
    assert production.verify(cheap.hash("pass-word-1"), "pass-word-1")


def test_an_unknown_cost_is_a_one_line_configuration_error_where_a_password_is_first_needed() -> None:
    with pytest.raises(ConfigError, match="WS_PASSWORD_COST='cheap' is not a password cost"):
        password_hasher("cheap")
    env = {**os.environ, PASSWORD_COST_ENV: "cheap"}
    fine = subprocess.run(  # importing the users service does not fail; only hashing or checking a password does
        [sys.executable, "-c", "import workstation.services.users"], env=env, capture_output=True, text=True, timeout=60
    )
    assert fine.returncode == 0, fine.stderr


def test_this_suite_runs_at_the_test_cost() -> None:
    """The conftest's setting reached the users service (else every test that creates a person pays ~0.1–0.3 s)."""
    if os.environ.get(PASSWORD_COST_ENV) == "production":
        pytest.skip("WS_PASSWORD_COST=production: this run hashes at the production cost on purpose")
    assert os.environ.get(PASSWORD_COST_ENV) == "test"
    assert (HASHER.time_cost, HASHER.memory_cost) == (1, 8)
