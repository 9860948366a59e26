"""`workstation bench ocr`: the whole reading pipeline on the committed samples and on a held-out family, per engine.

Prints, for each set, pages/minute on all cores (median of several runs, pool start-up excluded and reported
apart), character error rate against the ground truth, field and material accuracy, identifiers wrongly marked
valid (must be 0), confident-wrong fields (a wrong value shown valid with confidence ≥ 0.9 once the case's other
pages are weighed, as a dossier shows it), and peak RSS per worker.

The held-out family (`samples.heldout`) is written from other templates than the committed samples and is
generated on demand from a seed: it measures how extraction travels to issuers never seen, and is never tuned
on. When one of its pages has to be looked at, that seed is retired (`--heldout-seed` takes a new one).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from ocr.classify import squash
from ocr.corroborate import SURE, Reading, corroborate
from ocr.engines import ENGINES, unavailable_reason
from ocr.extract import IDENTIFIER_TYPES, numbers_equal
from ocr.pipeline import FileError, PageResult, read_file_task
from ocr.pool import OcrPool

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "scans"
NUMERIC_KEYS = ("area_m2", "price_yuan", "tax_amount_yuan", "loan_amount_yuan")


HELDOUT_SEED = 15006  # retire (and say so in the closing note) when a held-out page has been looked at
HELDOUT_CASES = 6


@dataclass
class Truth:
    file: Path
    pages: list[dict[str, Any]]
    case: str = ""


def load_truth(samples: Path = SAMPLES) -> list[Truth]:
    truths = []
    for meta in sorted(samples.glob("*.json")):
        data = json.loads(meta.read_text("utf-8"))
        truths.append(Truth(samples / data["file"], data["pages"], str(data.get("case", data["file"]))))
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
    confident_wrong: int = 0  # wrong value, valid, shown with confidence >= SURE
    to_check: int = 0  # values shown as "check" (valid, below SURE)
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

    @property
    def confident_wrong_rate(self) -> float:
        return self.confident_wrong / self.fields if self.fields else 0.0


def _weighed(truths: Sequence[Truth], results: dict[str, list[PageResult | FileError]]) -> dict[tuple[str, str], float]:
    """Each field's confidence once the other pages of its case are weighed (what a dossier shows)."""
    by_case: dict[str, list[Reading]] = {}
    for truth in truths:
        for r in results.get(truth.file.name, []):
            if isinstance(r, PageResult):
                page_id = f"{truth.file.name}#{r.page}"
                by_case.setdefault(truth.case, []).extend(
                    Reading(page_id, key, v.value, v.confidence, v.valid, r.material) for key, v in r.fields.items()
                )
    out: dict[tuple[str, str], float] = {}
    for readings in by_case.values():
        out.update(corroborate(readings))
    return out


def score(truths: Sequence[Truth], results: dict[str, list[PageResult | FileError]]) -> Score:
    s = Score()
    weighed = _weighed(truths, results)
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
                right = value is not None and field_matches(key, value.value, str(want))
                confidence = weighed.get((f"{truth.file.name}#{page['page']}", key), 0.0)
                if right:
                    s.fields_right += 1
                else:
                    s.misses.append(f"{where}: {key} {value.value if value else '-'!r} ≠ {want!r}")
                if value is not None and value.valid and confidence < SURE:
                    s.to_check += 1
                if value is not None and value.valid and not right and confidence >= SURE:
                    s.confident_wrong += 1
                    s.misses.append(f"{where}: {key} {value.value!r} shown sure ({confidence:.3f}) but wrong")
                if key in IDENTIFIER_TYPES:
                    s.identifiers += 1
                    if value is not None and value.valid and not right:
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
        "confident_wrong": last.confident_wrong,
        "confident_wrong_rate": round(last.confident_wrong_rate, 5),
        "to_check": last.to_check,
        "peak_rss_mb_per_worker": sorted(round(v) for v in peaks.values()),
        "misses": last.misses,
    }


def heldout_set(seed: int, cases: int, cache: Path | None = None) -> Path:
    """The held-out family for `seed`, generated once into a cache folder (deterministic per seed)."""
    from samples.heldout import generate

    root = cache or Path(tempfile.gettempdir()) / "workstation-heldout"
    # The generator's own code is part of the key: a changed template is another set.
    code = hashlib.sha256()
    for source in sorted((Path(__file__).resolve().parent.parent / "samples").rglob("*.py")):
        code.update(source.read_bytes())
    out = root / f"seed-{seed}-cases-{cases}-{code.hexdigest()[:12]}"
    if not (out / ".complete").is_file():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        generate(out, seed=seed, cases=cases, dpi=300)
        (out / ".complete").write_text("ok\n", "utf-8")
    return out


def main(
    engines: Sequence[str] | None,
    *,
    runs: int = 3,
    samples: Path = SAMPLES,
    workers: int | None = None,
    as_json: bool = False,
    heldout: bool = True,
    heldout_seed: int = HELDOUT_SEED,
    heldout_cases: int = HELDOUT_CASES,
) -> int:
    sets = [("committed" if samples == SAMPLES else str(samples), load_truth(samples))]
    if heldout:
        sets.append((f"held-out (seed {heldout_seed})", load_truth(heldout_set(heldout_seed, heldout_cases))))
    chosen = list(engines or [e for e in ENGINES if unavailable_reason(e) is None])
    reports: list[dict[str, Any]] = []
    for engine in chosen:
        reason = unavailable_reason(engine)
        if reason:
            reports.append({"engine": engine, "unavailable": reason})
            continue
        for name, truths in sets:
            reports.append({"set": name, "files": len(truths), **run_engine(engine, truths, runs, workers)})
    if as_json:
        print(json.dumps({"bench": "ocr", "results": reports}, ensure_ascii=False))
        return 0
    for r in reports:
        if "unavailable" in r:
            print(f"{r['engine']}: unavailable — {r['unavailable']}")
            continue
        print(
            f"{r['engine']} on {r['set']}: {r['pages_per_minute']} pages/min "
            f"(median of {r['runs']}: {r['pages_per_minute_runs']}) on {r['workers']} workers, "
            f"start-up {r['startup_seconds']} s\n"
            f"  CER {r['cer']:.2%}  fields {r['field_accuracy']:.1%} of {r['fields']}  "
            f"materials {r['material_accuracy']:.1%} of {r['pages']} pages\n"
            f"  confident-wrong {r['confident_wrong']} ({r['confident_wrong_rate']:.2%})  "
            f"shown as check {r['to_check']}  "
            f"identifiers wrong-but-valid {r['identifiers_wrong_but_valid']} of {r['identifiers']}\n"
            f"  peak RSS per worker {r['peak_rss_mb_per_worker']} MB"
        )
        if r["set"] == "committed" or not r["set"].startswith("held-out"):
            for miss in r["misses"][:20]:
                print(f"    miss: {miss}")
        else:
            # The held-out family is for measuring: its misses are counted, not shown (reading them is tuning).
            print(f"    {len(r['misses'])} misses on the held-out family (not shown; --json lists them)")
    return 0


__all__ = ["heldout_set", "main"]
