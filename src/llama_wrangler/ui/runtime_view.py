"""The llama.cpp page: what ``llama-wrangler runtime status`` reports — found or missing, where, which
build, backend, GPUs, the conversion tools, how it differs from the pinned version — and the buttons that
change it (Install, Rebuild, Use an existing llama-server…, Install conversion tools). The work runs as
jobs (the Downloads list shows them too); this page follows the current one with its progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.runtime.pinned import PINNED
from llama_wrangler.runtime.report import RuntimeReport, RuntimeState
from llama_wrangler.ui.downloads_view import describe_progress
from llama_wrangler.ui.icons import icon
from llama_wrangler.workers.jobs import Job, JobState

TOOLCHAIN_QUESTION = ("The conversion tools (PyTorch, transformers and llama.cpp's convert script) turn "
                      "Hugging Face safetensors models into GGUF files.\n\nThey take about 1.2 GB of disk and "
                      "a few minutes to download. Install them now?")
STATE_ICONS = {RuntimeState.READY: "state-ready", RuntimeState.MISSING: "state-stopped",
               RuntimeState.BROKEN: "state-crashed", RuntimeState.TOO_OLD: "state-crashed"}


def report_rows(report: RuntimeReport) -> list[tuple[str, str]]:
    """(label, value) rows of the status form, plain text."""
    rows: list[tuple[str, str]] = []
    if report.state is not RuntimeState.MISSING:
        rows.append(("Found in", report.where_text or "—"))
        rows.append(("llama-server", str(report.server) if report.server else "—"))
        if report.where != "python":
            rows.append(("llama-quantize", str(report.quantize) if report.quantize else "missing"))
        if report.build_number is not None or report.commit:
            build = f"build {report.build_number}" if report.build_number is not None else "unknown build"
            version = f"{build}, commit {report.commit or 'unknown'}"
            rows.append(("Version", version + (f" ({report.version})" if report.version else "")))
        rows.append(("Backend", report.backend or "—"))
        if report.devices:
            rows.append(("Devices", "\n".join(report.devices)))
        if report.compiler:
            rows.append(("Built with", report.compiler))
        if report.installed_from:
            rows.append(("Installed from", report.installed_from))
    rows.append(("GPUs seen", ", ".join(report.gpus) if report.gpus else "none"))
    rows.append(("Tested version", PINNED.label()))
    return rows


def toolchain_words(report: RuntimeReport) -> str:
    if report.root is None:
        return "Not available: the conversion tools live beside the app's own llama.cpp."
    if report.toolchain_ready:
        return "Installed: safetensors models from Hugging Face can be converted to GGUF."
    return f"Not installed ({report.toolchain or 'unknown'}). Needed only to convert safetensors models."


def build_tools_words(report: RuntimeReport) -> str:
    if not report.missing_build_tools:
        return f"cmake and a C/C++ compiler are installed; a build here would be for {report.build_backend.upper()} " \
               f"({report.build_backend_reason})."
    return f"Building from source needs {' and '.join(report.missing_build_tools)}. {report.build_tools_hint}"


class RuntimeView(QWidget):
    """Signals:
        install_requested(), rebuild_requested(), toolchain_requested(), refresh_requested(),
        open_log_requested(): buttons.
        use_existing_requested(str path): the user picked a llama-server binary.
        cancel_requested(str job_id): cancel the running llama.cpp job.
    """

    install_requested = Signal()
    rebuild_requested = Signal()
    toolchain_requested = Signal()
    refresh_requested = Signal()
    open_log_requested = Signal()
    use_existing_requested = Signal(str)
    cancel_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._report: RuntimeReport | None = None
        self._job: Job | None = None
        self._checking = False
        self._file_dialog: QFileDialog | None = None

        title = QLabel("llama.cpp")
        title.setObjectName("pageTitle")
        subtitle = QLabel("The engine that runs your models. Llama Wrangler starts llama.cpp's llama-server "
                          f"for you; it is tested with {PINNED.label()}.")
        subtitle.setProperty("muted", True)
        subtitle.setWordWrap(True)

        # Status card -------------------------------------------------------------------------------
        self.state_dot = QLabel()
        self.headline = QLabel("Checking llama.cpp…")
        self.headline.setObjectName("sectionTitle")
        self.refresh_button = QPushButton("Check again")
        self.refresh_button.clicked.connect(self.refresh_requested)
        head = QHBoxLayout()
        head.setSpacing(10)
        head.addWidget(self.state_dot)
        head.addWidget(self.headline, 1)
        head.addWidget(self.refresh_button)
        self.problem = self._wrapping_label()
        self.problem.setProperty("fieldError", True)
        self.advice = self._wrapping_label()
        self.mismatch = self._wrapping_label()
        self.mismatch.setProperty("muted", True)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(16)
        self.form.setVerticalSpacing(6)
        status_card = self._card(head, self.problem, self.advice, self.mismatch, self.form)

        # Install card ------------------------------------------------------------------------------
        install_title = QLabel("Install or replace")
        install_title.setObjectName("sectionTitle")
        self.plan = self._wrapping_label()
        self.build_tools = self._wrapping_label()
        self.build_tools.setProperty("muted", True)
        self.install_button = QPushButton("Install")
        self.install_button.setProperty("primary", True)
        self.install_button.clicked.connect(self.install_requested)
        self.rebuild_button = QPushButton("Rebuild from source")
        self.rebuild_button.clicked.connect(self.rebuild_requested)
        self.existing_button = QPushButton("Use an existing llama-server…")
        self.existing_button.clicked.connect(self._on_existing_clicked)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        for button in (self.install_button, self.rebuild_button, self.existing_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        # The running job: progress, cancel, the log one click away.
        self.job_title = QLabel()
        self.job_title.setObjectName("sectionTitle")
        self.job_status = self._wrapping_label()
        self.job_status.setProperty("muted", True)
        self.job_bar = QProgressBar()
        self.job_bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.log_button = QPushButton("Open build log")
        self.log_button.clicked.connect(self.open_log_requested)
        job_row = QHBoxLayout()
        job_row.addWidget(self.job_bar, 1)
        job_row.addWidget(self.cancel_button)
        job_row.addWidget(self.log_button)
        self.job_box = QWidget()
        job_layout = QVBoxLayout(self.job_box)
        job_layout.setContentsMargins(0, 6, 0, 0)
        job_layout.setSpacing(6)
        job_layout.addWidget(self.job_title)
        job_layout.addLayout(job_row)
        job_layout.addWidget(self.job_status)
        self.job_box.hide()
        install_card = self._card(install_title, self.plan, self.build_tools, buttons, self.job_box)

        # Conversion card ---------------------------------------------------------------------------
        convert_title = QLabel("Conversion tools")
        convert_title.setObjectName("sectionTitle")
        self.toolchain = self._wrapping_label()
        self.toolchain_button = QPushButton("Install conversion tools (~1.2 GB)…")
        self.toolchain_button.clicked.connect(self._on_toolchain_clicked)
        convert_row = QHBoxLayout()
        convert_row.addWidget(self.toolchain, 1)
        convert_row.addWidget(self.toolchain_button)
        convert_card = self._card(convert_title, convert_row)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(4)
        for card in (status_card, install_card, convert_card):
            layout.addWidget(card)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("transparentScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._refresh()

    def _wrapping_label(self) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _card(self, *items: object) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(10)
        for item in items:
            if isinstance(item, QWidget):
                layout.addWidget(item)
            else:
                layout.addLayout(item)  # type: ignore[arg-type]
        return card

    # -- feeding ---------------------------------------------------------------------------------------
    def show_report(self, report: RuntimeReport | None, *, checking: bool = False) -> None:
        if report is not self._report:  # the app shows the same report again on every job progress tick
            self._report = report
            self._fill_form(report)
        self._checking = checking
        self._refresh()

    def _fill_form(self, report: RuntimeReport | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        for label, value in report_rows(report) if report is not None else []:
            caption = QLabel(label)
            caption.setProperty("muted", True)
            field = self._wrapping_label()
            field.setText(value)
            self.form.addRow(caption, field)

    def show_job(self, job: Job | None) -> None:
        """Follow ``job`` (an install, build or toolchain job) until the next one."""
        if self._job is not None:
            for signal in (self._job.progress, self._job.state_changed):
                signal.disconnect(self._on_job_changed)
        self._job = job
        if job is not None:
            job.progress.connect(self._on_job_changed)
            job.state_changed.connect(self._on_job_changed)
        self._refresh()

    def open_log(self, log_file: Path | None) -> None:
        """Show ``log_file`` in the desktop's text viewer (or say where it is)."""
        if log_file is None:
            self.job_status.setText("There is no build log yet.")
        elif not QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file))):
            self.job_status.setText(f"The log is {log_file}")

    @property
    def file_dialog(self) -> QFileDialog | None:
        return self._file_dialog

    # -- slots -----------------------------------------------------------------------------------------
    @Slot(object)
    def _on_job_changed(self, *_args: object) -> None:
        self._refresh()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._job is not None:
            self.cancel_requested.emit(self._job.job_id)

    @Slot()
    def _on_existing_clicked(self) -> None:
        # Non-blocking: the event loop (and every job) keeps running while the dialog is open.
        dialog = QFileDialog(self, "Choose a llama-server program")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.use_existing_requested)
        self._file_dialog = dialog
        dialog.open()

    @Slot()
    def _on_toolchain_clicked(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Install the conversion tools", TOOLCHAIN_QUESTION,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("toolchainQuestion")
        box.accepted.connect(self.toolchain_requested)
        box.open()

    def _refresh(self) -> None:
        report = self._report
        job = self._job
        running = job is not None and not job.is_final
        if report is None:
            self.headline.setText("Checking llama.cpp…")
            self.state_dot.setPixmap(icon("state-busy").pixmap(22, 22))
        else:
            self.headline.setText(report.headline + ("  (checking again…)" if self._checking else ""))
            self.state_dot.setPixmap(icon(STATE_ICONS[report.state]).pixmap(22, 22))
        # Missing is not an error (a first run): the advice says what to do; broken or too old is.
        missing = report is not None and report.state is RuntimeState.MISSING
        self.problem.setText(report.problem if report is not None and not report.usable and not missing else "")
        self.problem.setVisible(bool(self.problem.text()))
        self.advice.setText(report.advice if report is not None and not report.usable else "")
        self.advice.setVisible(bool(self.advice.text()))
        self.mismatch.setText(report.mismatch if report is not None else "")
        self.mismatch.setVisible(bool(self.mismatch.text()))
        self.plan.setText(report.install_plan() if report is not None else "")
        self.build_tools.setText(build_tools_words(report) if report is not None else "")
        installed = report is not None and report.where == "app"
        self.install_button.setText("Reinstall" if installed else "Install")
        self.install_button.setEnabled(report is not None and not running)
        self.rebuild_button.setEnabled(report is not None and not running and not report.missing_build_tools)
        self.rebuild_button.setToolTip(build_tools_words(report) if report is not None else "")
        self.existing_button.setEnabled(not running)
        self.toolchain.setText(toolchain_words(report) if report is not None else "")
        can_toolchain = report is not None and report.root is not None and not report.toolchain_ready
        self.toolchain_button.setEnabled(can_toolchain and not running)
        self.refresh_button.setEnabled(not self._checking)
        self._refresh_job(job)

    def _refresh_job(self, job: Job | None) -> None:
        self.job_box.setVisible(job is not None)
        if job is None:
            return
        self.job_title.setText(job.title)
        report = job.last_progress
        if job.state == JobState.RUNNING:
            fraction = report.fraction if report is not None else None
            if fraction is None:
                self.job_bar.setRange(0, 0)
            else:
                self.job_bar.setRange(0, 1000)
                self.job_bar.setValue(round(fraction * 1000))
            self.job_status.setText(describe_progress(report) or "Starting…")
        else:
            self.job_bar.setRange(0, 1000)
            self.job_bar.setValue(1000 if job.state == JobState.DONE else 0)
            words = {JobState.QUEUED: "Waiting…", JobState.DONE: "Done."}
            self.job_status.setText(words.get(job.state) or job.error or str(job.state))
        self.cancel_button.setVisible(not job.is_final)
        self.log_button.setVisible(job.log_file is not None)
