"""Hugging Face work the window starts: repo lookups for the Add-model dialog and downloads, both as jobs
(nothing touches the network on the GUI thread). Downloads interrupted by quitting are queued again on the
next start; their partial files make that a resume."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.settings import Settings
from llama_wrangler.ui.message import Messenger
from llama_wrangler.workers.jobs import Job, JobManager, JobState

if TYPE_CHECKING:
    # huggingface_hub and httpx take ~0.4 s to import: loaded on first use, not at app start.
    from llama_wrangler.sources.hf_input import HfRequest
    from llama_wrangler.sources.hf_pull import PullOptions
    from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing

log = logging.getLogger(__name__)


class HubActions(QObject):
    def __init__(self, paths: AppPaths, library: Library, jobs: JobManager, settings: Callable[[], Settings],
                 messenger: Messenger, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self._library = library
        self._jobs = jobs
        self._settings = settings
        self._messenger = messenger

    def _options(self) -> PullOptions:
        from llama_wrangler.sources.hf_hub import HubAccess
        from llama_wrangler.sources.hf_pull import PullOptions

        settings = self._settings()
        return PullOptions(access=HubAccess.from_settings(settings.downloads),
                           retries=settings.downloads.retries, context=settings.server.context_size)

    def inspect(self, request: HfRequest) -> Job:
        """Look a repo up in the background. The job removes itself from the manager when done."""
        from llama_wrangler.sources.hf_repo import inspect_repo

        options = self._options()

        def work(_progress: ProgressCallback, cancel: CancelToken) -> RepoListing:
            listing = inspect_repo(request, options.access, context=options.context)
            cancel.raise_if_cancelled()
            return listing

        job = Job("inspect", f"Look up {request.repo_id}", work)
        job.state_changed.connect(lambda _state, j=job: self._forget_when_final(j))
        return self._jobs.submit(job)

    def _forget_when_final(self, job: Job) -> None:
        if job.is_final:
            # After the signal's other receivers ran (the dialog reads the result first).
            QTimer.singleShot(0, lambda: self._forget(job.job_id))

    def _forget(self, job_id: str) -> None:
        with contextlib.suppress(KeyError, RuntimeError):  # already gone, or somehow running again
            self._jobs.remove(job_id)

    def download(self, listing: RepoListing, choice: QuantChoice) -> Job:
        """Queue a download of ``choice``; the Downloads page shows it and the library gets it at the end."""
        persist: dict[str, Any] = {"source": "hf", "repo": listing.repo_id, "revision": listing.commit,
                                   "file": choice.files[0].path}
        return self._submit_download(listing.repo_id, choice.quant, persist,
                                     lambda _progress, _cancel: (listing, choice))

    def restore_interrupted(self) -> int:
        """Queue again the downloads the last session left unfinished (they resume from their partials)."""
        entries = [e for e in self._jobs.interrupted() if e.get("kind") == "download"]
        if not entries:
            return 0
        from llama_wrangler.sources.hf_input import HfRequest
        from llama_wrangler.sources.hf_repo import inspect_repo

        restored = 0
        for entry in entries:
            persist = entry.get("persist") or {}
            if entry.get("kind") != "download" or persist.get("source") != "hf":
                continue
            repo, revision, file = persist.get("repo"), persist.get("revision"), persist.get("file")
            if not (isinstance(repo, str) and isinstance(revision, str) and isinstance(file, str)):
                continue
            request = HfRequest(repo_id=repo, revision=revision, file=file)
            options = self._options()

            def resolve(_progress: ProgressCallback, _cancel: CancelToken, request: HfRequest = request,
                        options: PullOptions = options) -> tuple[RepoListing, QuantChoice]:
                listing = inspect_repo(request, options.access, context=options.context)
                return listing, listing.file_choice(request.file or "")

            quant = str(persist.get("quant", "")) or file.rsplit("/", 1)[-1]
            self._submit_download(repo, quant, dict(persist), resolve)
            restored += 1
        if restored:
            self._messenger.info(f"Resuming {restored} unfinished download{'s' if restored != 1 else ''}.")
        return restored

    def _submit_download(self, repo: str, quant: str, persist: dict[str, Any],
                         resolve: Callable[[ProgressCallback, CancelToken],
                                           tuple[RepoListing, QuantChoice]]) -> Job:
        from llama_wrangler.sources.hf_pull import pull_choice

        paths, library = self._paths, self._library
        options = self._options()
        persist.setdefault("quant", quant)

        def work(progress: ProgressCallback, cancel: CancelToken) -> object:
            listing, choice = resolve(progress, cancel)
            return pull_choice(listing, choice, paths=paths, library=library, options=options,
                               progress=progress, cancel=cancel)

        job = Job("download", f"{repo} · {quant}", work, persist=persist)
        job.failed.connect(lambda message, j=job: self._on_failed(j, message))
        return self._jobs.submit(job)

    def _on_failed(self, job: Job, message: str) -> None:
        if job.state != JobState.CANCELLED:  # the user cancelled: the row says so, no need to warn
            self._messenger.warning(f"Download of {job.title} failed: {message}")
