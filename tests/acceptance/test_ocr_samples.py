"""The whole reading pipeline with the real engines on the committed sample scans: accuracy floors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.ocr import load_truth, score
from ocr.engines import unavailable_reason
from ocr.pipeline import FileError, PageResult
from workstation.services.extract import extract

pytestmark = pytest.mark.slow
SCANS = Path(__file__).resolve().parents[2] / "samples" / "scans"
CJK_GAP = re.compile(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]")


def _read(engine: str, names: list[str] | None = None) -> tuple[list, dict[str, list[PageResult | FileError]]]:  # type: ignore[type-arg]
    truths = [t for t in load_truth(SCANS) if names is None or t.file.name in names]
    results: dict[str, list[PageResult | FileError]] = {}
    for result in extract([t.file for t in truths], engine=engine):
        results.setdefault(result.file, []).append(result)
    return truths, results


@pytest.mark.skipif(unavailable_reason("rapidocr") is not None, reason="rapidocr is not installed")
def test_rapidocr_reads_the_samples_to_the_targets() -> None:
    truths, results = _read("rapidocr")
    s = score(truths, results)
    assert s.pages == 21
    assert s.material_accuracy >= 0.98, s.misses
    assert s.field_accuracy >= 0.97, s.misses
    assert s.wrong_valid == 0, s.misses
    assert s.cer <= 0.02
    for pages in results.values():
        for page in pages:
            assert isinstance(page, PageResult)
            assert not CJK_GAP.search(page.text), page.text
    turned = {r.file: r.rotation for rs in results.values() for r in rs if isinstance(r, PageResult)}
    assert turned["case-02-M20-mortgage-contract.jpg"] == 180
    assert turned["case-03-M09-proof.jpg"] in (90, 270)


@pytest.mark.skipif(unavailable_reason("tesseract") is not None, reason="tesseract is not installed (CI installs it)")
def test_tesseract_reads_clean_samples_without_spaces_between_chinese_characters() -> None:
    names = ["case-01-M05-licence-buyer.jpg", "case-01-M08-certificate.jpg", "case-01-M12-tax.jpg"]
    truths, results = _read("tesseract", names)
    s = score(truths, results)
    assert s.pages == 3
    assert s.material_accuracy >= 2 / 3, s.misses
    assert s.cer <= 0.25  # seal text and stamps are read as characters by Tesseract; RapidOCR is the default
    assert s.wrong_valid == 0, s.misses
    for pages in results.values():
        for page in pages:
            assert isinstance(page, PageResult) and not CJK_GAP.search(page.text)
