"""Quality inspection (R3–R4): keyed sampling, 100% businesses, results."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workstation.domain.catalogue import default_catalogue
from workstation.domain.errors import DomainError
from workstation.domain.qc import (
    QcPolicy,
    QcResult,
    default_qc_policy,
    is_sampled,
    load_qc_policy,
    must_inspect,
    needs_correction,
)

IDS = [f"D2024{n:08d}" for n in range(100_000)]


def test_packaged_policy_samples_three_percent() -> None:
    policy = default_qc_policy()
    assert policy.rate == 0.03
    assert policy.key


def test_sampled_share_over_100000_ids_is_three_percent() -> None:
    policy = default_qc_policy()
    share = sum(is_sampled(i, rate=policy.rate, key=policy.key) for i in IDS) / len(IDS)
    assert abs(share - 0.03) <= 0.002


def test_full_qc_businesses_are_always_inspected() -> None:
    catalogue = default_catalogue()
    policy = default_qc_policy()
    for code in ("HOUSE_FIRST", "MORT_CIP"):
        business = catalogue.business(code)
        assert all(must_inspect(business, i, policy) == (True, "full") for i in IDS[:2000])


def test_other_businesses_are_inspected_only_when_sampled() -> None:
    policy = default_qc_policy()
    business = next(b for b in default_catalogue().businesses.values() if not b.qc_full)
    verdicts = {must_inspect(business, i, policy) for i in IDS[:2000]}
    assert verdicts == {(True, "sampled"), (False, "not sampled")}


def test_sample_is_reproducible_and_depends_on_the_key() -> None:
    first = [is_sampled(i, rate=0.03, key=b"office-a") for i in IDS[:5000]]
    again = [is_sampled(i, rate=0.03, key=b"office-a") for i in IDS[:5000]]
    other = [is_sampled(i, rate=0.03, key=b"office-b") for i in IDS[:5000]]
    assert first == again
    assert first != other


def test_rate_one_samples_everything() -> None:
    assert all(is_sampled(i, rate=1.0, key=b"k") for i in IDS[:1000])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('rate = 0\nkey = "k"', "0 < rate <= 1"),
        ('rate = 1.5\nkey = "k"', "0 < rate <= 1"),
        ('rate = true\nkey = "k"', "0 < rate <= 1"),
        ('rate = "3%"\nkey = "k"', "0 < rate <= 1"),
        ('rate = 0.03\nkey = "  "', "key must be a non-empty string"),
        ("rate = 0.03\nkey = 7", "key must be a non-empty string"),
        ("rate = 0.03", "missing 'key'"),
        ('key = "k"', "missing 'rate'"),
        ('rate = 0.03\nkey = "k"\nseed = 1', "unknown key 'seed'"),
        ("rate = ", "invalid TOML"),
    ],
)
def test_bad_policy_is_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(DomainError, match=message) as err:
        load_qc_policy(text)
    assert "\n" not in str(err.value)


def test_a_valid_policy_loads() -> None:
    assert load_qc_policy('rate = 0.5\nkey = "secret"') == QcPolicy(rate=0.5, key=b"secret")


def test_only_a_major_error_needs_correction() -> None:
    assert needs_correction(QcResult.MAJOR)
    assert not needs_correction(QcResult.MINOR)
    assert not needs_correction(QcResult.PASS)
    assert needs_correction("major")


def test_assignment_and_qc_stay_pure() -> None:
    code = (
        "import json, sys\n"
        "import workstation.domain.assignment, workstation.domain.qc\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy = ("sqlalchemy", "textual", "fastapi", "pydantic", "alembic", "rich", "uvicorn", "workstation.store")
    assert not [m for m in json.loads(out) if m.startswith(heavy)]
