"""Models other tools already downloaded (the Hugging Face cache, Ollama's store, LM Studio's folder):
found in the background, offered with their count and size, and used in place — linked into the library,
never copied. The same discovery as ``llama-wrangler scan-stores``."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from llama_wrangler.library.discovery import FoundModel, discover_all, link_found
from llama_wrangler.library.registry import Library
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback
from llama_wrangler.services.messages import Messenger
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager

log = logging.getLogger(__name__)

SOURCE_WORDS = {"hf-cache": "the Hugging Face cache", "ollama": "Ollama", "lmstudio": "LM Studio"}


@dataclass(frozen=True)
class StoreFindings:
    """Models found in other stores that the library does not have yet."""

    models: tuple[FoundModel, ...]
    total_bytes: int

    @property
    def count(self) -> int:
        return len(self.models)

    def where(self) -> str:
        """``the Hugging Face cache (3) and Ollama (2)``"""
        counts = Counter(str(m.source) for m in self.models)
        parts = [f"{SOURCE_WORDS.get(source, source)} ({n})" for source, n in counts.items()]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def find_new_models(library: Library) -> StoreFindings:
    """Discover other stores' models that are not in ``library`` (file checks only; seconds at most)."""
    new = [m for m in discover_all() if library.find_by_path(m.files[0]) is None]
    total = 0
    for model in new:
        for file in model.files:
            try:
                total += file.stat().st_size
            except OSError:
                continue
    return StoreFindings(tuple(new), total)


class StoreScan(QObject):
    """Signals:
        found(object): a :class:`StoreFindings` from the latest scan.
    """

    found = Signal(object)

    def __init__(self, library: Library, jobs: JobManager, messenger: Messenger,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._jobs = jobs
        self._messenger = messenger
        self.findings: StoreFindings | None = None

    def scan(self, *, announce_none: bool = False) -> Job:
        """Look in the background; ``announce_none`` says so when nothing new is found (the user asked)."""
        library = self._library

        def work(_progress: ProgressCallback, _cancel: CancelToken) -> StoreFindings:
            return find_new_models(library)

        job = Job(JobKind.INSPECT, "Look for models from other apps", work)
        job.finished.connect(lambda result, j=job: self._on_found(result, j, announce_none))
        job.failed.connect(lambda message, j=job: self._on_failed(message, j))
        return self._jobs.submit(job)

    def _on_found(self, result: object, job: Job, announce_none: bool) -> None:
        self._jobs.remove(job.job_id)
        if isinstance(result, StoreFindings):
            self.findings = result
            self.found.emit(result)
            if announce_none and not result.count:
                self._messenger.info("No new models were found in the Hugging Face cache, Ollama or LM Studio.")

    def _on_failed(self, message: str, job: Job) -> None:
        self._jobs.remove(job.job_id)
        log.warning("looking for other stores' models failed: %s", message)

    def use_in_place(self, findings: StoreFindings) -> Job:
        """Link ``findings`` into the library (an import job: it reads every file's header)."""
        library = self._library
        models = list(findings.models)

        def work(progress: ProgressCallback, _cancel: CancelToken) -> int:
            progress(Progress("link", 0, len(models), "Reading the models' headers"))
            linked, problems = link_found(library, models)
            for problem in problems:
                log.warning("not linked: %s", problem)
            return len(linked)

        job = Job(JobKind.IMPORT, f"Use {findings.count} models from other apps in place", work)
        job.finished.connect(self._on_linked)
        job.failed.connect(lambda message: self._messenger.error(f"Linking the models failed: {message}"))
        self.findings = None
        self.found.emit(StoreFindings((), 0))
        return self._jobs.submit(job)

    def _on_linked(self, result: object) -> None:
        count = result if isinstance(result, int) else 0
        self._messenger.info(f"{count} model{'s' if count != 1 else ''} from other apps added to the library "
                             "(used in place, nothing copied).")
