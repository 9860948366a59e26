"""One renderer per material: ``RENDERERS["M05"](ctx)`` gives the upright pages and what they print."""

from __future__ import annotations

from collections.abc import Callable

from samples.docs.base import Ctx, Rendered
from samples.docs.cards import render_m03, render_m05
from samples.docs.contracts import render_m10, render_m11, render_m19, render_m20, render_m21
from samples.docs.forms import render_m01, render_m02, render_m06, render_m07
from samples.docs.titles import render_m08, render_m09, render_m12

RENDERERS: dict[str, Callable[[Ctx], Rendered]] = {
    "M01": render_m01,
    "M02": render_m02,
    "M03": render_m03,
    "M05": render_m05,
    "M06": render_m06,
    "M07": render_m07,
    "M08": render_m08,
    "M09": render_m09,
    "M10": render_m10,
    "M11": render_m11,
    "M12": render_m12,
    "M19": render_m19,
    "M20": render_m20,
    "M21": render_m21,
}

NAMES = {
    "M01": "不动产登记申请书",
    "M02": "询问笔录",
    "M03": "居民身份证",
    "M05": "营业执照",
    "M06": "法定代表人身份证明书",
    "M07": "授权委托书",
    "M08": "不动产权证书",
    "M09": "不动产登记证明",
    "M10": "商品房买卖合同",
    "M11": "存量房买卖合同",
    "M12": "税收完税证明",
    "M19": "借款合同",
    "M20": "抵押合同",
    "M21": "解除抵押证明",
}

__all__ = ["NAMES", "RENDERERS", "Ctx", "Rendered"]
