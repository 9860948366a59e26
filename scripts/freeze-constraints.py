"""Writes constraints.txt: the exact version of every package `pip install -e '.[dev]'` brings, from this venv.

`make setup` installs with `pip install -c constraints.txt`, so a fresh machine gets the versions the suite last
passed with; above all Textual, textual-image, pytest-textual-snapshot and syrupy, which the screen snapshots in
tests/__snapshots__ depend on. After a deliberate upgrade in the venv (and the snapshots checked), run
`make constraints` and commit the file. Only the project's own requirements and what they need are written, not
whatever else was installed by hand.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

EXTRAS = ("dev",)
HEADER = """\
# Exact versions for `pip install -c constraints.txt -e '.[dev]'` (make setup). Generated from a venv where the
# suite passed, by `make constraints` (scripts/freeze-constraints.py); edit pyproject.toml, not this file. Textual,
# textual-image, pytest-textual-snapshot and syrupy are pinned here because the screen snapshots depend on them.
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(pyproject: Path) -> dict[str, str]:
    """name -> version for every distribution pyproject.toml's requirements (with EXTRAS) need, directly or not."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    roots = [*project["dependencies"], *(r for extra in EXTRAS for r in project["optional-dependencies"][extra])]
    pinned: dict[str, str] = {}
    todo = [Requirement(line) for line in roots]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        req = todo.pop()
        key = (canonical(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue  # a requirement for another platform or Python; nothing installed to pin
        pinned[canonical(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            wanted = [{**default_environment(), "extra": extra} for extra in ("", *req.extras)]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in wanted):
                todo.append(sub)
    return pinned


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("constraints.txt")
    pins = closure(Path(__file__).resolve().parent.parent / "pyproject.toml")
    if "textual" not in pins:
        print("freeze-constraints: the project is not installed in this venv (make setup first)", file=sys.stderr)
        return 2
    out.write_text(HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    print(f"{out}: {len(pins)} packages pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
