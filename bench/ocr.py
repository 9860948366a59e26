"""`workstation bench ocr`: the whole reading pipeline on the committed samples, per engine.

Prints pages/minute on all cores (median of several runs, pool start-up excluded and reported apart),
character error rate against the ground truth, field and material accuracy, identifiers wrongly marked
valid (must be 0), and peak RSS per worker.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from ocr.classify import squash
from ocr.engines import ENGINES, unavailable_reason
from ocr.extract import IDENTIFIER_TYPES, numbers_equal
from ocr.pipeline import FileError, PageResult, read_file_task
from ocr.pool import OcrPool

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "scans"
NUMERIC_KEYS = ("area_m2", "price_yuan", "tax_amount_yuan", "loan_amount_yuan")


@dataclass
class Truth:
    file: Path
    pages: list[dict[str, Any]]


def load_truth(samples: Path = SAMPLES) -> list[Truth]:
    truths = []
    for meta in sorted(samples.glob("*.json")):
        data = json.loads(meta.read_text("utf-8"))
        truths.append(Truth(samples / data["file"], data["pages"]))
    if not truths:
        raise FileNotFoundError(f"no ground truth (*.json) in {samples}")
    return truths


def field_matches(key: str, got: str, want: str) -> bool:
    if key in NUMERIC_KEYS:
        return numbers_equal(got, want)
    return squash(got).upper() == squash(want).upper()


@dataclass
class Score:
    pages: int = 0
    chars: int = 0
    edits: int = 0
    fields: int = 0
    fields_right: int = 0
    materials_right: int = 0
    identifiers: int = 0
    wrong_valid: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def cer(self) -> float:
        return self.edits / self.chars if self.chars else 0.0

    @property
    def field_accuracy(self) -> float:
        return self.fields_right / self.fields if self.fields else 0.0

    @property
    def material_accuracy(self) -> float:
        return self.materials_right / self.pages if self.pages else 0.0


def score(truths: Sequence[Truth], results: dict[str, list[PageResult | FileError]]) -> Score:
    s = Score()
    for truth in truths:
        got = {r.page: r for r in results.get(truth.file.name, []) if isinstance(r, PageResult)}
        for page in truth.pages:
            s.pages += 1
            want_text = squash("".join(page["lines"]))
            result = got.get(page["page"])
            read_text = squash(result.text) if result else ""
            s.chars += len(want_text)
            s.edits += Levenshtein.distance(want_text, read_text)
            where = f"{truth.file.name} p{page['page']}"
            if result and result.material == page["material"]:
                s.materials_right += 1
            else:
                s.misses.append(f"{where}: material {result.material if result else '-'} ≠ {page['material']}")
            for key, want in page.get("fields", {}).items():
                s.fields += 1
                value = result.fields.get(key) if result else None
                if value is not None and field_matches(key, value.value, str(want)):
                    s.fields_right += 1
                else:
                    s.misses.append(f"{where}: {key} {value.value if value else '-'!r} ≠ {want!r}")
                if key in IDENTIFIER_TYPES:
                    s.identifiers += 1
                    if value is not None and value.valid and not field_matches(key, value.value, str(want)):
                        s.wrong_valid += 1
    return s


def run_engine(engine: str, truths: Sequence[Truth], runs: int, workers: int | None) -> dict[str, Any]:
    speeds, startups, last = [], [], None
    peaks: dict[int, float] = {}
    for _ in range(runs):
        started = time.perf_counter()
        with OcrPool(engine, workers=workers) as pool:
            pool.worker_stats()  # every worker up, engine loaded: start-up is measured apart
            startups.append(time.perf_counter() - started)
            t0 = time.perf_counter()
            futures = {t.file.name: pool.submit(read_file_task, str(t.file), t.file.name) for t in truths}
            results = {name: fut.result() for name, fut in futures.items()}
            elapsed = time.perf_counter() - t0
            peaks = pool.peak_rss_mb()
        pages = sum(1 for rs in results.values() for r in rs if isinstance(r, PageResult))
        speeds.append(pages / elapsed * 60)
        last = score(truths, results)
    assert last is not None
    return {
        "engine": engine,
        "runs": runs,
        "workers": len(peaks),
        "pages": last.pages,
        "pages_per_minute": round(statistics.median(speeds), 1),
        "pages_per_minute_runs": [round(v, 1) for v in speeds],
        "startup_seconds": round(statistics.median(startups), 2),
        "cer": round(last.cer, 5),
        "field_accuracy": round(last.field_accuracy, 4),
        "fields": last.fields,
        "material_accuracy": round(last.material_accuracy, 4),
        "identifiers": last.identifiers,
        "identifiers_wrong_but_valid": last.wrong_valid,
        "peak_rss_mb_per_worker": sorted(round(v) for v in peaks.values()),
        "misses": last.misses,
    }


def main(
    engines: Sequence[str] | None,
    *,
    runs: int = 3,
    samples: Path = SAMPLES,
    workers: int | None = None,
    as_json: bool = False,
) -> int:
    truths = load_truth(samples)
    chosen = list(engines or [e for e in ENGINES if unavailable_reason(e) is None])
    reports = []
    for engine in chosen:
        reason = unavailable_reason(engine)
        if reason:
            reports.append({"engine": engine, "unavailable": reason})
            continue
        reports.append(run_engine(engine, truths, runs, workers))
    if as_json:
        print(json.dumps({"bench": "ocr", "samples": len(truths), "results": reports}, ensure_ascii=False))
        return 0
    for r in reports:
        if "unavailable" in r:
            print(f"{r['engine']}: unavailable — {r['unavailable']}")
            continue
        print(
            f"{r['engine']}: {r['pages_per_minute']} pages/min (median of {r['runs']}: {r['pages_per_minute_runs']}) "
            f"on {r['workers']} workers, start-up {r['startup_seconds']} s\n"
            f"  CER {r['cer']:.2%}  fields {r['field_accuracy']:.1%} of {r['fields']}  "
            f"materials {r['material_accuracy']:.1%} of {r['pages']} pages  "
            f"identifiers wrong-but-valid {r['identifiers_wrong_but_valid']} of {r['identifiers']}\n"
            f"  peak RSS per worker {r['peak_rss_mb_per_worker']} MB"
        )
        for miss in r["misses"][:20]:
            print(f"    miss: {miss}")
    return 0


__all__ = ["main"]
