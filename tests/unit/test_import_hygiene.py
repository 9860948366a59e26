"""The import direction of architecture.md: the pure core loads no database, UI or web framework."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


# What the `workstation` command must not load before a command needs it: each costs start-up time on every call.
STARTUP_HEAVY = (
    "textual", "rich", "numpy", "PIL", "onnxruntime", "rapidocr", "rapidocr_onnxruntime", "cv2", "pytesseract",
    "pypdf", "fastapi", "starlette", "uvicorn", "alembic", "httpx", "mako",
)  # fmt: skip


def _loaded_by_command(args: list[str], tmp_path: Path, *, runs: int = 1) -> set[str]:
    """The modules loaded once `workstation ARGS` has run, in a fresh interpreter (the last of `runs`)."""
    out = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "from workstation.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env.update(WS_DATA_DIR=str(tmp_path / "desk"), WS_ADMIN_PASSWORD="admin-pass-1")
    for _ in range(runs):
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(out.read_text()))


def test_help_loads_no_database_ui_web_or_ocr_module(tmp_path: Path) -> None:
    loaded = _loaded_by_command(["--help"], tmp_path)
    assert "workstation.cli" in loaded  # the command itself ran
    heavy = (*STARTUP_HEAVY, "sqlalchemy", "pydantic", "pydantic_settings", "argon2")
    assert sorted(m for m in loaded if m.split(".")[0] in heavy) == []
    assert not [m for m in loaded if m.startswith(("workstation.services", "workstation.store", "sync"))]


def test_dossier_list_loads_the_database_but_no_ui_web_or_ocr_module(tmp_path: Path) -> None:
    loaded = _loaded_by_command(["dossier", "list"], tmp_path, runs=2)  # the first start creates the database
    assert "sqlalchemy" in loaded and "workstation.services.desk" in loaded  # it did read the database
    assert sorted(m for m in loaded if m.split(".")[0] in STARTUP_HEAVY) == []
    assert not [m for m in loaded if m.startswith(("workstation.tui", "ocr.loading", "ocr.engines", "sync.server"))]
