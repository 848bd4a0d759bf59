""""Load settings…" for one model: its own context, GPU layers, threads, slots, chat template, extra
arguments, idle unload and "keep loaded". An empty field means the server settings' value, which the field
shows as its placeholder. The dialog only edits; its ``saved`` answer goes to a service."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.library.load_settings import BUILTIN_TEMPLATES, LoadSettings
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.settings import ServerSettings
from llama_wrangler.ui.buttons import dress_button, dress_button_box
from llama_wrangler.ui.model_names import title_of
from llama_wrangler.ui.wheel_guard import ignore_wheel_unless_focused

CHOOSE_FILE = "Choose file…"
IDLE_DEFAULT, IDLE_NEVER, IDLE_AFTER = "default", "never", "after"
NUMBER_FIELDS = ("context_size", "gpu_layers", "threads", "parallel")
LABELS = {"context_size": "&Context (tokens)", "gpu_layers": "&GPU layers", "threads": "&Threads",
          "parallel": "&Parallel slots", "chat_template": "C&hat template", "extra_args": "E&xtra arguments",
          "idle_ttl_s": "&Unload when idle", "pinned": ""}


def default_words(server: ServerSettings) -> dict[str, str]:
    """What each field means when left empty: the server settings' value, in words."""
    return {
        "context_size": "the model's own" if server.context_size == 0 else f"{server.context_size:,}",
        "gpu_layers": "all" if server.gpu_layers < 0 else str(server.gpu_layers),
        "threads": "automatic" if server.threads == 0 else str(server.threads),
        "parallel": str(server.parallel),
        "extra_args": server.extra_args or "none",
        "idle_ttl_s": (f"after {server.idle_unload_min:g} min if a request loaded it, else when room is needed"
                       if server.idle_unload_min else "when room is needed"),
    }


