"""The import direction of architecture.md: the pure core loads no database, UI or web framework."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "textual", "fastapi", "pydantic", "alembic", "rich", "uvicorn")


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    "modules",
    [
        ["ocr.codes"],
        [
            "workstation.domain",
            "workstation.domain.catalogue",
            "workstation.domain.checklist",
            "workstation.domain.stages",
            "workstation.domain.permissions",
            "workstation.domain.consistency",
            "workstation.domain.assignment",
            "workstation.domain.qc",
            "workstation.domain.clock",
            "workstation.domain.review",
        ],
    ],
)
def test_pure_core_imports_no_framework(modules: list[str]) -> None:
    loaded = _loaded_after_import(modules)
    offenders = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert offenders == []


def test_domain_does_not_reach_into_store_services_or_ui() -> None:
    loaded = _loaded_after_import(["workstation.domain"])
    assert not [m for m in loaded if m.startswith(("workstation.store", "workstation.services", "workstation.tui"))]


def test_store_and_services_do_not_import_the_ui() -> None:
    loaded = _loaded_after_import(["workstation.store.models", "workstation.services.desk"])
    assert not [m for m in loaded if m.startswith(("workstation.tui", "textual"))]
