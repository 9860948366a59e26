"""The real command in a real terminal: `workstation demo` (what `make run` starts) reaches the dossier list."""

from __future__ import annotations

import os
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
def test_demo_opens_at_login_and_a_clerk_reaches_the_dossier_list(tmp_path: Path) -> None:
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
        _tmux(socket, "send-keys", "-t", "ws", "q")
    finally:
        _tmux(socket, "kill-server")