class LoadSettingsDialog(QDialog):
    """Non-blocking (``open()``). Signals:
        saved(LoadSettings): the user saved these settings (the dialog then closes).
    """

    saved = Signal(object)

    def __init__(self, record: ModelRecord, server: ServerSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loadSettingsDialog")
        self.setWindowTitle(f"Load settings — {title_of(record)}")
        self.setMinimumWidth(520)
        words = default_words(server)
        self.errors: dict[str, QLabel] = {}
        self.inputs: dict[str, QWidget] = {}
        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.numbers: dict[str, QLineEdit] = {}
        hints = {"context_size": f"0 = the model's own ({record.info.context_length:,} tokens); the slots "
                 "share it" if record.info.context_length else "0 = the model's own; the slots share it",
                 "gpu_layers": "-1 = all", "threads": "0 = llama-server decides",
                 "parallel": "requests answered at once"}
        for name in NUMBER_FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"load_{name}")
            edit.setPlaceholderText(f"Default ({words[name]} from Settings)")
            edit.setToolTip(hints[name])
            value = getattr(record.load, name)
            edit.setText("" if value is None else str(value))
            self.numbers[name] = edit
            self._add_row(form, name, edit)

        self.template = QComboBox()
        self.template.setObjectName("load_chat_template")
        self.template.setEditable(True)
        self.template.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.template.addItem("")
        self.template.addItems(list(BUILTIN_TEMPLATES))
        self.template.addItem(CHOOSE_FILE)
        line = self.template.lineEdit()
        if line is not None:  # an editable combo always has one
            line.setPlaceholderText("Default (the model's own)")
        self.template.setEditText(record.load.chat_template or "")
        self.template.setToolTip("A llama.cpp built-in template name, or a .jinja file")
        self.template.activated.connect(self._on_template_chosen)
        ignore_wheel_unless_focused(self.template)
        self._add_row(form, "chat_template", self.template)

        self.extra_args = QLineEdit()
        self.extra_args.setObjectName("load_extra_args")
        self.extra_args.setPlaceholderText(f"Default ({words['extra_args']} from Settings)")
        self.extra_args.setToolTip("llama-server arguments used instead of the ones in Settings")
        self.extra_args.setText(record.load.extra_args or "")
        self._add_row(form, "extra_args", self.extra_args)

        self.idle_mode = QComboBox()
        self.idle_mode.setObjectName("load_idle_mode")
        self.idle_mode.addItem(f"Default ({words['idle_ttl_s']})", IDLE_DEFAULT)
        self.idle_mode.addItem("Never", IDLE_NEVER)
        self.idle_mode.addItem("After…", IDLE_AFTER)
        self.idle_minutes = QSpinBox()
        self.idle_minutes.setObjectName("load_idle_minutes")
        self.idle_minutes.setRange(1, 43_200)
        self.idle_minutes.setSuffix(" min")
        self.idle_minutes.setAccessibleName("Minutes idle before unloading")
        ttl = record.load.idle_ttl_s
        self.idle_mode.setCurrentIndex(self.idle_mode.findData(
            IDLE_DEFAULT if ttl is None else IDLE_NEVER if ttl == 0 else IDLE_AFTER))
        self.idle_minutes.setValue(max(1, round((ttl or 600) / 60)))
        self.idle_mode.currentIndexChanged.connect(self._sync_idle)
        for widget in (self.idle_mode, self.idle_minutes):
            ignore_wheel_unless_focused(widget)
        idle_row = QWidget()
        idle_layout = QHBoxLayout(idle_row)
        idle_layout.setContentsMargins(0, 0, 0, 0)
        idle_layout.addWidget(self.idle_mode, 1)
        idle_layout.addWidget(self.idle_minutes)
        self._add_row(form, "idle_ttl_s", idle_row, buddy=self.idle_mode)

        self.pinned = QCheckBox("&Keep loaded — never unload it automatically")
        self.pinned.setToolTip("Pinned: never unloaded to make room for another model, nor when idle")
        self.pinned.setObjectName("load_pinned")
        self.pinned.setChecked(record.load.pinned)
        self._add_row(form, "pinned", self.pinned)
        self._sync_idle()

        title = QLabel(f"How {title_of(record)} loads")
        title.setObjectName("sectionTitle")
        title.setWordWrap(True)
        note = QLabel("Used whenever this model loads: from the library, the tray, the serve command, or an "
                      "API request naming it. Empty fields use the server settings.")
        note.setWordWrap(True)
        note.setProperty("muted", True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.reset_button = buttons.addButton("&Reset to defaults", QDialogButtonBox.ButtonRole.ResetRole)
        dress_button_box(buttons)
        dress_button(self.reset_button, "action-restart")
        buttons.accepted.connect(self._on_save)
        buttons.rejected.connect(self.reject)
        self.reset_button.clicked.connect(self.reset)

        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # an error line makes it grow
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.save_button.setDefault(True)  # Enter saves (set once the button is inside the dialog)
        self.numbers["context_size"].setFocus(Qt.FocusReason.OtherFocusReason)

    def _add_row(self, form: QFormLayout, name: str, widget: QWidget, *, buddy: QWidget | None = None) -> None:
        if LABELS[name]:
            label = QLabel(LABELS[name])
            label.setBuddy(buddy or widget)
            form.addRow(label, widget)
        else:
            form.addRow("", widget)
        # The error is a row of its own under the field (a form lays out a wrapped label's height right).
        error = QLabel()
        error.setProperty("fieldError", True)
        error.setWordWrap(True)
        form.addRow("", error)
        form.setRowVisible(error, False)
        self._form = form
        self.errors[name] = error
        self.inputs[name] = buddy or widget

    # ---- reading and checking ----------------------------------------------------------------------------
    def settings(self) -> LoadSettings:
        """The settings the fields say. Raises ValueError naming the field (``parallel: ...``)."""
        values: dict[str, Any] = {}
        for name, edit in self.numbers.items():
            text = edit.text().strip()
            if text:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ValueError(f"{name}: “{text}” is not a whole number") from None
        template = self.template.currentText().strip()
        values["chat_template"] = template if template and template != CHOOSE_FILE else None
        values["extra_args"] = self.extra_args.text().strip() or None
        mode = self.idle_mode.currentData()
        values["idle_ttl_s"] = None if mode == IDLE_DEFAULT else 0.0 if mode == IDLE_NEVER \
            else float(self.idle_minutes.value() * 60)
        values["pinned"] = self.pinned.isChecked()
        return LoadSettings(**values)

    def show_error(self, name: str | None, message: str = "") -> None:
        """Show ``message`` under field ``name`` (None clears every error)."""
        for field_name, label in self.errors.items():
            shown = field_name == name
            label.setText(message if shown else "")
            self._form.setRowVisible(label, shown and bool(message))
            widget = self.inputs[field_name]
            widget.setProperty("invalid", shown and bool(message))
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self._form.activate()
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))  # room for the error line

    def error_text(self) -> str:
        """The error shown now ('' when none): tests and screen readers."""
        return next((label.text() for label in self.errors.values() if label.text()), "")

    @Slot()
    def _on_save(self) -> None:
        try:
            load = self.settings()
        except ValueError as exc:
            name, _, message = str(exc).partition(": ")
            known = {f.name for f in fields(LoadSettings)}
            self.show_error(name if name in known else "context_size", message or str(exc))
            self.inputs.get(name, self.numbers["context_size"]).setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.show_error(None)
        self.saved.emit(load)
        self.accept()

    @Slot()
    def reset(self) -> None:
        """Every field back to the server settings (saved only with Save)."""
        for edit in (*self.numbers.values(), self.extra_args):
            edit.clear()
        self.template.setEditText("")
        self.idle_mode.setCurrentIndex(self.idle_mode.findData(IDLE_DEFAULT))
        self.pinned.setChecked(False)
        self.show_error(None)

    @Slot()
    def _sync_idle(self) -> None:
        after = self.idle_mode.currentData() == IDLE_AFTER
        self.idle_minutes.setEnabled(after)
        self.idle_minutes.setVisible(after)

    @Slot(int)
    def _on_template_chosen(self, index: int) -> None:
        if self.template.itemText(index) != CHOOSE_FILE:
            return
        self.template.setEditText("")
        picker = QFileDialog(self, "Choose a chat template")
        picker.setObjectName("chatTemplateFile")
        picker.setFileMode(QFileDialog.FileMode.ExistingFile)
        picker.setNameFilters(["Jinja templates (*.jinja)"])
        picker.fileSelected.connect(self.template.setEditText)
        picker.finished.connect(picker.deleteLater)
        picker.open()
