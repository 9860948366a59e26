"""A second, held-out family of sample documents, for measuring how extraction travels to unseen issuers.

The committed samples (``samples/docs``) are what field extraction was tuned on. This family draws the
same kinds of cases (``samples.facts``) with the same page, scan and writer machinery, but through its
own renderers: other editions, wording and layouts of each material. Nothing of it is committed; it is
generated on demand:

    python -m samples.generate --heldout --out DIR --seed N --cases K --dpi 300

Truth files have the samples' format (samples/README.md) plus a ``layout`` list per page naming the
layout classes the page shows (``base.LAYOUTS``), which scorers ignore.
"""

from samples.heldout.base import LAYOUTS
from samples.heldout.build import generate, render
from samples.heldout.plan import heldout_plan

__all__ = ["LAYOUTS", "generate", "heldout_plan", "render"]
