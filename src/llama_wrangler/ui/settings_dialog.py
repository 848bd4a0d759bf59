"""The settings dialog, generated from the pydantic ``Settings`` model.

Each section becomes a tab and each field a widget chosen by its type (check box, spin box with the
field's bounds, combo box for enums, line edit for text and paths). Every edit re-validates the whole
model; pydantic's messages appear under the field they belong to and Save stays disabled until the form
is valid. Saving goes through :class:`SettingsStore` (``save_settings``).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from llama_wrangler.errors import SettingsError
from llama_wrangler.services.settings_store import SettingsStore
from llama_wrangler.settings import CHECK_PATHS, Settings
from llama_wrangler.ui.buttons import dress_button_box
from llama_wrangler.ui.wheel_guard import ignore_wheel_unless_focused

SECTION_TITLES = {"server": "Server", "library": "Library", "downloads": "Downloads",
                  "runtime": "llama.cpp", "pool": "Pool", "ui": "Appearance"}
LABELS = {
    "gpu_layers": "GPU layers", "api_key": "API key", "extra_args": "Extra arguments",
    "health_timeout_s": "Load timeout (s)", "stop_grace_s": "Shutdown wait (s)",
    "port_conflict": "If the port is taken", "context_size": "Context size", "auto_restart": "Restart after a crash",
    "stable_endpoint": "One address for every model", "parallel": "Requests at once",
    "models_dir": "Models folder", "import_mode": "Dropped files are",
    "import_mode_confirmed": "Add dropped files without asking", "default_quant": "Default quantization",
    "drain_timeout_s": "Let generations finish (s)", "swap_fairness_s": "Switch fairness window (s)",
    "cors_origins": "Allowed web origins (CORS)", "load_on_request": "Load models on request",
    "max_models": "Models loaded at once", "memory_limit_gb": "Memory for models (GB)",
    "idle_unload_min": "Unload idle models (min)",
    "hf_endpoint": "Hugging Face address",
    "hf_token": "Hugging Face token", "token_source": "Token source", "ollama_registry": "Ollama registry",
    "max_parallel_downloads": "Parallel downloads", "connections": "Connections per file",
    "stall_s": "Stalled part retry (s)", "max_parallel_conversions": "Parallel conversions",
    "llama_server_path": "llama-server binary", "source_archive_url": "Source archive URL",
    "releases_api_url": "Releases API URL", "close_to_tray": "Keep running in the tray when closed",
    "notifications": "Show notifications",
    "workers": "Workers (host:port, …)", "enabled": "Split models across the workers",
    "tensor_split": "Share per worker", "worker_host": "This computer's worker address",
    "worker_port": "This computer's worker port",
}
SECRET_FIELDS = {"api_key", "hf_token"}
# What each choice means, in words (the stored values are for the file, not for people).
CHOICE_WORDS = {
    "fail": "Show an error", "pick_free": "Use another free port",
    "copy": "Copied into the library", "move": "Moved into the library", "hardlink": "Hard-linked (no extra space)",
    "link": "Used where they are",
    "auto": "Automatic", "settings": "The token below", "environment": "The HF_TOKEN environment variable",
    "hf_login": "The Hugging Face CLI login",
    "cpu": "CPU only", "cuda": "CUDA (NVIDIA)", "metal": "Metal (Apple)", "vulkan": "Vulkan", "rocm": "ROCm (AMD)",
    "system": "Follow the system", "light": "Light", "dark": "Dark",
}
NO_TRAY_NOTE = ("This desktop has no system tray, so closing the window quits Llama Wrangler.")
SKIPPED_FIELDS = {"schema_version"}


def label_for(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``Path | None`` -> (Path, True)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _choices(info: FieldInfo) -> list[str]:
    """The fixed choices a text field declares (``json_schema_extra={"choices": [...]}``)."""
    extra = info.json_schema_extra
    choices = extra.get("choices") if isinstance(extra, dict) else None
    return [str(c) for c in choices] if isinstance(choices, list) else []


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    for item in info.metadata:
        for attr, is_low in (("ge", True), ("gt", True), ("le", False), ("lt", False)):
            value = getattr(item, attr, None)
            if isinstance(value, int | float):
                if is_low:
                    low = value
                else:
                    high = value
    return low, high


class FieldEditor:
    """One field: its widget, how to read/write it, and the label for its error."""

    def __init__(self, section: str, name: str, info: FieldInfo, value: Any, parent: QWidget) -> None:
        self.section = section
        self.name = name
        annotation, self.optional = _unwrap_optional(info.annotation)
        self.error = QLabel()
        self.error.setProperty("fieldError", True)
        self.error.setWordWrap(True)
        self.error.hide()
        self.message = ""
        self.widget: QWidget
        self.input: QWidget
        self._get: Callable[[], Any]
        self.changed: Any
        if annotation is bool:
            box = QCheckBox(parent)
            box.setChecked(bool(value))
            self.widget = self.input = box
            self._get = box.isChecked
            self.changed = box.toggled
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            combo = QComboBox(parent)
            for member in annotation:
                value_text = str(member.value)
                combo.addItem(CHOICE_WORDS.get(value_text, value_text.replace("_", " ")), member.value)
            combo.setCurrentIndex(max(0, combo.findData(getattr(value, "value", value))))
            self.widget = self.input = combo
            self._get = combo.currentData
            self.changed = combo.currentIndexChanged
        elif _choices(info):
            choices = _choices(info)
            combo = QComboBox(parent)
            for choice in choices:
                combo.addItem(choice, choice)
            current = str(value)
            if combo.findData(current) < 0:
                combo.addItem(current, current)  # an old value: shown (and flagged) rather than lost
            combo.setCurrentIndex(combo.findData(current))
            self.widget = self.input = combo
            self._get = combo.currentData
            self.changed = combo.currentIndexChanged
        elif annotation is int:
            spin = QSpinBox(parent)
            low, high = _bounds(info)
            spin.setRange(int(low) if low is not None else -2**31, int(high) if high is not None else 2**31 - 1)
            spin.setValue(int(value))
            spin.setMinimumWidth(120)
            self.widget = self.input = spin
            self._get = spin.value
            self.changed = spin.valueChanged
        elif annotation is float:
            dspin = QDoubleSpinBox(parent)
            low, high = _bounds(info)
            dspin.setDecimals(1)
            dspin.setRange(low if low is not None else -1e9, high if high is not None else 1e9)
            dspin.setValue(float(value))
            dspin.setMinimumWidth(120)
            self.widget = self.input = dspin
            self._get = dspin.value
            self.changed = dspin.valueChanged
        else:
            edit = QLineEdit(parent)
            edit.setText("" if value is None else str(value))
            if name in SECRET_FIELDS:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.input = edit
            self.changed = edit.textChanged
            if annotation is Path:
                edit.setPlaceholderText("(default)")
                browse = QPushButton("&Browse…", parent)
                browse.clicked.connect(lambda: self._browse(edit, name))
                row = QWidget(parent)
                layout = QHBoxLayout(row)
                layout.setContentsMargins(0, 0, 0, 0)
                layout.addWidget(edit, 1)
                layout.addWidget(browse)
                self.widget = row
            else:
                self.widget = edit
            optional = self.optional
            self._get = lambda: (None if optional and not edit.text().strip() else edit.text())
        self.widget.setToolTip(info.description or "")
        if isinstance(self.input, QAbstractSpinBox | QComboBox):
            ignore_wheel_unless_focused(self.input)

    def _browse(self, edit: QLineEdit, name: str) -> None:
        if name.endswith("_dir"):
            chosen = QFileDialog.getExistingDirectory(self.widget, label_for(name), edit.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self.widget, label_for(name), edit.text())
        if chosen:
            edit.setText(chosen)

    def value(self) -> Any:
        return self._get()

    def keep_unchanged(self, shown: bool) -> None:
        """Disable the field, show ``shown`` (what is true right now), and keep saving the stored value
        (it applies again where it can, e.g. on a desktop with a tray)."""
        stored = self._get()
        self._get = lambda: stored
        if isinstance(self.input, QCheckBox):
            self.input.setChecked(shown)
        self.input.setEnabled(False)

    def show_error(self, message: str | None) -> None:
        self.message = message or ""
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.input.setProperty("invalid", bool(message))
        self.input.style().unpolish(self.input)
        self.input.style().polish(self.input)


class SettingsDialog(QDialog):
    """Non-blocking (``open()``). Signals:
        saved(Settings): the new settings were written.
    """

    saved = Signal(Settings)

    def __init__(self, store: SettingsStore, parent: QWidget | None = None, *,
                 tray_available: bool = True) -> None:
        super().__init__(parent)
        self._tray_available = tray_available
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.resize(720, 600)
        self._store = store
        self.editors: dict[tuple[str, str], FieldEditor] = {}
        self._sections: list[str] = []
        self.tabs = QTabWidget()
        current = store.settings
        for section, section_info in Settings.model_fields.items():
            if section in SKIPPED_FIELDS:
                continue
            model_type = section_info.annotation
            if not (isinstance(model_type, type) and issubclass(model_type, BaseModel)):
                continue  # a plain value at the top level (the file's version): nothing to edit
            self.tabs.addTab(self._build_section(section, model_type, getattr(current, section)),
                             SECTION_TITLES.get(section, section.title()))
            self._sections.append(section)

        self.banner = QLabel()
        self.banner.setProperty("fieldError", True)
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        dress_button_box(self.buttons)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)
        note = QLabel("Server changes apply the next time a model starts (or use Restart).")
        note.setProperty("muted", True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 14)
        layout.setSpacing(10)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.banner)
        bottom = QHBoxLayout()
        bottom.addWidget(note, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self.validate()

    def _build_section(self, section: str, model_type: type[BaseModel], values: BaseModel) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(16, 16, 16, 16)
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, info in model_type.model_fields.items():
            editor = FieldEditor(section, name, info, getattr(values, name), page)
            self.editors[(section, name)] = editor
            description = info.description
            if (section, name) == ("ui", "close_to_tray") and not self._tray_available:
                editor.keep_unchanged(False)
                description = NO_TRAY_NOTE
            editor.changed.connect(self._on_changed)
            holder = QWidget(page)
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 8)
            column.setSpacing(3)
            column.addWidget(editor.widget)
            column.addWidget(editor.error)
            if description:
                hint = QLabel(description, holder)
                hint.setProperty("muted", True)
                hint.setWordWrap(True)
                column.addWidget(hint)
            caption = QLabel(label_for(name), page)
            caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            caption.setContentsMargins(0, 6, 0, 0)
            form.addRow(caption, holder)
        if section == "downloads":
            form.addRow(self._in_force_note(page))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        return scroll

    def _in_force_note(self, parent: QWidget) -> QLabel:
        """Where the Hub address, token, offline switch and other stores' folders come from now (the
        environment's conventions apply unless set above)."""
        note = QLabel("In force now:\n" + "\n".join(self._store.in_force()), parent)
        note.setObjectName("settingsInForce")
        note.setProperty("muted", True)
        note.setWordWrap(True)
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return note

    # -- validation ------------------------------------------------------------------------------------
    def form_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema_version": self._store.settings.schema_version}
        for (section, name), editor in self.editors.items():
            data.setdefault(section, {})[name] = editor.value()
        return data

    def validate(self) -> Settings | None:
        """Validate the form; show each error under its field. Returns the settings when valid."""
        for editor in self.editors.values():
            editor.show_error(None)
        try:
            # The same rules as the settings file, plus: the paths named must exist.
            settings = Settings.model_validate(self.form_data(), context={CHECK_PATHS: True})
        except ValidationError as exc:
            leftovers = []
            for item in exc.errors():
                loc = tuple(str(part) for part in item["loc"])
                message = item["msg"].removeprefix("Value error, ")
                found = self.editors.get((loc[0], loc[1])) if len(loc) >= 2 else None
                if found is not None:
                    found.show_error(message)
                else:
                    leftovers.append(f"{'.'.join(loc)}: {message}")
            self.banner.setText("; ".join(leftovers))
            self.banner.setVisible(bool(leftovers))
            self.save_button.setEnabled(False)
            self._mark_tabs()
            return None
        self.banner.hide()
        self.save_button.setEnabled(True)
        self._mark_tabs()
        return settings

    def _mark_tabs(self) -> None:
        """A tab holding an invalid field says so, since its fields are out of sight."""
        broken = {section for section, _name in (key.split(".", 1) for key in self.errors())}
        for index, section in enumerate(self._sections):
            title = SECTION_TITLES.get(section, section.title())
            self.tabs.setTabText(index, f"{title} ⚠" if section in broken else title)

    def errors(self) -> dict[str, str]:
        """Visible field errors as ``{"section.field": message}`` (tests and accessibility)."""
        return {f"{s}.{n}": e.message for (s, n), e in self.editors.items() if e.message}

    def editor(self, dotted: str) -> FieldEditor:
        section, name = dotted.split(".", 1)
        return self.editors[(section, name)]

    @Slot()
    def _on_changed(self) -> None:
        self.validate()

    @Slot()
    def _on_save(self) -> None:
        settings = self.validate()
        if settings is None:
            return
        try:
            self._store.update(settings)
        except SettingsError as exc:
            self.banner.setText(str(exc))
            self.banner.show()
            return
        self.saved.emit(settings)
        self.accept()
