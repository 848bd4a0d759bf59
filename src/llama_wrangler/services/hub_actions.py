"""Hugging Face, Ollama and conversion work the window starts, all as jobs (nothing touches the network or
runs a tool on the GUI thread): repo lookups for the Add-model dialog, downloads, conversions,
re-quantizations. The work itself is :class:`~llama_wrangler.services.hub_work.HubWork`, the same the
command line runs in the foreground; jobs the last session left unfinished are queued again on start
(their partial files make a download a resume)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.services.messages import Messenger
from llama_wrangler.settings import Settings
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager, JobState

if TYPE_CHECKING:
    from llama_wrangler.library.records import ModelRecord
    from llama_wrangler.library.registry import Library
    from llama_wrangler.services.hub_work import HubWork
    from llama_wrangler.sources.hf_input import HfRequest
    from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing
    from llama_wrangler.sources.hf_search import SearchHit
    from llama_wrangler.sources.ollama_input import OllamaRequest
    from llama_wrangler.sources.ollama_pull import OllamaListing
    from llama_wrangler.work import Work

log = logging.getLogger(__name__)


class HubActions(QObject):
    def __init__(self, paths: AppPaths, library: Library, jobs: JobManager, settings: Settings,
                 messenger: Messenger, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self._library = library
        self._jobs = jobs
        self._settings = settings
        self._messenger = messenger
        self._work: HubWork | None = None
        self._pool_memory: Callable[[], int] = lambda: 0

    def set_settings(self, settings: Settings) -> None:
        self._settings = settings

    def set_pool_memory(self, provider: Callable[[], int]) -> None:
        """Free memory of the worker pool when models are split across it (counted by the fit estimate)."""
        self._pool_memory = provider

    def _hub_work(self) -> HubWork:
        # huggingface_hub and httpx take ~0.4 s to import: loaded on first use, not at app start.
        if self._work is None:
            from llama_wrangler.services.hub_work import HubWork

            self._work = HubWork(self._paths, lambda: self._settings, self._library)
        return self._work

    # -- lookups ---------------------------------------------------------------------------------------
    def inspect(self, request: HfRequest) -> Job:
        """Look a repo up in the background. The job leaves the manager when done (it has no row)."""
        from llama_wrangler.sources.hf_hub import HubAccess
        from llama_wrangler.sources.hf_repo import inspect_repo
        from llama_wrangler.sources.machine import MachineResources

        settings = self._settings
        access = HubAccess.from_settings(settings.downloads)
        context = settings.server.context_size
        pooled = self._pool_memory()

        def work(_progress: ProgressCallback, cancel: CancelToken) -> RepoListing:
            machine = dataclasses.replace(MachineResources.detect(), pooled_bytes=pooled)
            listing = inspect_repo(request, access, machine=machine, context=context)
            cancel.raise_if_cancelled()
            return listing

        return self._lookup(Job(JobKind.INSPECT, f"Look up {request.repo_id}", work))

    def search(self, query: str, sort: str) -> Job:
        """Search the Hub for GGUF repos in the background (``sort``: downloads or trending)."""
        from llama_wrangler.sources.hf_hub import HubAccess
        from llama_wrangler.sources.hf_search import SearchSort, search_hub

        access = HubAccess.from_settings(self._settings.downloads)

        def work(_progress: ProgressCallback, cancel: CancelToken) -> list[SearchHit]:
            hits = search_hub(access, query, sort=SearchSort(sort))
            cancel.raise_if_cancelled()
            return hits

        return self._lookup(Job(JobKind.INSPECT, f"Search {query}", work))

    def inspect_ollama(self, request: OllamaRequest) -> Job:
        """Fetch an Ollama model's manifest in the background (its size and layers, before any download)."""
        from llama_wrangler.sources.machine import MachineResources
        from llama_wrangler.sources.ollama_pull import inspect_ollama

        options = self._hub_work().ollama_options()

        def work(_progress: ProgressCallback, cancel: CancelToken) -> OllamaListing:
            listing = inspect_ollama(request, options, MachineResources.detect())
            cancel.raise_if_cancelled()
            return listing

        return self._lookup(Job(JobKind.INSPECT, f"Look up {request.display}", work))

    def _lookup(self, job: Job) -> Job:
        job.state_changed.connect(lambda _state, j=job: self._forget_when_final(j))
        return self._jobs.submit(job)

    def _forget_when_final(self, job: Job) -> None:
        if job.is_final:
            # After the signal's other receivers ran (the dialog reads the result first).
            QTimer.singleShot(0, lambda: self._forget(job.job_id))

    def _forget(self, job_id: str) -> None:
        with contextlib.suppress(KeyError, RuntimeError):  # already gone, or somehow running again
            self._jobs.remove(job_id)

    # -- long jobs -------------------------------------------------------------------------------------
    def download(self, listing: RepoListing, choice: QuantChoice) -> Job:
        """Queue a download of ``choice``, pinned to the commit the listing saw."""
        return self._submit(self._hub_work().download(listing, choice))

    def pull(self, reference: str) -> Job:
        """Queue a download of a reference that names one model (a Hugging Face file or quant, or an
        Ollama model such as ``ollama:llama3.2:1b``)."""
        return self._submit(self._hub_work().pull(reference))

    def convert(self, reference: str, quant: str) -> Job:
        """Download a safetensors repo, convert it to GGUF and quantize it (one conversion job)."""
        return self._submit(self._hub_work().convert(reference, quant=quant))

    def requantize(self, record: ModelRecord, quant: str) -> Job:
        return self._submit(self._hub_work().quantize(record.path, quant,
                                                      title=f"Re-quantize {record.name} to {quant}"))

    def restore_interrupted(self) -> int:
        """Queue again the jobs the last session left unfinished."""
        entries = self._jobs.interrupted()  # reads the queue file; bad entries are reported, not dropped
        if self._jobs.queue_problem:
            self._messenger.warning(self._jobs.queue_problem)
        if not entries:
            return 0
        restored = 0
        for entry in entries:
            work = self._hub_work().from_persisted(entry)
            if work is None:
                continue
            job = Job.from_work(work)
            if isinstance(entry.get("title"), str):
                job.title = entry["title"]
            self._submit_job(job)
            restored += 1
        if restored:
            self._messenger.info(f"Resuming {restored} unfinished job{'s' if restored != 1 else ''}.")
        return restored

    def _submit(self, work: Work[object]) -> Job:
        return self._submit_job(Job.from_work(work))

    def _submit_job(self, job: Job) -> Job:
        job.failed.connect(lambda message, j=job: self._on_failed(j, message))
        return self._jobs.submit(job)

    def _on_failed(self, job: Job, message: str) -> None:
        if job.state != JobState.CANCELLED:  # the user cancelled: the row says so, no need to warn
            self._messenger.warning(f"{job.title} failed: {message}")
