"""One server process with real short-lived programs: output, log file, outcome, TERM -> grace -> KILL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server import lifetime
from llama_wrangler.server.process import NOTE_PREFIX, ProcessOutcome, ServerProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals are POSIX")

SIGTERM_DEAF = ("import signal, sys, time\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "print('deaf', flush=True)\n"
                "time.sleep(60)\n")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def run_to_end(qtbot: QtBot, process: ServerProcess) -> tuple[ProcessOutcome, list[str]]:
    lines: list[str] = []
    process.line.connect(lines.append)
    with qtbot.waitSignal(process.finished, timeout=20_000) as blocker:
        process.start()
    return blocker.args[0], lines


@pytest.mark.parametrize(("outcome", "text"), [
    (ProcessOutcome("llama-server", 0), "llama-server exited (exit code 0)."),
    (ProcessOutcome("llama-server", 3), "llama-server exited (exit code 3)."),
    (ProcessOutcome("llama-server", None), "llama-server exited (killed by a signal)."),
    (ProcessOutcome("llama-server", None, "No such file or directory"),
     "llama-server could not be started: No such file or directory."),
])
def test_outcome_reads_as_a_sentence_for_a_user(outcome: ProcessOutcome, text: str) -> None:
    assert str(outcome) == text
    assert outcome.was_successful() is (outcome.exit_code == 0)


def test_output_lines_log_file_and_exit_code(qtbot: QtBot, tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "server.log"
    process = ServerProcess(python("print('one'); print('two\\r'); print('no newline', end=''); raise SystemExit(3)"),
                            log_path=log_path)
    process.note("starting")
    outcome, lines = run_to_end(qtbot, process)
    assert outcome == ProcessOutcome("llama-server", 3)
    assert lines == ["one", "two", "no newline", f"{NOTE_PREFIX}llama-server exited (exit code 3)"]
    assert process.tail() == ["one", "two", "no newline"]  # our notes stay out of error messages
    assert log_path.read_text(encoding="utf-8").splitlines() == [f"{NOTE_PREFIX}starting", *lines]
    assert not process.running and process.pid > 0


def test_a_program_that_cannot_start_has_an_outcome_saying_why(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Launched directly: through setpriv, the exec would fail in setpriv (exit code 127) instead.
    monkeypatch.setattr(lifetime, "launch_prefix", list)
    process = ServerProcess([str(tmp_path / "missing-server")])
    outcome, lines = run_to_end(qtbot, process)
    assert outcome.start_error and outcome.exit_code is None
    assert str(outcome).startswith("llama-server could not be started: ")
    assert lines == [f"{NOTE_PREFIX}{str(outcome).removesuffix('.')}"]


def test_terminate_kills_after_the_grace_period_when_sigterm_is_ignored(qtbot: QtBot) -> None:
    process = ServerProcess(python(SIGTERM_DEAF))
    lines: list[str] = []
    process.line.connect(lines.append)
    process.start()
    qtbot.waitUntil(lambda: "deaf" in lines, timeout=20_000)
    with qtbot.waitSignal(process.finished, timeout=20_000) as blocker:
        process.terminate(grace_s=0.2)
    assert blocker.args[0] == ProcessOutcome("llama-server", None)
    assert f"{NOTE_PREFIX}no exit after SIGTERM; sending SIGKILL" in lines


def test_stop_before_ready_kills_at_once(qtbot: QtBot) -> None:
    process = ServerProcess(python(SIGTERM_DEAF))
    lines: list[str] = []
    process.line.connect(lines.append)
    process.start()
    qtbot.waitUntil(lambda: "deaf" in lines, timeout=20_000)
    with qtbot.waitSignal(process.finished, timeout=5_000):
        process.stop(ready=False, grace_s=120.0)  # a grace period no wait below could outlast
    assert f"{NOTE_PREFIX}stopping before ready: SIGKILL" in lines
    assert not any("SIGTERM" in line for line in lines)


def test_reap_waits_kills_and_reports_without_an_event_loop(qtbot: QtBot) -> None:
    process = ServerProcess(python(SIGTERM_DEAF))
    outcomes: list[ProcessOutcome] = []
    process.finished.connect(outcomes.append)
    with qtbot.waitSignal(process.started, timeout=20_000):
        process.start()
    process.terminate(grace_s=120.0)
    process.reap(200)
    assert outcomes == [ProcessOutcome("llama-server", None)]
    process.reap(200)  # a second time changes nothing: finished is emitted once
    assert len(outcomes) == 1
