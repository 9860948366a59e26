"""The OCR benchmark's scoring: a wrong value shown sure is counted; a doubtful one is shown as check."""

from __future__ import annotations

import os
from pathlib import Path

from bench.ocr import Truth, score
from ocr.engines.base import Line
from ocr.extract import FieldValue
from ocr.pipeline import PageResult


def _result(file: str, material: str, fields: dict[str, FieldValue]) -> PageResult:
    lines = [Line("建筑面积89.50平方米", (0, 0, 10, 10), 0.99)]
    return PageResult(file, 1, material, 0.99, "replay", 0.1, lines, fields)


def _truth(file: str, material: str, case: str, area: str) -> Truth:
    page = {"page": 1, "material": material, "lines": ["建筑面积89.50平方米"], "fields": {"area_m2": area}}
    return Truth(Path(file), [page], case)


def test_a_wrong_value_shown_sure_is_confident_wrong_and_a_doubtful_one_is_only_to_check() -> None:
    truths = [_truth("a.jpg", "M08", "c1", "89.50"), _truth("b.jpg", "M11", "c2", "89.50")]
    results = {
        "a.jpg": [_result("a.jpg", "M08", {"area_m2": FieldValue("39.50", 0.97, True)})],
        "b.jpg": [_result("b.jpg", "M11", {"area_m2": FieldValue("39.50", 0.6, True)})],
    }
    s = score(truths, results)
    assert (s.fields, s.fields_right, s.confident_wrong, s.to_check) == (2, 0, 1, 1)


def test_a_page_of_the_same_case_disagreeing_makes_a_sure_value_doubtful() -> None:
    truths = [_truth("a.jpg", "M08", "c1", "89.50"), _truth("b.jpg", "M11", "c1", "89.50")]
    results = {
        "a.jpg": [_result("a.jpg", "M08", {"area_m2": FieldValue("39.50", 0.97, True)})],
        "b.jpg": [_result("b.jpg", "M11", {"area_m2": FieldValue("89.50", 0.97, True)})],
    }
    s = score(truths, results)
    assert (s.fields_right, s.confident_wrong, s.to_check) == (1, 0, 2)


def test_the_installed_command_finds_the_held_out_generator_from_any_folder(tmp_path: Path) -> None:
    # `workstation bench ocr` builds the held-out family: `samples` must be importable where the command runs, not
    # only from the project's folder (it was not a package of the install, and the command failed).
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import bench.ocr, samples.heldout; print(samples.heldout.generate.__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "generate"
