"""RapidOCR (PP-OCR models on onnxruntime), the default engine, driven step by step.

RapidOCR's own `RapidOCR.__call__` is not used: it shrinks the whole page to 2000 px before detection
*and* cropping, runs a per-line 0/180° classifier that flips good lines, and lets onnxruntime start
one thread per core in every worker. Here, per page:

1. detection runs on a grey copy of the page, cut to the inked area and shrunk to `det_side` pixels
   on its long side (text lines stay 10+ px high; detection is most of the cost at full size);
2. each detected line is cut from the full-resolution page and scaled straight to the recogniser's
   48-pixel height, so recognition sees sharp glyphs whatever detection ran at;
3. lines are recognised in batches of similar width (little padding) and come back in reading order.

Orientation is decided once per page (`orientation`), never per line. Only the models inside the
rapidocr wheel are used, by path: nothing is downloaded (rapidocr would otherwise fetch a missing
model at start-up).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ocr.engines.base import Box, Line, reading_order
from ocr.errors import EngineFailed, EngineUnavailable
from ocr.preprocess import quadrant_points
from ocr.text import normalize_line

# The models the rapidocr wheel ships (rapidocr/models): PP-OCRv6 small detection and recognition. Its
# third, the per-line 0/180° classifier, is not used: it flipped good lines (orientation() votes per page).
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
REC_HEIGHT = 48  # the recogniser's fixed input height


@dataclass(frozen=True)
class RapidConfig:
    """Settings of RapidEngine. The defaults are what `python -m bench.ocr_engines` chose: the fastest on
    2 cores at 300 dpi that keeps CER ≤ 0.5% (7-pt fine print included) and a worker under 400 MB."""

    # Long side, in px, of the page image detection sees. 960 keeps 7-pt text ~8 px high; at 800 fine
    # print lines start to merge or vanish, at 640 they do. Larger only costs time and memory.
    det_side: int = 960
    trim_margins: bool = True  # detect only inside the inked area's bounding box
    det_thresh: float = 0.3  # DB binarisation threshold of the text probability map
    box_thresh: float = 0.5  # drop detected boxes whose mean probability is below this
    unclip_ratio: float = 1.6  # how far DB grows a detected kernel into the line's box
    # Lines per recognition run. 1 was fastest: batches pad every line to the widest, and the padded
    # tensors (up to 6 × 48 × 2000 px in, 6 × 250 × 18710 scores out) cost 100s of MB at 300 dpi.
    rec_batch: int = 1
    # Narrower lines are padded to this width. PP-OCR's 320 px pads a two-character cell to six times
    # its width for nothing: 0 read as well and cut recognition time by a quarter on forms.
    rec_min_width: int = 0
    min_confidence: float = 0.5  # drop recognised lines below this (table rules, specks)
    mem_arena: bool = False  # onnxruntime CPU arena: keeps each peak's buffers for the process's life
    mem_pattern: bool = False  # onnxruntime memory pattern: pre-plans (and holds) buffers per input shape
    models_dir: str | None = None  # default: the models inside the rapidocr wheel

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RapidConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown RapidOCR option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(cls(), **options)


def models_dir() -> Path:
    """Where the rapidocr wheel keeps its models (found without importing rapidocr)."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("rapidocr is not installed: pip install rapidocr onnxruntime")
    return Path(spec.origin).parent / "models"


