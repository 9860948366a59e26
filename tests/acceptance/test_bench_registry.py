"""A 60 MB page uploaded to a registry process: its memory stays flat (the upload streams to disk)."""

from __future__ import annotations

import pytest

from bench.registry import measure_upload

pytestmark = pytest.mark.slow


def test_a_60_mb_upload_grows_the_registrys_memory_by_less_than_20_mb() -> None:
    upload = measure_upload(60)
    assert upload.peak_growth_mb < 20, upload
    assert upload.rss_mb > 20  # a real process was measured (a Python interpreter with the app loaded)
