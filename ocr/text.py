"""Pure helpers for the text an engine returns: spacing around Chinese characters, width of letters and digits.

Stdlib only.
"""

from __future__ import annotations

import re
import unicodedata

# Characters written without spaces between them: CJK ideographs (BMP blocks and the supplementary
# planes), kana (misreads of Chinese are spaced like it), bopomofo, enclosed/compatibility forms (㎡),
# and the CJK and full-width punctuation below.
_IDEOGRAPHIC = (
    "\u2e80-\u2fdf"  # radicals
    "\u3040-\u30ff"  # kana
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    "\u3200-\u33ff"  # enclosed CJK, compatibility (㎡)
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B-G
)
# Punctuation that Chinese typography never spaces on either side: 、。〈〉《》「」【】〔〕 and the
# full-width ，：；（）！？ etc. (U+3000, the ideographic space, is whitespace, not in this set).
_PUNCT = (
    "\u3001-\u303f"
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
)
# Horizontal whitespace only: a newline separates lines, it is not a gap in one.
_SPACE = r"[^\S\n]+"
_CJK = _IDEOGRAPHIC + _PUNCT
_GAP = re.compile(
    rf"(?<=[{_IDEOGRAPHIC}]){_SPACE}(?=[{_IDEOGRAPHIC}])"  # 不 动 产 → 不动产
    rf"|(?<=[{_PUNCT}]){_SPACE}(?=\S)"  # 面积： 89.5 → 面积：89.5
    rf"|(?<=\S){_SPACE}(?=[{_PUNCT}])"  # 12 号 ， → 12 号，
)
_RUN = re.compile(_SPACE)
# Full-width digits and Latin letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A) are the ASCII ones printed wide.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}


def is_cjk(ch: str) -> bool:
    """True for a Chinese character or Chinese/full-width punctuation (one code point)."""
    return re.fullmatch(f"[{_CJK}]", ch) is not None


def strip_cjk_spaces(text: str) -> str:
    """Remove the spaces Chinese text is not written with; keep those between Latin words and numbers.

    Tesseract's chi_sim separates every ideograph with a space: "不 动 产 权 证 书" → "不动产权证书".
    Spaces next to Chinese punctuation go too ("面积 ： 89.56" → "面积：89.56"). A gap between an ideograph
    and a Latin word or number stays, because forms print one there ("统一社会信用代码 9137…"), and so do
    spaces between Latin words ("Room 12"). Idempotent.
    """
    return _GAP.sub("", text)


def normalize_line(text: str) -> str:
    """One recognised line as printed, in one canonical spelling.

    NFC; full-width digits and Latin letters → ASCII (they are the same characters, and search and the
    identifier parsers want ASCII); Chinese and full-width punctuation stays as printed (，。：（）are the
    document's own spelling, shown to reviewers and put in the searchable PDF); no spaces where Chinese is
    written without them (`strip_cjk_spaces`); every other whitespace run (tab, U+3000, NBSP) becomes one
    space; ends trimmed. Idempotent.
    """
    text = unicodedata.normalize("NFC", text).translate(_HALF_WIDTH)
    text = _RUN.sub(" ", text)
    return strip_cjk_spaces(text).strip()
