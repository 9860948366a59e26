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


# What listing dossiers on a SQLite desk does without: a settings framework, another database's dialect and driver,
# the migration machinery once the schema is current, the registry's code, and the use cases it does not call.
DOSSIER_LIST_UNUSED = (
    "pydantic", "pydantic_core", "pydantic_settings", "psycopg", "alembic", "sync", "sqlalchemy.dialects.postgresql",
    "workstation.services.review", "workstation.services.qc", "workstation.services.qc_desk",
    "workstation.services.records", "workstation.services.intake", "workstation.services.syncstate",
    "workstation.services.ocr_jobs", "workstation.services.export",
)  # fmt: skip


def _under(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def test_dossier_list_loads_the_database_but_no_ui_web_or_ocr_module(tmp_path: Path) -> None:
    loaded = _loaded_by_command(["dossier", "list"], tmp_path, runs=2)  # the first start creates the database
    assert "sqlalchemy" in loaded and "workstation.services.dossiers" in loaded  # it did read the database
    assert sorted(m for m in loaded if m.split(".")[0] in STARTUP_HEAVY) == []
    assert not [m for m in loaded if m.startswith(("workstation.tui", "ocr.loading", "ocr.engines", "sync.server"))]
    assert sorted(m for m in loaded if _under(m, DOSSIER_LIST_UNUSED)) == []


def _run_python(code: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_desk_builds_each_use_case_once_when_first_asked(tmp_path: Path) -> None:
    code = (
        "import json, sys, threading\n"
        "from workstation.config import load_settings\n"
        "from workstation.services.desk import open_desk\n"
        f"desk = open_desk(load_settings(data_dir={str(tmp_path / 'desk')!r}, admin_password='admin-pass-1'))\n"
        "before = 'workstation.services.review' in sys.modules\n"
        "seen = []\n"
        "threads = [threading.Thread(target=lambda: seen.append(desk.review)) for _ in range(8)]\n"
        "for t in threads: t.start()\n"
        "for t in threads: t.join()\n"
        "replacement = object()\n"
        "desk.qc = replacement\n"
        "print(json.dumps({'before': before, 'after': 'workstation.services.review' in sys.modules,\n"
        "    'one': len({id(s) for s in seen}) == 1 and seen[0] is desk.review, 'kind': type(desk.review).__name__,\n"
        "    'replaced': desk.qc is replacement, 'registry': desk.has_registry}))\n"
        "desk.close()\n"
    )
    result = json.loads(_run_python(code, tmp_path))
    assert result == {
        "before": False,
        "after": True,
        "one": True,
        "kind": "ReviewService",
        "replaced": True,
        "registry": False,
    }


def test_postgresql_engines_get_the_partial_indexes_without_sqlite_desks_loading_the_dialect(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from sqlalchemy.schema import CreateIndex\n"
        "from workstation.store.db import Database, make_engine\n"
        "from workstation.store.models import Base\n"
        f"Database({'sqlite:///' + str(tmp_path / 'w.db')!r}).dispose()\n"
        "loaded_on_sqlite = 'sqlalchemy.dialects.postgresql' in sys.modules\n"
        "engine = make_engine('postgresql+psycopg://nobody:x@127.0.0.1:1/none')\n"
        "ddl = {i.name: str(CreateIndex(i).compile(dialect=engine.dialect)) for t in Base.metadata.tables.values()\n"
        "       for i in t.indexes if i.dialect_options['sqlite']['where'] is not None}\n"
        "print(json.dumps({'loaded_on_sqlite': loaded_on_sqlite, 'ddl': ddl}))\n"
    )
    result = json.loads(_run_python(code, tmp_path))
    assert result["loaded_on_sqlite"] is False
    assert result["ddl"]  # the models have partial indexes: the review pool, the one active lease per dossier
    for name, ddl in result["ddl"].items():
        assert " WHERE " in ddl, name
