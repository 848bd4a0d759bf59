"""Add model: paste a Hugging Face link or ``org/repo`` → inspect (off the GUI thread) → pick a quant, the
recommended one marked and preselected, each with where it fits (VRAM / RAM / too large) → download (a job on
the Downloads page). Plain words (``tinyllama``) search the Hub for GGUF repos (:class:`SearchResults`);
picking one inspects it. An Ollama name (``ollama:llama3.2:1b``, an ollama.com link) is inspected too (its
manifest: size, vision projector) before the download."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from llama_wrangler.errors import WranglerError
from llama_wrangler.sources.hf_input import HUB_LINK, HfRequest, parse_hf_input
from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing
from llama_wrangler.sources.hf_search import SearchHit, looks_like_search
from llama_wrangler.sources.machine import MachineResources, estimate_memory
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_pull import OllamaListing
from llama_wrangler.sources.pull_input import ollama_request_for
from llama_wrangler.ui.search_results import SearchResults
from llama_wrangler.units import human_bytes
from llama_wrangler.workers.jobs import Job

# inspect(request) -> a Job, already submitted to the job manager (which keeps its thread alive even if this
# dialog closes first), whose result is a RepoListing.
InspectFactory = Callable[[HfRequest], Job]
SearchFactory = Callable[[str, str], Job]  # (query, sort) -> a Job whose result is list[SearchHit]
OllamaInspectFactory = Callable[[OllamaRequest], Job]  # -> a Job whose result is an OllamaListing
RECOMMENDED = "★ Recommended"
CONVERT_QUANTS = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "Q3_K_M", "Q2_K", "F16", "BF16")


class AddModelDialog(QDialog):
    """Non-blocking (``open()``).

    Signals:
        download_requested(RepoListing, QuantChoice): the user picked a file to download.
        convert_requested(str, str): a safetensors repo (pinned reference) and the quant to make.
        pull_requested(str): an Ollama model to download (``ollama:NAME:TAG``).
    """

    download_requested = Signal(RepoListing, QuantChoice)
    convert_requested = Signal(str, str)  # a reference pinned to the listed commit, the quant to make
    pull_requested = Signal(str)

    def __init__(self, inspect: InspectFactory, *, search: SearchFactory | None = None,
                 inspect_ollama: OllamaInspectFactory | None = None, context: int = 4096,
                 default_quant: str = "Q4_K_M", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addModelDialog")
        self.setWindowTitle("Add model")
        self.resize(700, 600)
        self._inspect = inspect
        self._search = search
        self._inspect_ollama = inspect_ollama
        self._ollama: OllamaListing | None = None
        self._context = context
        self._job: Job | None = None
        self.listing: RepoListing | None = None

        title = QLabel("Add a model from Hugging Face or Ollama")
        title.setObjectName("dialogTitle")
        hint = QLabel("Search the Hub (tinyllama), paste a link to a GGUF repo or file, type org/repo "
                      "(optionally org/repo:Q4_K_M), or an Ollama model such as ollama:llama3.2:1b.")
        hint.setProperty("muted", True)
        hint.setWordWrap(True)
        self.input = QLineEdit()
        self.input.setPlaceholderText("https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF")
        self.input.setClearButtonEnabled(True)
        self.input.returnPressed.connect(self.inspect)
        self.input.textChanged.connect(self._on_text_changed)
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setEnabled(False)
        self.inspect_button.clicked.connect(self.inspect)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.inspect_button)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choices = QTreeWidget()
        self.choices.setRootIsDecorated(False)
        self.choices.setColumnCount(5)
        self.choices.setHeaderLabels(["Quant", "Size", "Memory needed", "", "This computer"])
        self.choices.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.choices.setAlternatingRowColors(True)
        header = self.choices.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.choices.itemSelectionChanged.connect(self._on_selection_changed)
        self.choices.itemDoubleClicked.connect(lambda _item, _col: self._on_download())
        self.choices.hide()
        self.results = SearchResults()
        self.results.repo_chosen.connect(self._on_repo_chosen)
        self.results.sort_changed.connect(lambda _sort: self._run_search())
        self.results.hide()

        # Offered instead of the list when the repo has safetensors weights but no GGUF.
        self.convert_quant = QComboBox()
        for quant in CONVERT_QUANTS:
            self.convert_quant.addItem(quant, quant)
        index = self.convert_quant.findData(default_quant.upper())
        self.convert_quant.setCurrentIndex(max(0, index))
        convert_caption = QLabel("Quantize to")
        convert_caption.setProperty("muted", True)
        self.convert_row = QWidget()
        convert_layout = QHBoxLayout(self.convert_row)
        convert_layout.setContentsMargins(0, 0, 0, 0)
        convert_layout.addWidget(convert_caption)
        convert_layout.addWidget(self.convert_quant)
        convert_layout.addStretch(1)
        self.convert_row.hide()

        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.download_button = QPushButton("Download")
        self.download_button.setProperty("primary", True)
        self.download_button.setEnabled(False)
        self.download_button.clicked.connect(self._on_download)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 20, 22, 18)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.choices, 1)
        layout.addWidget(self.convert_row)
        layout.addStretch(0)
        layout.addLayout(buttons)
        self.finished.connect(self._on_finished)

    # -- inspect ---------------------------------------------------------------------------------------
    @Slot()
    def inspect(self) -> None:
        text = self.input.text()
        try:
            ollama = ollama_request_for(text)
            if ollama is not None:
                self._look_up_ollama(ollama)
                return
            if self._search is not None and looks_like_search(text):
                self._run_search()
                return
            request = parse_hf_input(text)
        except WranglerError as exc:
            self._show_error(str(exc))
            return
        self.results.hide()
        self._look_up(request)

    def _reset_choices(self) -> None:
        self._cancel_job()
        self.listing = None
        self._ollama = None
        self.choices.clear()
        self.choices.hide()
        self.convert_row.hide()
        self.download_button.setText("Download")
        self.download_button.setEnabled(False)
        self.inspect_button.setEnabled(False)

    def _look_up(self, request: HfRequest) -> None:
        self._reset_choices()
        self._set_status(f"Looking up {request.repo_id}…", error=False)
        job = self._inspect(request)
        job.finished.connect(lambda result, j=job: self._on_inspected(j, result, request))
        job.failed.connect(lambda message, j=job: self._on_inspect_failed(j, message))
        self._job = job

    def _look_up_ollama(self, request: OllamaRequest) -> None:
        if self._inspect_ollama is None:  # no lookup offered: the download job finds out
            self.pull_requested.emit(request.display)
            self.accept()
            return
        self.results.hide()
        self._reset_choices()
        self._set_status(f"Looking up {request.display}…", error=False)
        job = self._inspect_ollama(request)
        job.finished.connect(lambda result, j=job: self._on_ollama_inspected(j, result))
        job.failed.connect(lambda message, j=job: self._on_inspect_failed(j, message))
        self._job = job

    def _run_search(self) -> None:
        query = " ".join(self.input.text().split())
        if self._search is None or not query:
            return
        self._reset_choices()
        self._set_status(f"Searching the Hub for “{query}”…", error=False)
        job = self._search(query, self.results.current_sort)
        job.finished.connect(lambda result, j=job: self._on_searched(j, query, result))
        job.failed.connect(lambda message, j=job: self._on_inspect_failed(j, message))
        self._job = job

    def _on_searched(self, job: Job, query: str, result: object) -> None:
        if job is not self._job:
            return
        self._job = None
        self.inspect_button.setEnabled(bool(self.input.text().strip()))
        hits = [hit for hit in result if isinstance(hit, SearchHit)] if isinstance(result, list) else []
        self.results.show_hits(query, hits)
        self._set_status("" if hits else f"Nothing found for “{query}”: try fewer or other words.",
                         error=False)

    @Slot(str)
    def _on_repo_chosen(self, repo_id: str) -> None:
        self._look_up(HfRequest(repo_id))

    def _on_inspected(self, job: Job, result: object, request: HfRequest) -> None:
        if not isValid(self) or job is not self._job:
            return  # an older lookup finishing late
        self._job = None
        self.inspect_button.setEnabled(bool(self.input.text().strip()))
        if not isinstance(result, RepoListing):
            self._show_error("The lookup returned nothing usable.")
            return
        self.listing = result
        self._fill(result, request)

    def _on_inspect_failed(self, job: Job, message: str) -> None:
        # The dialog may be gone (the window closed while the lookup ran): its slots are lambdas, which Qt
        # cannot disconnect by itself.
        if not isValid(self) or job is not self._job:
            return
        self._job = None
        self.inspect_button.setEnabled(bool(self.input.text().strip()))
        if message != "Cancelled.":
            self._show_error(message)

    def _on_ollama_inspected(self, job: Job, result: object) -> None:
        if job is not self._job:
            return
        self._job = None
        self.inspect_button.setEnabled(bool(self.input.text().strip()))
        if not isinstance(result, OllamaListing):
            self._show_error("The lookup returned nothing usable.")
            return
        self._ollama = result
        self.choices.clear()
        request = result.request
        needed = estimate_memory(result.size, self._context)
        item = QTreeWidgetItem([f"{request.model}:{request.tag}", human_bytes(result.size), human_bytes(needed),
                                "", result.machine.fit(needed).value])
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.choices.addTopLevelItem(item)
        self.choices.show()
        self.choices.setCurrentItem(item)
        vision = " with its vision projector" if result.manifest.layer("projector") is not None else ""
        self._set_status(f"{request.display}: one GGUF model{vision} from the Ollama registry.", error=False)

    def _fill(self, listing: RepoListing, request: HfRequest) -> None:
        self.choices.clear()
        if not listing.choices:
            if listing.convertible:
                size = human_bytes(listing.safetensors_size)
                self._set_status(f"{listing.repo_id} has no GGUF files, but its weights ({size} of "
                                 "safetensors) can be converted to GGUF and quantized on this computer.",
                                 error=False)
                self.convert_row.show()
                self.download_button.setText("Convert")
                self.download_button.setEnabled(True)
            else:
                self._show_error(f"{listing.repo_id} has no GGUF files and nothing that can be converted.")
            return
        bold = QFont()
        bold.setBold(True)
        wanted = None
        if request.file:
            wanted = next((c for c in listing.choices if any(f.path == request.file for f in c.files)), None)
        elif request.quant:
            wanted = next((c for c in listing.choices if c.quant.upper() == request.quant.upper()), None)
        preselect: QTreeWidgetItem | None = None
        for choice in listing.choices:
            needed = estimate_memory(choice.size, self._context)
            machine = listing.machine or MachineResources(ram_bytes=0)
            fit = machine.fit(needed).value if listing.machine is not None else ""
            files = f" ({len(choice.files)} files)" if choice.is_split else ""
            item = QTreeWidgetItem([choice.quant + files, human_bytes(choice.size), human_bytes(needed), "", fit])
            item.setData(0, Qt.ItemDataRole.UserRole, choice)
            item.setToolTip(0, choice.files[0].path)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if choice == listing.recommended:
                item.setText(3, RECOMMENDED)
                for column in range(5):
                    item.setFont(column, bold)
            self.choices.addTopLevelItem(item)
            if choice == (wanted or listing.recommended):
                preselect = item
        self.choices.show()
        if preselect is not None:
            self.choices.setCurrentItem(preselect)
        count = len(listing.choices)
        self._set_status(f"{listing.repo_id} · {count} GGUF file{'s' if count != 1 else ''}. "
                         + ("The recommended one is the largest that fits this computer's memory."
                            if listing.recommended else "None fits this computer's memory comfortably."),
                         error=False)

    # -- helpers ---------------------------------------------------------------------------------------
    def selected_choice(self) -> QuantChoice | None:
        item = self.choices.currentItem()
        if item is None:
            return None
        choice = item.data(0, Qt.ItemDataRole.UserRole)
        return choice if isinstance(choice, QuantChoice) else None

    def recommended_item(self) -> QTreeWidgetItem | None:
        for index in range(self.choices.topLevelItemCount()):
            item = self.choices.topLevelItem(index)
            if item is not None and item.text(3) == RECOMMENDED:
                return item
        return None

    def _set_status(self, text: str, *, error: bool) -> None:
        self.status.setText(text)
        self.status.setProperty("fieldError", error)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _show_error(self, text: str) -> None:
        self._set_status(text, error=True)

    def _cancel_job(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None

    @Slot(str)
    def _on_text_changed(self, text: str) -> None:
        self.inspect_button.setEnabled(bool(text.strip()) and self._job is None)
        try:
            ollama = ollama_request_for(text) is not None
        except WranglerError:
            ollama = True  # a bad Ollama name: Inspect says what is wrong with it
        searching = self._search is not None and looks_like_search(text) and not ollama
        self.inspect_button.setText("Search" if searching else "Inspect")

    @Slot()
    def _on_selection_changed(self) -> None:
        self.download_button.setEnabled(self.selected_choice() is not None or self._ollama is not None)

    @property
    def converting(self) -> bool:
        return self.convert_row.isVisibleTo(self)

    @Slot()
    def _on_download(self) -> None:
        if self.listing is not None and self.converting:
            pinned = f"{HUB_LINK}/{self.listing.repo_id}/tree/{self.listing.commit}"
            self.convert_requested.emit(pinned, str(self.convert_quant.currentData()))
            self.accept()
            return
        if self._ollama is not None:
            self.pull_requested.emit(self._ollama.request.display)
            self.accept()
            return
        choice = self.selected_choice()
        if choice is None or self.listing is None:
            return
        self.download_requested.emit(self.listing, choice)
        self.accept()

    @Slot(int)
    def _on_finished(self, _result: int) -> None:
        self._cancel_job()
