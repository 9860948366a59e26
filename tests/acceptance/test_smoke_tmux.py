"""The real command in a real terminal: `workstation demo` (what `make run` starts), login → intake → submit.

The demo's first dossier gets the sample scans of case 01 through the hot folder; the OCR pool reads them in the
background while the clerk logs in, and the dossier is complete once they are read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _tmux(socket: str, *args: str) -> str:
    env = {**os.environ, "TERM": "xterm-256color"}
    out = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, env=env, timeout=30)
    return out.stdout


def _wait_for(socket: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(socket, "capture-pane", "-p", "-t", "ws")
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)")
def _wait_for_all_read(socket: str, timeout: float = 240.0) -> str:
    """The dossier header's "OCR n/m read" until every page is read (real RapidOCR on 2 cores)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(socket, "capture-pane", "-p", "-t", "ws")
        found = re.search(r"OCR (\d+)/(\d+) read", screen)
        if found and int(found.group(2)) >= 10 and found.group(1) == found.group(2):
            return screen
        time.sleep(1.0)
    raise AssertionError(f"the sample scans were not all read; screen was:\n{screen}")


def test_demo_login_intake_submit(tmp_path: Path) -> None:
    socket = f"ws-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).parent / "workstation"
    command = f"{exe} --data-dir {tmp_path / 'demo'} demo"
    _tmux(socket, "new-session", "-d", "-s", "ws", "-x", "80", "-y", "24", command)
    try:
        _wait_for(socket, "Log in")
        _tmux(socket, "send-keys", "-t", "ws", "clerk1")
        _wait_for(socket, "clerk1")  # the app has taken the keys; only then move on
        _tmux(socket, "send-keys", "-t", "ws", "Enter")
        time.sleep(1.0)
        _tmux(socket, "send-keys", "-t", "ws", "demo1234")
        _wait_for(socket, "••••••••")
        _tmux(socket, "send-keys", "-t", "ws", "Enter")
        _wait_for(socket, "3 dossiers")
        screen = _wait_for(socket, "ENT_NONRES_TRANSFER", timeout=10)  # columns size to their rows once drawn
        assert "draft" in screen
        _tmux(socket, "send-keys", "-t", "ws", "Enter")  # the newest dossier: the one the scans go to
        _wait_for(socket, "企业购买非住宅")
        screen = _wait_for_all_read(socket)
        assert "材料齐全 nothing missing" in screen, screen
        _tmux(socket, "send-keys", "-t", "ws", "s")
        screen = _wait_for(socket, "已受理 submitted", timeout=30)
        assert "submitted @" in screen or "status submitted" in screen
        _tmux(socket, "send-keys", "-t", "ws", "Escape")
        _wait_for(socket, "submitted", timeout=10)
        _tmux(socket, "send-keys", "-t", "ws", "q")
    finally:
        _tmux(socket, "kill-server")
