""""Remove this model?" — with a choice to delete the file too, offered only for files we own."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QDialog, QWidget

from llama_wrangler.library.records import ModelRecord
from llama_wrangler.ui.confirm_layout import lay_out_confirm
from llama_wrangler.ui.model_names import title_of
from llama_wrangler.units import human_bytes


class RemoveDialog(QDialog):
    """Non-blocking (``open()``). Signals:
        confirmed(int delete_file): the user confirmed (1 = delete the file as well).
    """

    confirmed = Signal(int)  # int, not bool: PySide6 6.12 bool-argument refcount bug

    def __init__(self, record: ModelRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("removeDialog")
        self.setWindowTitle("Remove model")
        self.delete_file = QCheckBox(f"Also delete the file ({human_bytes(record.size_bytes)})")
        if record.owned:
            text = "It is stored in the app's models folder."
        else:
            text = (f"It is linked in place from {record.path.parent}; the file stays where it is "
                    "(Llama Wrangler only deletes files in its own folder).")
            self.delete_file.setEnabled(False)
        self.ok_button = lay_out_confirm(self, f"Remove {title_of(record)}?", text, self.delete_file, "&Remove",
                                         destructive=True)
        self.accepted.connect(self._on_accepted)

    @Slot()
    def _on_accepted(self) -> None:
        self.confirmed.emit(int(self.delete_file.isChecked()))
