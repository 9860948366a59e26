"""Quality inspection (R3–R4): which registered dossiers QC inspects, and what a finding means.

The sample is drawn by HMAC-SHA256 of the dossier id under an office key (data/qc.toml): reproducible for
auditors who hold the key, unpredictable without it.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from .catalogue import Business
from .errors import DomainError

QC_FILE = "qc.toml"


@dataclass(frozen=True)
class QcPolicy:
    rate: float  # 0 < rate <= 1
    key: bytes  # the office's sampling key

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float) or not 0 < self.rate <= 1:
            raise DomainError(f"{QC_FILE}: rate must be a number with 0 < rate <= 1, got {self.rate!r}")
        if not self.key:
            raise DomainError(f"{QC_FILE}: key must be a non-empty string")


def load_qc_policy(text: str | None = None) -> QcPolicy:
    """Parse and validate the QC policy (packaged, or `text`)."""
    if text is None:
        text = resources.files(__package__).joinpath("data", QC_FILE).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DomainError(f"{QC_FILE}: invalid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"rate", "key"})
    if unknown:
        raise DomainError(f"{QC_FILE}: unknown key '{unknown[0]}'; expected rate and key")
    if "rate" not in doc or "key" not in doc:
        raise DomainError(f"{QC_FILE}: missing '{'rate' if 'rate' not in doc else 'key'}'")
    key = doc["key"]
    if not isinstance(key, str) or not key.strip():
        raise DomainError(f"{QC_FILE}: key must be a non-empty string")
    return QcPolicy(rate=doc["rate"], key=key.strip().encode("utf-8"))


@cache
def default_qc_policy() -> QcPolicy:
    """The packaged policy, loaded once."""
    return load_qc_policy()


def is_sampled(dossier_id: str, *, rate: float, key: bytes) -> bool:
    """Whether the dossier falls in the keyed sample: first 8 bytes of HMAC-SHA256(key, id) < rate × 2^64."""
    digest = hmac.new(key, dossier_id.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def must_inspect(business: Business, dossier_id: str, policy: QcPolicy) -> tuple[bool, str]:
    """(inspect?, why): "full" for 100%-inspected businesses, else "sampled" or "not sampled" (R3)."""
    if business.qc_full:
        return True, "full"
    if is_sampled(dossier_id, rate=policy.rate, key=policy.key):
        return True, "sampled"
    return False, "not sampled"


class QcResult(StrEnum):
    PASS = "pass"
    MINOR = "minor"  # a defect that does not affect ownership
    MAJOR = "major"  # 影响权属的重大错误


def needs_correction(result: QcResult | str) -> bool:
    """R4: a major (ownership-affecting) error starts the correction mechanism at once."""
    return QcResult(result) is QcResult.MAJOR
