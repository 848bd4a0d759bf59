"""Download work (services.hub_work) as jobs on real QThreads against the loopback hub: signals on the GUI
thread, cancel keeps the partial, the persisted queue brings interrupted downloads back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread
from pytestqt.qtbot import QtBot

from llama_wrangler.library.origins import HfOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import Progress
from llama_wrangler.services.hub_work import HubWork
from llama_wrangler.settings import Settings
from llama_wrangler.sources.partials import list_partials
from llama_wrangler.workers.jobs import Job, JobManager, JobState
from tests.support.fake_hub import FakeHub, Fault
from tests.support.hf_repos import GGUF_REPO, PublishedGGUF


def _jobs(hub: FakeHub, app_paths: AppPaths, library: Library) -> HubWork:
    settings = Settings()
    settings.downloads.hf_endpoint = hub.endpoint
    settings.server.context_size = 512
    return HubWork(app_paths, lambda: settings, library)


def test_download_job_finishes_with_a_record(qtbot: QtBot, hub: FakeHub, gguf_repo: PublishedGGUF,
                                             app_paths: AppPaths, library: Library) -> None:
    manager = JobManager(limits={"download": 2}, jobs_file=app_paths.jobs_file)
    job = Job.from_work(_jobs(hub, app_paths, library).pull(
        f"https://huggingface.co/{GGUF_REPO}/blob/main/tiny-Q8_0.gguf"))
    reports: list[Progress] = []
    threads: list[QThread] = []
    job.progress.connect(reports.append)
    job.progress.connect(lambda _p: threads.append(QThread.currentThread()))
    with qtbot.waitSignal(job.finished, timeout=20_000) as blocker:
        manager.submit(job)
    record = blocker.args[0]
    assert isinstance(record, ModelRecord) and isinstance(record.origin, HfOrigin)
    assert record.origin.quant == "Q8_0"
    assert reports and reports[-1].done == reports[-1].total
    assert all(t is QThread.currentThread() for t in threads)
    assert manager.interrupted() == []


def test_cancel_keeps_partial_and_queue_offers_it_again(qtbot: QtBot, hub: FakeHub, gguf_repo: PublishedGGUF,
                                                         app_paths: AppPaths, library: Library) -> None:
    size = gguf_repo.files["tiny-F16.gguf"].stat().st_size
    hub.add_fault("tiny-F16.gguf", Fault.slow(size // 4))  # ~4 s: cancelled long before the end
    factory = _jobs(hub, app_paths, library)
    manager = JobManager(jobs_file=app_paths.jobs_file)
    job = Job.from_work(factory.pull(f"hf:{GGUF_REPO}:F16"))
    with qtbot.waitSignal(job.progress, timeout=20_000, check_params_cb=lambda p: p.done > 0):
        manager.submit(job)
    # While it runs, the queue file names it: an app killed now offers it again on start.
    [entry] = JobManager(jobs_file=app_paths.jobs_file).interrupted()
    assert entry["persist"] == {"type": "hf-pull", "input": f"hf:{GGUF_REPO}:F16"}
    with qtbot.waitSignal(job.failed, timeout=20_000):
        manager.cancel(job.job_id)
    assert job.state == JobState.CANCELLED
    [partial] = list_partials(app_paths)
    assert 0 < partial.bytes_on_disk < size
    # The next start: re-create the job from the persisted entry and let it finish from the partial.
    hub.clear_faults()
    work = factory.from_persisted(entry)
    assert work is not None and work.title == job.title
    again = Job.from_work(work)
    with qtbot.waitSignal(again.finished, timeout=20_000):
        JobManager().submit(again)
    assert list_partials(app_paths) == []
    assert Path(again.result.path).stat().st_size == size  # type: ignore[attr-defined]


def test_failed_job_reports_the_hub_message(qtbot: QtBot, hub: FakeHub, gguf_repo: PublishedGGUF,
                                            app_paths: AppPaths, library: Library) -> None:
    job = Job.from_work(_jobs(hub, app_paths, library).pull("hf:org/does-not-exist:Q4_K_M"))
    with qtbot.waitSignal(job.failed, timeout=20_000) as blocker:
        JobManager().submit(job)
    assert "org/does-not-exist was not found on the Hub" in blocker.args[0]
    assert job.state == JobState.FAILED
