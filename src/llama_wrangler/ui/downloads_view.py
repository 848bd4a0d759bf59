"""The Downloads page: one row per background job (downloads, conversions, imports) with a progress bar,
speed, ETA and cancel / retry / resume."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.progress import Progress
from llama_wrangler.units import human_bytes, human_duration, human_speed
from llama_wrangler.work import JobKind
from llama_wrangler.workers.jobs import Job, JobManager, JobState

# Short internal jobs (a repo lookup for the Add-model dialog) are not worth a row.
HIDDEN_KINDS = frozenset({JobKind.INSPECT})
STATE_WORDS = {JobState.QUEUED: "Waiting", JobState.RUNNING: "Running", JobState.DONE: "Done",
               JobState.FAILED: "Failed", JobState.CANCELLED: "Cancelled"}
STATE_TONES = {JobState.QUEUED: "idle", JobState.RUNNING: "busy", JobState.DONE: "ok",
               JobState.FAILED: "bad", JobState.CANCELLED: "idle"}
KIND_WORDS = {JobKind.DOWNLOAD: "Download", JobKind.CONVERT: "Conversion", JobKind.IMPORT: "Import",
              JobKind.BUILD: "llama.cpp"}


def describe_progress(report: Progress | None) -> str:
    """``1.2 GB of 4.1 GB · 23.4 MB/s · 2 min 05 s left`` (or the stage and message when not bytes;
    ``build · [42%] · ...`` for a build)."""
    if report is None:
        return ""
    parts: list[str] = []
    if report.stage:
        parts.append(report.stage)
    if report.total:
        if report.bytes_per_second is not None or report.total > 4096:
            parts.append(f"{human_bytes(report.done)} of {human_bytes(report.total)}")
        elif report.total == 100:  # a build's percentage, unless its message is cmake's own "[ 42%] ..."
            if not report.message.startswith("["):
                parts.append(f"[{report.done}%]")
        else:
            parts.append(f"{report.done} of {report.total}")
    if report.bytes_per_second:
        parts.append(human_speed(report.bytes_per_second))
    if report.eta_seconds is not None:
        parts.append(f"{human_duration(report.eta_seconds)} left")
    if report.message:
        parts.append(report.message)
    return " · ".join(parts)


class JobRow(QFrame):
    """One job. Listens to the job's own signals; buttons call the manager.

    Signals:
        clear_requested(str job_id): the user cleared this finished job from the list.
    """

    clear_requested = Signal(str)

    def __init__(self, job: Job, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.job = job
        self._manager = manager
        self.title = QLabel(job.title)
        self.title.setObjectName("sectionTitle")
        self.kind = QLabel(KIND_WORDS.get(job.kind, job.kind.title()))
        self.kind.setProperty("muted", True)
        self.badge = QLabel()
        self.badge.setObjectName("jobBadge")
        self.status = QLabel()
        self.status.setObjectName("jobStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._attempt = 1
        self._ended: str | None = None
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.clicked.connect(self._on_cancel)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self._on_retry)
        self.clear_button = QPushButton("C&lear")
        self.clear_button.clicked.connect(self._on_clear)
        self.log_button = QPushButton("Log")
        self.log_button.setToolTip(str(job.log_file) if job.log_file else "")
        self.log_button.clicked.connect(self._on_log)
        self.log_button.setVisible(job.log_file is not None)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.kind)
        head.addWidget(self.badge)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for button in (self.log_button, self.cancel_button, self.retry_button, self.clear_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)

        job.progress.connect(self._on_progress)
        job.state_changed.connect(self._on_state_changed)
        self._refresh()

    @Slot(object)
    def _on_progress(self, _report: object) -> None:
        self._refresh()

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        if state in (JobState.QUEUED, JobState.RUNNING):
            self._ended = None
        self._refresh()

    def _refresh(self) -> None:
        job = self.job
        state = job.state
        report = job.last_progress
        if state == JobState.RUNNING:
            fraction = report.fraction if report is not None else None
            if fraction is None:
                self.bar.setRange(0, 0)  # busy indicator: size unknown yet
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(round(fraction * 1000))
            retry = f"Attempt {self._attempt} · " if self._attempt > 1 else ""
            self.status.setText(retry + (describe_progress(report) or "Starting…"))
        elif state == JobState.QUEUED:
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)
            self.status.setText("Retrying: waiting for a free slot…" if self._attempt > 1
                                else "Waiting for a free slot…")
        elif state == JobState.DONE:
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000)
            self.status.setText(f"Done at {self._ended_at()}" + (f" (attempt {self._attempt})"
                                                                 if self._attempt > 1 else ""))
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round((report.fraction or 0.0) * 1000) if report is not None else 0)
            if state == JobState.CANCELLED:
                self.status.setText(f"Cancelled at {self._ended_at()}. Resume continues from the part "
                                    "already downloaded." if job.kind == JobKind.DOWNLOAD
                                    else f"Cancelled at {self._ended_at()}.")
            else:
                again = f"Failed again (attempt {self._attempt})" if self._attempt > 1 else "Failed"
                self.status.setText(f"{again} at {self._ended_at()}: {job.error or 'no reason given.'}")
        self.status.setToolTip(self.status.text())
        self.badge.setText(STATE_WORDS[state])
        self._set_tone(state)
        self.cancel_button.setVisible(state in (JobState.QUEUED, JobState.RUNNING))
        # A cancelled download keeps its partial file, so trying again resumes it.
        self.retry_button.setVisible(state in (JobState.FAILED, JobState.CANCELLED))
        self.retry_button.setText("&Resume" if state == JobState.CANCELLED else "&Retry")
        self.clear_button.setVisible(job.is_final)

    def _ended_at(self) -> str:
        if self._ended is None:
            self._ended = datetime.now().astimezone().strftime("%H:%M:%S")
        return self._ended

    def _set_tone(self, state: JobState) -> None:
        """A failed job is drawn as failed (red badge, text and bar), not like an idle one."""
        tone = STATE_TONES[state]
        for widget in (self.badge, self.status, self.bar):
            if widget.property("tone") != tone:
                widget.setProperty("tone", tone)
                widget.style().unpolish(widget)
                widget.style().polish(widget)

    @Slot()
    def _on_cancel(self) -> None:
        self._manager.cancel(self.job.job_id)

    @Slot()
    def _on_retry(self) -> None:
        self._attempt += 1
        self._ended = None
        self._manager.retry(self.job.job_id)

    @Slot()
    def _on_log(self) -> None:
        log_file = self.job.log_file
        if log_file is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file))):
            self.status.setText(f"The log is {log_file}")

    @Slot()
    def _on_clear(self) -> None:
        self.clear_requested.emit(self.job.job_id)


class DownloadsView(QWidget):
    """Lists every job the manager knows, newest first."""

    def __init__(self, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._manager = manager
        self.rows: dict[str, JobRow] = {}
        title = QLabel("Downloads")
        title.setObjectName("pageTitle")
        subtitle = QLabel("Downloads, conversions, imports and llama.cpp installs run here in the background.")
        subtitle.setProperty("muted", True)
        self.empty = QLabel("Nothing here yet. Use “Add model” to download a model from Hugging Face, or "
                            "drop .gguf files onto the window.")
        self.empty.setProperty("muted", True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 8, 0)
        self._list_layout.setSpacing(10)
        self._list_layout.addWidget(self.empty)
        self._list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("transparentScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(10)
        layout.addWidget(scroll, 1)

        for job in manager.jobs():
            if job.kind not in HIDDEN_KINDS:
                self._add_row(job)
        manager.job_added.connect(self._on_job_added)

    @Slot(object)
    def _on_job_added(self, job: object) -> None:
        if isinstance(job, Job) and job.kind not in HIDDEN_KINDS:
            self._add_row(job)

    def _add_row(self, job: Job) -> None:
        row = JobRow(job, self._manager)
        self.rows[job.job_id] = row
        row.clear_requested.connect(self._on_clear_requested)
        self._list_layout.insertWidget(1, row)  # after the (hidden) empty label: newest on top
        self.empty.hide()

    @Slot(str)
    def _on_clear_requested(self, job_id: str) -> None:
        row = self.rows.pop(job_id, None)
        if row is not None:
            row.hide()
            row.deleteLater()
        self._manager.remove(job_id)
        if not self.rows:
            self.empty.show()
