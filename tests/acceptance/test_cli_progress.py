"""Long work on the command line shows its progress on a terminal, and stays quiet in a pipe or with --json."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_cli import ws
from tests.replay_pages import make_page, record_pages
from workstation.cli_progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_pages_read_rate_and_time_left_on_a_terminal() -> None:
    out, clock = io.StringIO(), _Clock()
    progress = Progress("识别 reading", 4, stream=out, isatty=lambda: True, clock=clock)
    assert progress.enabled
    assert "0/4" in progress.line() and "正在启动 starting" in progress.line()
    clock.now += 10
    progress.advance()
    clock.now += 10
    progress.advance()
    line = progress.line()
    assert "2/4 页 pages" in line
    assert "0.10 页/秒 pages/s" in line  # 2 pages in 20 s
    assert "约剩 about 20 秒 s left" in line  # 2 more at that rate
    assert line in out.getvalue()
    progress.stop()
    assert out.getvalue().endswith("\n")


def test_nothing_is_written_in_a_pipe_or_when_asked_to_be_quiet() -> None:
    for kwargs in ({"isatty": lambda: False}, {"isatty": lambda: True, "quiet": True}):
        out = io.StringIO()
        with Progress("识别 reading", 3, stream=out, interval=0.01, **kwargs) as progress:  # type: ignore[arg-type]
            progress.advance(3)
        assert out.getvalue() == ""


def _intake_desk(tmp_path: Path) -> tuple[Path, str, list[Path], dict[str, str]]:
    data = tmp_path / "desk"
    pages = [make_page(tmp_path / f"scan-{i}.png", seed=700 + i) for i in range(3)]
    recordings = record_pages(pages, tmp_path / "readings.json")
    env = {"WS_OCR_ENGINE": f"replay:{recordings}"}
    assert ws(data, "user", "add", "clerk1", "--role", "clerk").returncode == 0
    new = ws(
        data, "--as", "clerk1", "dossier", "new", "--business", "ENT_NONRES_TRANSFER", "--applicant-kind", "enterprise",
        "--json",
    )  # fmt: skip
    return data, json.loads(new.stdout)["number"], pages, env


def _run_with_stderr_on_a_terminal(data: Path, args: list[str], extra: dict[str, str]) -> tuple[int, str, str]:
    """The command with stderr on a pseudo-terminal (as in a clerk's shell) and stdout in a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env.update(
        WS_DATA_DIR=str(data), WS_ADMIN_PASSWORD="admin-pass-1", WS_USER="clerk1", WS_PASSWORD="clerk-pass-1", **extra
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "workstation", *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output for 120 s: {seen!r}")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.stdout is not None
    stdout = proc.stdout.read().decode()
    return proc.wait(), stdout, seen.decode(errors="replace")


@pytest.mark.slow
def test_intake_add_shows_progress_on_a_terminal_but_not_in_a_pipe_or_with_json(tmp_path: Path) -> None:
    data, number, pages, env = _intake_desk(tmp_path)
    code, stdout, terminal = _run_with_stderr_on_a_terminal(
        data, ["intake", "add", str(pages[0]), str(pages[1]), "--dossier", number], env
    )
    assert code == 0, terminal
    assert "识别 reading 2/2 页 pages" in terminal and "页/秒 pages/s" in terminal
    assert "识别 reading" not in stdout and "页/秒" not in stdout  # the figures go to stderr, not to what scripts read

    piped = ws(data, "--as", "clerk1", "intake", "add", str(pages[2]), "--dossier", number, extra_env=env)
    assert piped.returncode == 0, piped.stderr
    assert "识别 reading" not in piped.stderr and "\r" not in piped.stderr

    more = make_page(tmp_path / "scan-json.png", seed=799)
    record_pages([*pages, more], Path(env["WS_OCR_ENGINE"].removeprefix("replay:")))
    code, stdout, terminal = _run_with_stderr_on_a_terminal(
        data, ["intake", "add", str(more), "--dossier", number, "--json"], env
    )
    assert code == 0, terminal
    assert "识别 reading" not in terminal
    assert json.loads(stdout.splitlines()[0])["outcome"] == "attached"


def test_results_are_printed_above_the_line_which_is_then_drawn_again() -> None:
    out, results = io.StringIO(), io.StringIO()
    progress = Progress(
        "识别 reading", 2, unit="文件 files", rate_unit="文件/秒 files/s", stream=out, isatty=lambda: True
    )
    progress.start()
    progress.above("scan-1.png p1: M05", results)
    progress.advance()
    progress.stop()
    assert results.getvalue() == "scan-1.png p1: M05\n"  # the result itself carries no control characters
    drawn = out.getvalue()
    assert "\r\x1b[K" in drawn and "1/2 文件 files" in drawn and "文件/秒 files/s" in drawn


@pytest.mark.slow
def test_extract_shows_files_read_on_a_terminal_and_nothing_with_json(tmp_path: Path) -> None:
    """The real engine on two small pages and one bad file: the bad file's line and the pages reach their streams."""
    pages = [make_page(tmp_path / f"scan-{i}.png", seed=720 + i) for i in range(2)]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, stdout, terminal = _run_with_stderr_on_a_terminal(
        tmp_path / "unused", ["extract", str(pages[0]), str(bad), str(pages[1])], {}
    )
    assert code == 2, terminal  # one bad input among good ones
    assert "识别 reading 3/3 文件 files" in terminal and "完成 done" in terminal
    assert "broken.png" in terminal  # its one-line error, above the progress line
    assert "scan-0.png p1:" in stdout and "scan-1.png p1:" in stdout and "识别 reading" not in stdout
    code, stdout, terminal = _run_with_stderr_on_a_terminal(
        tmp_path / "unused", ["extract", str(pages[0]), "--json"], {}
    )
    assert code == 0, terminal
    assert "识别 reading" not in terminal
    assert json.loads(stdout.splitlines()[0])["file"] == "scan-0.png"
