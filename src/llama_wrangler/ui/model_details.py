"""The details pane next to the library table: every piece of metadata we have, and the actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, SignalInstance, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.library.origins import origin_rows
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.ui.icons import tinted_icon
from llama_wrangler.ui.model_names import file_label, title_of
from llama_wrangler.ui.requantize_dialog import can_requantize
from llama_wrangler.ui.theme import ThemeManager
from llama_wrangler.units import human_bytes


def breakable(text: str, every: int = 12) -> str:
    """Insert zero-width spaces so long paths and hashes can wrap inside a narrow pane."""
    out: list[str] = []
    run = 0
    for char in text:
        out.append(char)
        run += 1
        if char in "/\\-_." or run >= every:
            out.append("\u200b")
            run = 0
    return "".join(out)


def metadata_rows(record: ModelRecord) -> list[tuple[str, str]]:
    """(label, value) pairs for the details form; values are plain text."""
    info = record.info

    def num(value: int | None) -> str:
        return f"{value:,}" if value else "—"

    rows = [("Load", record.load.summary())] if not record.load.is_default else []
    rows += [
        ("Architecture", info.architecture or "—"),
        ("Parameters", f"{info.parameter_label} ({info.parameter_count:,})" if info.parameter_count
         else (info.size_label or "—")),
        ("Quantization", info.quant or "—"),
        ("File size", f"{human_bytes(record.size_bytes)} ({record.size_bytes:,} bytes)"),
        ("Context length", num(info.context_length)),
        ("Layers", num(info.block_count)),
        ("Embedding size", num(info.embedding_length)),
        ("Attention heads", f"{num(info.head_count)} (KV {num(info.head_count_kv)})"),
        ("Vocabulary", num(info.vocab_size)),
        ("Tensors", num(info.tensor_count)),
        ("Chat template", "yes" if info.has_chat_template else "no"),
        ("GGUF version", str(info.version)),
    ]
    if info.split_count > 1:
        rows.append(("Shards", str(info.split_count)))
    if record.mmproj is not None:
        rows.append(("Vision", f"yes — projector {record.mmproj.name}"))
    rows.append(("Source", record.source.words))
    origin = dict(origin_rows(record.origin))
    for key in ("repo", "revision", "file", "quant", "model", "tag"):  # long texts (licenses) stay out
        if origin.get(key):
            rows.append((f"Origin {key}", origin[key]))
    rows += [
        ("Stored", "in the app's models folder" if record.owned else "linked in place (not ours)"),
        ("Path", str(record.path) + (f" (+{len(record.paths) - 1} more shards)" if len(record.paths) > 1
                                     else "")),
        ("SHA-256", record.sha256 or "not computed yet"),
        ("Added", record.added_at.replace("T", " ").removesuffix("+00:00") or "—"),
        ("API id", record.id),
    ]
    return rows


BREAKABLE_ROWS = {"Path", "SHA-256", "API id", "Origin repo", "Origin file"}


class ModelDetails(QFrame):
    """Signals:
        serve_requested(str model_id)
        stop_requested()
        show_in_folder_requested(str model_id)
        requantize_requested(str model_id)
        load_settings_requested(str model_id)
        remove_requested(str model_id)
    """

    serve_requested = Signal(str)
    stop_requested = Signal()
    show_in_folder_requested = Signal(str)
    requantize_requested = Signal(str)
    load_settings_requested = Signal(str)
    remove_requested = Signal(str)

    def __init__(self, theme: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._theme = theme
        self._record: ModelRecord | None = None
        self._serving = False
        self._serve_blocker = ""

        self.title = QLabel("No model selected")
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel("Pick a model in the table, or drop a .gguf file onto the window.")
        self.subtitle.setProperty("muted", True)
        self.subtitle.setWordWrap(True)

        self.file_name = QLabel()
        self.file_name.setProperty("muted", True)
        self.file_name.setWordWrap(True)
        self.file_name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_name.hide()

        self.serve_button = QPushButton("&Serve")
        self.serve_button.setProperty("primary", True)
        self.serve_button.clicked.connect(self._on_serve_clicked)
        # Icon-only: three labelled buttons do not fit the pane at 1024 wide.
        self.folder_button = QPushButton()
        self.folder_button.setToolTip("Show the model file in your file manager")
        self.folder_button.setAccessibleName("Show in folder")
        self.folder_button.clicked.connect(lambda: self._emit_for(self.show_in_folder_requested))
        self.load_button = QPushButton()
        self.load_button.setToolTip("Load settings: this model's own context, slots, template…")
        self.load_button.setAccessibleName("Load settings…")
        self.load_button.clicked.connect(lambda: self._emit_for(self.load_settings_requested))
        self.requantize_button = QPushButton("&Quantize…")
        self.requantize_button.setToolTip("Re-quantize: make a smaller copy at another quant type")
        self.requantize_button.clicked.connect(lambda: self._emit_for(self.requantize_requested))
        self.remove_button = QPushButton("&Remove…")
        self.remove_button.setToolTip("Remove the model from the library")
        self.remove_button.setProperty("danger", True)
        self.remove_button.clicked.connect(lambda: self._emit_for(self.remove_requested))

        actions = QVBoxLayout()
        actions.setSpacing(6)
        first = QHBoxLayout()
        first.setSpacing(6)
        first.addWidget(self.serve_button, 1)
        first.addWidget(self.load_button)  # beside Serve: it says how Serve loads the model
        actions.addLayout(first)
        second = QHBoxLayout()
        second.setSpacing(6)
        for button in (self.folder_button, self.requantize_button, self.remove_button):
            button.setProperty("compact", True)
            second.addWidget(button, 0 if button is self.folder_button else 1)
        actions.addLayout(second)

        self._form_host = QWidget()
        self._rows: list[tuple[str, str]] = []  # what the form shows now
        self.form = QFormLayout(self._form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setHorizontalSpacing(14)
        self.form.setVerticalSpacing(6)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        scroll = QScrollArea()
        scroll.setObjectName("transparentScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._form_host)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(10)
        layout.addWidget(self.title)
        layout.addWidget(self.file_name)
        layout.addWidget(self.subtitle)
        layout.addLayout(actions)
        layout.addWidget(scroll, 1)
        theme.changed.connect(self._tint)
        self.show_record(None)

    @property
    def record(self) -> ModelRecord | None:
        return self._record

    def set_serve_blocker(self, reason: str) -> None:
        """Disable Serve with ``reason`` in its tooltip ('' enables it again)."""
        self._serve_blocker = reason
        self.show_record(self._record, serving=self._serving)

    def show_record(self, record: ModelRecord | None, *, serving: bool = False) -> None:
        self._record = record
        self._serving = serving
        rows = metadata_rows(record) if record is not None else []
        if rows != self._rows:  # rebuilt only when they change: a refresh per server event must not blank it
            self._rows = rows
            while self.form.rowCount():
                self.form.removeRow(0)
            for label, value in rows:
                field = QLabel(breakable(value) if label in BREAKABLE_ROWS else value)
                field.setWordWrap(True)
                field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                name = QLabel(label)
                name.setProperty("muted", True)
                self.form.addRow(name, field)
        has = record is not None
        for button in (self.serve_button, self.folder_button, self.load_button, self.requantize_button,
                       self.remove_button):
            button.setEnabled(has)
        if record is None:
            self.title.setText("No model selected")
            self.subtitle.setText("Pick a model in the table, or drop a .gguf file onto the window.")
            self.serve_button.setText("&Serve")
            self.file_name.hide()
            self._tint()
            return
        self.title.setText(title_of(record))
        self.file_name.setText(breakable(file_label(record), every=40))
        self.file_name.setToolTip(str(record.path))
        self.file_name.show()
        parts = [p for p in (record.info.parameter_label if record.info.parameter_count else "",
                             record.info.quant or "", human_bytes(record.size_bytes)) if p]
        self.subtitle.setText(" · ".join(parts) + ("  —  the file is missing" if record.missing else ""))
        self.serve_button.setText("&Stop serving" if serving else "&Serve")
        self.serve_button.setEnabled(serving or (not record.missing and not self._serve_blocker))
        self.serve_button.setToolTip("" if serving else self._serve_blocker)
        requantizable = can_requantize(record)
        self.requantize_button.setEnabled(requantizable)
        self.requantize_button.setToolTip(
            "Make a smaller copy at another quant type" if requantizable else
            f"Only F16/BF16/F32 models can be re-quantized; this one is {record.info.quant or 'unknown'}.")
        self._tint()

    @Slot()
    def _on_serve_clicked(self) -> None:
        if self._record is None:
            return
        if self._serving:
            self.stop_requested.emit()
        else:
            self.serve_requested.emit(self._record.id)

    def _emit_for(self, signal: SignalInstance) -> None:
        if self._record is not None:
            signal.emit(self._record.id)

    @Slot()
    def _tint(self) -> None:
        colors = self._theme.colors
        self.serve_button.setIcon(tinted_icon("action-stop" if self._serving else "action-play",
                                              colors.accent_text))
        self.folder_button.setIcon(tinted_icon("action-folder", colors.text))
        self.load_button.setIcon(tinted_icon("action-settings", colors.text))
        self.requantize_button.setIcon(tinted_icon("action-quantize", colors.text))
        self.remove_button.setIcon(tinted_icon("action-remove", colors.bad if self.remove_button.isEnabled()
                                               else colors.disabled))
