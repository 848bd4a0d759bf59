"""JobManager and Job: real QThreads, signals observed with qtbot on the GUI thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QThread
from pytestqt.qtbot import QtBot

from llama_wrangler.errors import DownloadError
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
from llama_wrangler.workers.jobs import Job, JobManager, JobState
from llama_wrangler.workers.queue_file import PersistedQueue, read_jobs_file


def _gate_work(gate: threading.Event, result: object = "ok"):  # type: ignore[no-untyped-def]
    def work(progress: ProgressCallback, cancel: CancelToken) -> object:
        progress(Progress("waiting", 0, 1))
        while not gate.wait(0.01):
            cancel.raise_if_cancelled()
        progress(Progress("waiting", 1, 1))
        return result
    return work


def test_job_signals_arrive_on_gui_thread(qtbot: QtBot) -> None:
    gate = threading.Event()
    manager = JobManager()
    job = Job("download", "x", _gate_work(gate, 42))
    threads: list[QThread] = []
    job.progress.connect(lambda _p: threads.append(QThread.currentThread()))
    job.finished.connect(lambda _r: threads.append(QThread.currentThread()))
    with qtbot.waitSignal(job.progress):
        manager.submit(job)
    assert job.state == JobState.RUNNING
    with qtbot.waitSignal(job.finished) as blocker:
        gate.set()
    assert blocker.args == [42]
    assert job.state == JobState.DONE
    main = QThread.currentThread()
    assert threads and all(t is main for t in threads)


def test_per_kind_limits_and_separate_queues(qtbot: QtBot) -> None:
    gate = threading.Event()
    manager = JobManager(limits={"download": 2, "convert": 1})
    downloads = [manager.submit(Job("download", f"d{i}", _gate_work(gate))) for i in range(3)]
    converts = [manager.submit(Job("convert", f"c{i}", _gate_work(gate))) for i in range(2)]
    assert [j.state for j in downloads] == [JobState.RUNNING, JobState.RUNNING, JobState.QUEUED]
    # A queued download does not hold up conversions, and conversions run one at a time.
    assert [j.state for j in converts] == [JobState.RUNNING, JobState.QUEUED]
    gate.set()
    qtbot.waitUntil(lambda: all(j.state == JobState.DONE for j in downloads + converts), timeout=10_000)


def test_cancel_running_and_queued(qtbot: QtBot) -> None:
    gate = threading.Event()
    manager = JobManager(limits={"download": 1})
    first = manager.submit(Job("download", "a", _gate_work(gate)))
    second = manager.submit(Job("download", "b", _gate_work(gate)))
    with qtbot.waitSignal(second.failed):
        manager.cancel(second.job_id)
    assert second.state == JobState.CANCELLED
    with qtbot.waitSignal(first.failed) as blocker:
        manager.cancel(first.job_id)
    assert blocker.args == ["Cancelled."]
    assert first.state == JobState.CANCELLED


def test_failure_message_and_retry(qtbot: QtBot) -> None:
    attempts: list[int] = []

    def flaky(_progress: ProgressCallback, _cancel: CancelToken) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise DownloadError("The hub hung up.")
        return "second time"

    manager = JobManager()
    job = Job("download", "flaky", flaky)
    with qtbot.waitSignal(job.failed) as blocker:
        manager.submit(job)
    assert blocker.args == ["The hub hung up."]
    assert job.state == JobState.FAILED
    with qtbot.waitSignal(job.finished) as done:
        manager.retry(job.job_id)
    assert done.args == ["second time"]


def test_unexpected_exception_becomes_failed(qtbot: QtBot) -> None:
    def broken(_progress: ProgressCallback, _cancel: CancelToken) -> object:
        raise ZeroDivisionError("boom")

    job = Job("convert", "broken", broken)
    with qtbot.waitSignal(job.failed) as blocker:
        JobManager().submit(job)
    assert "boom" in blocker.args[0]
    assert job.state == JobState.FAILED


def test_queue_persisted_and_offered_again(qtbot: QtBot, tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.json"
    gate = threading.Event()
    manager = JobManager(limits={"download": 1}, jobs_file=jobs_file)
    running = manager.submit(Job("download", "a", _gate_work(gate), persist={"repo": "o/a"}))
    manager.submit(Job("download", "b", _gate_work(gate), persist={"repo": "o/b"}))
    manager.submit(Job("download", "no persist", _gate_work(gate)))
    entries = read_jobs_file(jobs_file).entries
    assert [e["persist"]["repo"] for e in entries] == ["o/a", "o/b"]
    # An app exit mid-download leaves both entries for the next start.
    manager.shutdown()
    assert running.wait(5000)
    restarted = JobManager(jobs_file=jobs_file)
    assert [e["title"] for e in restarted.interrupted()] == ["a", "b"]


def test_finished_jobs_leave_the_persisted_queue(qtbot: QtBot, tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.json"
    gate = threading.Event()
    gate.set()
    manager = JobManager(jobs_file=jobs_file)
    job = manager.submit(Job("download", "a", _gate_work(gate), persist={"repo": "o/a"}))
    qtbot.waitUntil(lambda: job.state == JobState.DONE, timeout=5000)
    assert read_jobs_file(jobs_file).entries == []


def test_corrupt_jobs_file_reads_empty(tmp_path: Path) -> None:
    bad = tmp_path / "jobs.json"
    bad.write_text("{not json", encoding="utf-8")
    assert read_jobs_file(bad) == PersistedQueue([], [])
    assert JobManager(jobs_file=bad).interrupted() == []


def test_one_malformed_queue_entry_is_left_out_and_kept_aside(qtbot: QtBot, tmp_path: Path) -> None:
    jobs_file = tmp_path / "jobs.json"
    good = [{"job_id": "job-1", "kind": "download", "title": "a", "persist": {"repo": "o/a"}},
            {"job_id": "job-3", "kind": "convert", "title": "c", "persist": {"repo": "o/c"}}]
    broken = {"job_id": "job-2", "kind": "download", "title": "b", "persist": "o/b"}
    jobs_file.write_text(json.dumps({"version": 1, "jobs": [good[0], broken, good[1], 7]}), encoding="utf-8")
    manager = JobManager(jobs_file=jobs_file)
    assert manager.interrupted() == good
    assert manager.queue_problem is not None
    assert "'b' ('persist' is not a JSON object)" in manager.queue_problem
    assert "'job entry 4' (not a JSON object)" in manager.queue_problem
    assert "jobs.bad-entries.jsonl" in manager.queue_problem
    kept = [json.loads(line) for line in (tmp_path / "jobs.bad-entries.jsonl").read_text().splitlines()]
    assert [k["entry"] for k in kept] == [broken, 7]
    # The queue file keeps the good entries only: the next start restores them and reports nothing.
    again = JobManager(jobs_file=jobs_file)
    assert again.interrupted() == good
    assert again.queue_problem is None
    assert len((tmp_path / "jobs.bad-entries.jsonl").read_text().splitlines()) == 2


def test_submit_same_id_twice_refused(qtbot: QtBot) -> None:
    manager = JobManager()
    gate = threading.Event()
    gate.set()
    job = manager.submit(Job("download", "a", _gate_work(gate), job_id="same"))
    with pytest.raises(ValueError, match="already"):
        manager.submit(Job("download", "b", _gate_work(gate), job_id="same"))
    qtbot.waitUntil(lambda: job.is_final, timeout=5000)
