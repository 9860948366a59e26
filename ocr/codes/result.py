"""The result type shared by all identifier checkers.

Kept free of third-party imports: the pure domain layer imports this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Error messages quote the offending value; cap it so a megabyte of OCR junk
# cannot turn into a megabyte-long log line.
_MAX_QUOTED = 40


class CodeError(ValueError):
    """Raised by the ``parse_*`` functions when a code is not acceptable.

    ``check`` carries the full :class:`CodeCheck` so callers can show every problem,
    not just the one-line message.
    """

    def __init__(self, message: str, check: CodeCheck | None = None) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class CodeCheck:
    """Outcome of checking one identifier.

    ``valid`` is True only when the structure is right *and* any check character
    passes. ``errors`` are hard problems (the ``parse_*`` functions reject on them);
    ``warnings`` are soft ones (a failed USCC check character, a legacy format, a
    functional-zone district code...).
    """

    kind: str
    raw: str
    value: str
    valid: bool
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Excluded from hashing (a mapping is not hashable) but still compared.
    details: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Freeze the mapping too, so a shared CodeCheck cannot be mutated behind
        # another caller's back.
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def accepted(self) -> bool:
        """True when there are no hard errors (warnings are allowed)."""
        return not self.errors


def quote(value: str) -> str:
    """repr() of ``value``, shortened for messages; repr also keeps it on one line."""
    if len(value) > _MAX_QUOTED:
        return repr(value[:_MAX_QUOTED]) + "…"
    return repr(value)


def as_text(raw: object) -> tuple[str, str | None]:
    """Return (text, error). Non-str input is reported, never raised on, because
    OCR pipelines hand us None or bytes more often than one would like."""
    if isinstance(raw, str):
        return raw, None
    return "", f"expected text, got {type(raw).__name__}"


def accept_or_raise(check: CodeCheck, label: str) -> CodeCheck:
    """Shared body of the ``parse_*`` functions."""
    if check.accepted:
        return check
    message = f"invalid {label} {quote(check.value)}: {check.errors[0]}"
    if len(check.errors) > 1:
        message += f" (and {len(check.errors) - 1} more problem(s))"
    raise CodeError(message, check)


def describe_bad_chars(value: str, allowed: str, what: str, limit: int = 3) -> list[str]:
    """One message per character outside ``allowed`` (1-based positions), capped."""
    bad = [(i, ch) for i, ch in enumerate(value, start=1) if ch not in allowed]
    messages = [f"position {i}: {quote(ch)} is not {what}" for i, ch in bad[:limit]]
    if len(bad) > limit:
        messages.append(f"{len(bad) - limit} more illegal character(s)")
    return messages
