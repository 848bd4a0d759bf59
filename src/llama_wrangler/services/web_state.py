"""What the pages show next to their "Get with Llama Wrangler" buttons: which files and tags are already in
the library (with the model id a Serve button serves) and which downloads are under way.

Keys are the ones the bridge script puts on its buttons: ``hf:ORG/REPO/PATH`` for a file (any shard of a
split set), ``hf-repo:ORG/REPO`` for a repo page, ``ollama:NS/MODEL:TAG`` for an Ollama tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from llama_wrangler.errors import WranglerError
from llama_wrangler.library.origins import HfOrigin, OllamaOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.progress import Progress
from llama_wrangler.services.page_requests import ollama_key
from llama_wrangler.sources.hf_input import parse_hf_input
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.pull_input import ollama_request_for
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager

# Progress reports arrive many times a second; pages are told at most this often.
PUSH_INTERVAL_MS = 400


@dataclass(frozen=True)
class DownloadMark:
    fraction: float | None
    text: str


@dataclass
class PageState:
    have: dict[str, str] = field(default_factory=dict)  # key -> model id
    downloads: dict[str, DownloadMark] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({
            "have": self.have,
            "downloads": {key: {"fraction": mark.fraction, "text": mark.text}
                          for key, mark in self.downloads.items()},
        }, sort_keys=True)


def library_marks(records: Iterable[ModelRecord]) -> dict[str, str]:
    """Every key a library model answers to."""
    have: dict[str, str] = {}
    for record in records:
        if record.missing:
            continue
        origin = record.origin
        if isinstance(origin, HfOrigin):
            for path in origin.files:
                have.setdefault(f"hf:{origin.repo}/{path}", record.id)
            have.setdefault(f"hf-repo:{origin.repo}", record.id)
        elif isinstance(origin, OllamaOrigin):
            request = OllamaRequest(model=origin.model, tag=origin.tag, namespace=origin.namespace)
            have.setdefault(ollama_key(request), record.id)
    return have


def download_key(reference: str) -> str | None:
    """The key of a download job's reference (what ``HubWork`` persisted as its input)."""
    try:
        ollama = ollama_request_for(reference)
        if ollama is not None:
            return ollama_key(ollama)
        request = parse_hf_input(reference)
    except WranglerError:
        return None
    return f"hf:{request.repo_id}/{request.file}" if request.file else f"hf-repo:{request.repo_id}"


def download_mark(progress: Progress | None) -> DownloadMark:
    if progress is None:
        return DownloadMark(None, "Queued")
    fraction = progress.fraction
    text = f"Downloading {fraction * 100:.0f}%" if fraction is not None else (progress.stage or "Downloading")
    return DownloadMark(fraction, text)


class PageStateFeed(QObject):
    """Keeps :class:`PageState` current from the library and the job manager.

    Signals:
        changed(str): the state as JSON, at most every ``PUSH_INTERVAL_MS``.
    """

    changed = Signal(str)

    def __init__(self, models: Callable[[], list[ModelRecord]], jobs: JobManager,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._models = models
        self._jobs = jobs
        self._have = library_marks(models())
        self._last = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PUSH_INTERVAL_MS)
        self._timer.timeout.connect(self._push)
        jobs.job_added.connect(self._on_job_added)
        jobs.job_changed.connect(self._on_job_changed)  # state changes and progress reports

    def refresh_library(self) -> None:
        self._have = library_marks(self._models())
        self._push()

    def state(self) -> PageState:
        downloads: dict[str, DownloadMark] = {}
        for job in self._jobs.jobs(JobKind.DOWNLOAD):
            reference = (job.persist or {}).get("input")
            if job.is_final or not isinstance(reference, str):
                continue
            key = download_key(reference)
            if key is not None:
                downloads[key] = download_mark(job.last_progress)
        return PageState(dict(self._have), downloads)

    def state_json(self) -> str:
        return self.state().to_json()

    def _on_job_added(self, job: Job) -> None:
        if job.kind == JobKind.DOWNLOAD and not self._timer.isActive():
            self._timer.start()

    def _on_job_changed(self, _job: Job) -> None:
        # A throttle, not a debounce: restarting the timer on every report would starve it while a
        # download runs.
        if not self._timer.isActive():
            self._timer.start()

    def _push(self) -> None:
        text = self.state_json()
        if text != self._last:
            self._last = text
            self.changed.emit(text)