def unavailable_reason() -> str | None:
    """None when RapidOCR can start here, else a one-line reason; cheap (imports nothing heavy)."""
    import importlib.util

    for module, package in (("rapidocr", "rapidocr"), ("onnxruntime", "onnxruntime"), ("cv2", "opencv-python")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed: pip install rapidocr onnxruntime"
    missing = [name for name in (DET_MODEL, REC_MODEL) if not (models_dir() / name).is_file()]
    if missing:
        return f"the rapidocr wheel lacks its models ({', '.join(missing)}): reinstall rapidocr"
    return None


def _session(path: Path, config: RapidConfig) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one engine per process, one process per core
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = config.mem_arena
    options.enable_mem_pattern = config.mem_pattern
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _gray(image: Image.Image) -> np.ndarray:
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.mode == "RGB":
        image = image.convert("L")
    return np.asarray(image)


def _ink_bounds(gray: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the page's inked area, padded; the whole page when it is blank.

    Counted on 4×4-pixel averages (scanner noise averages out, a thin stroke still darkens its cell):
    a row or column is inked when at least 2 of its cells are clearly darker than the paper.
    """
    import cv2

    h, w = gray.shape
    step = 4
    small = cv2.resize(gray, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(small[::4, ::4], 90))
    ink = small < paper - 60
    cols = np.nonzero(np.count_nonzero(ink, axis=0) >= 2)[0]
    rows = np.nonzero(np.count_nonzero(ink, axis=1) >= 2)[0]
    if len(cols) == 0 or len(rows) == 0:
        return 0, 0, w, h
    left = max(0, int(cols[0]) * step - pad)
    top = max(0, int(rows[0]) * step - pad)
    right = min(w, (int(cols[-1]) + 1) * step + pad)
    bottom = min(h, (int(rows[-1]) + 1) * step + pad)
    return left, top, right, bottom


def _round32(v: float) -> int:
    return max(32, round(v / 32) * 32)


class RapidEngine:
    name = "rapidocr"

    def __init__(self, config: RapidConfig | None = None, **options: Any) -> None:
        reason = unavailable_reason()
        if reason:
            raise EngineUnavailable(reason)
        self.config = config or RapidConfig.from_options(options)
        try:
            import cv2
            from rapidocr.ch_ppocr_det.utils import DBPostProcess

            cv2.setNumThreads(1)  # resize/warp threads would fight the other workers for the cores
            directory = Path(self.config.models_dir) if self.config.models_dir else models_dir()
            self._det = _session(directory / DET_MODEL, self.config)
            self._rec = _session(directory / REC_MODEL, self.config)
            # orientation() detects before the caller reads the (usually already upright) page:
            # the last detection is kept, keyed by the page's pixels, so read() need not repeat it.
            self._last: tuple[bytes, list[np.ndarray]] | None = None
            keys = self._rec.get_modelmeta().custom_metadata_map.get("character")
        except EngineUnavailable:
            raise
        except Exception as exc:  # a broken model file, an onnxruntime that cannot load it
            raise EngineUnavailable(f"RapidOCR cannot start: {_one_line(exc)}") from exc
        if not keys:
            raise EngineUnavailable(f"{REC_MODEL} carries no character table: reinstall rapidocr")
        # CTC: index 0 is the blank, then the model's characters, then a space.
        self._chars = ["", *keys.splitlines(), " "]
        self._post = DBPostProcess(
            thresh=self.config.det_thresh,
            box_thresh=self.config.box_thresh,
            max_candidates=1000,
            unclip_ratio=self.config.unclip_ratio,
            use_dilation=True,
            score_mode="fast",
        )

    # -- the Engine protocol -------------------------------------------------------------------------

    def read(self, image: Image.Image) -> list[Line]:
        """Recognise the text lines of one upright page, in reading order, boxes in the image's pixels."""
        try:
            gray = _gray(image)
            quads = self._detect_cached(gray)
            if not quads:
                return []
            crops = [self._crop(gray, quad) for quad in quads]
            results = self._recognise(crops)
        except EngineUnavailable:
            raise
        except Exception as exc:
            raise EngineFailed(f"RapidOCR failed on the page: {_one_line(exc)}") from exc
        lines = []
        for quad, (text, confidence) in zip(quads, results, strict=True):
            text = normalize_line(text)
            if text and confidence >= self.config.min_confidence:
                lines.append(Line(text, _bounds(quad), round(confidence, 4)))
        return reading_order(lines)

    # -- more than the protocol -------------------------------------------------------------------

    def detect(self, image: Image.Image) -> list[Box]:
        """Text line boxes only (no recognition), in reading order."""
        boxes = [_bounds(q) for q in self._detect(_gray(image))]
        return [ln.box for ln in reading_order([Line("", b, 1.0) for b in boxes])]

    def orientation(self, image: Image.Image, sample: int = 8) -> tuple[int, float]:
        """How far the page is turned clockwise from upright (0, 90, 180 or 270), with a 0..1 confidence.

        Decided once for the page: text lines are wide, so boxes taller than wide mean a page on its
        side (90/270). Then up to `sample` of the largest lines are read as they are and turned 180°
        (their first 8 characters or so: enough to tell, and cheap), and the way that reads with the
        higher confidence wins; the vote stops after 3 lines that agree clearly. `upright(image, angle)`
        (ocr.engines.base) turns the page upright; reading the unturned page right after reuses this
        detection.
        """
        gray = _gray(image)
        quads = self._detect_cached(gray, keep=True)
        if not quads:
            return 0, 0.0
        boxes = [_bounds(q) for q in quads]
        widths = np.array([b[2] - b[0] for b in boxes], dtype=np.float64)
        heights = np.array([b[3] - b[1] for b in boxes], dtype=np.float64)
        # Weigh by size: long lines say more than one-character boxes, which are square either way.
        wide = float(np.sum(np.maximum(widths, heights) * (widths >= heights)))
        tall = float(np.sum(np.maximum(widths, heights) * (heights > widths)))
        sideways = tall > wide
        side_confidence = max(wide, tall) / max(1.0, wide + tall)
        if sideways:
            # The page turned 90° counter-clockwise, and its lines with it: no second detection.
            size = (gray.shape[1], gray.shape[0])
            quads = [_ordered(quadrant_points(q, size, -90)) for q in quads]
            gray = np.ascontiguousarray(np.rot90(gray, 1))
        margins: list[float] = []  # per line: confidence as it is minus confidence turned 180°
        for quad in sorted(quads, key=lambda q: -_area(_bounds(q)))[:sample]:
            crop = self._crop(gray, quad)[:, : REC_HEIGHT * 8]
            (_, as_is), (_, turned) = self._recognise([crop, np.ascontiguousarray(crop[::-1, ::-1])])
            margins.append(as_is - turned)
            if len(margins) >= 3 and (min(margins) > 0.15 or max(margins) < -0.15):
                break
        if not margins:
            return (90 if sideways else 0), round(side_confidence * 0.5, 3)
        mean = float(np.mean(margins))
        upside_down = mean < 0
        agreeing = sum(1 for m in margins if (m < 0) == upside_down) / len(margins)
        confidence = min(side_confidence, 0.5 + 0.5 * min(1.0, agreeing * abs(mean) * 4))
        angle = (90 if sideways else 0) + (180 if upside_down else 0)
        return angle, round(confidence, 3)

    def carry(self, image: Image.Image, points: Callable[[np.ndarray], np.ndarray]) -> bool:
        """Reuse the detection `orientation()` just made for `image`, the same page turned (upside down pages):
        `points` maps page pixels of the oriented image to `image`'s. The next `read(image)` then recognises
        without detecting again (detection is a third of a page's time). False when there is nothing to carry.
        """
        if self._last is None:
            return False
        gray = _gray(image)
        height, width = gray.shape
        moved = []
        for quad in self._last[1]:
            q = _ordered(points(quad.astype(np.float64)))
            q[:, 0] = np.clip(q[:, 0], 0, width)
            q[:, 1] = np.clip(q[:, 1], 0, height)
            if np.ptp(q[:, 0]) >= 1 and np.ptp(q[:, 1]) >= 1:
                moved.append(q.astype(np.float32))
        self._last = (_pixels_key(gray), moved)
        return True

    # -- steps ------------------------------------------------------------------------------------

    def _detect_cached(self, gray: np.ndarray, keep: bool = False) -> list[np.ndarray]:
        key = _pixels_key(gray)
        last, self._last = self._last, None
        if last is not None and last[0] == key:
            return last[1]
        quads = self._detect(gray)
        if keep:
            self._last = (key, quads)
        return quads

    def _detect(self, gray: np.ndarray) -> list[np.ndarray]:
        """Quadrilaterals (4×2 float, page pixels) of the text lines."""
        import cv2

        h, w = gray.shape
        left, top, right, bottom = (
            _ink_bounds(gray, pad=max(32, max(h, w) // 100)) if self.config.trim_margins else (0, 0, w, h)
        )
        region = gray[top:bottom, left:right]
        rh, rw = region.shape
        # The scale is set by the whole page's long side, so the same text gets the same size in
        # pixels whatever the margins; cutting margins only saves work.
        scale = min(1.0, self.config.det_side / max(h, w))
        dh, dw = _round32(rh * scale), _round32(rw * scale)
        small = cv2.resize(region, (dw, dh), interpolation=cv2.INTER_AREA)
        tensor = small.astype(np.float32) * (1 / 127.5) - 1.0
        tensor = np.ascontiguousarray(np.broadcast_to(tensor, (1, 3, dh, dw)))
        pred = self._det.run(None, {self._det.get_inputs()[0].name: tensor})[0]
        quads, _scores = self._post(pred, (rh, rw))
        result = []
        for quad in quads:
            q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
            q[:, 0] += left
            q[:, 1] += top
            result.append(q)
        return result

    def _crop(self, gray: np.ndarray, quad: np.ndarray) -> np.ndarray:
        """The line's pixels from the full-resolution page, REC_HEIGHT high (uint8)."""
        import cv2

        width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
        height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
        width, height = max(width, 1), max(height, 1)
        angle = math.degrees(math.atan2(float(quad[1][1] - quad[0][1]), float(quad[1][0] - quad[0][0])))
        if abs(angle) < 1.0:
            left, top, right, bottom = _bounds(quad)
            crop = gray[top:bottom, left:right]
        else:
            target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
            matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
            crop = cv2.warpPerspective(
                gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        ch, cw = crop.shape
        if ch == 0 or cw == 0:
            return np.full((REC_HEIGHT, REC_HEIGHT), 255, np.uint8)
        if ch >= 1.5 * cw:  # a vertical line of text: read it turned, as PP-OCR does
            crop = np.ascontiguousarray(np.rot90(crop))
            ch, cw = crop.shape
        new_w = max(1, round(cw * REC_HEIGHT / ch))
        interpolation = cv2.INTER_AREA if ch > REC_HEIGHT else cv2.INTER_LINEAR
        return cv2.resize(crop, (new_w, REC_HEIGHT), interpolation=interpolation)

    def _recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, mean character probability) per crop, in the crops' order."""
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1])
        input_name = self._rec.get_inputs()[0].name
        batch = max(1, self.config.rec_batch)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            width = max(self.config.rec_min_width, max(crops[i].shape[1] for i in chunk))
            tensor = np.zeros((len(chunk), 3, REC_HEIGHT, width), dtype=np.float32)
            for row, i in enumerate(chunk):
                crop = crops[i]
                tensor[row, :, :, : crop.shape[1]] = crop.astype(np.float32) * (1 / 127.5) - 1.0
            probs = self._rec.run(None, {input_name: tensor})[0]
            for row, i in enumerate(chunk):
                results[i] = self._decode(probs[row])
        return results

    def _decode(self, probs: np.ndarray) -> tuple[str, float]:
        """Greedy CTC: best class per step, repeats merged, blanks dropped."""
        best = probs.argmax(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        if not keep.any():
            return "", 0.0
        indices = best[keep]
        confidence = float(probs[keep, indices].mean())
        return "".join(self._chars[i] for i in indices), confidence


def _pixels_key(gray: np.ndarray) -> bytes:
    return hashlib.blake2b(gray.tobytes(), digest_size=16).digest() + repr(gray.shape).encode()


def _ordered(quad: np.ndarray) -> np.ndarray:
    """Corners as detection gives them: top-left, top-right, bottom-right, bottom-left (for a line of text
    lying across the page), whatever turn moved them there."""
    by_x = quad[np.argsort(quad[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def _bounds(quad: np.ndarray) -> Box:
    xs, ys = quad[:, 0], quad[:, 1]
    return math.floor(xs.min()), math.floor(ys.min()), math.ceil(xs.max()), math.ceil(ys.max())


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


__all__ = ["RapidConfig", "RapidEngine", "reading_order"]
