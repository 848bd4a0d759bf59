""""Re-quantize": pick the quant type to make from an F16/BF16/F32 model (runs as a conversion job)."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QDialog, QWidget

from llama_wrangler.library.records import ModelRecord
from llama_wrangler.settings import QUANT_CHOICES
from llama_wrangler.ui.confirm_layout import lay_out_confirm
from llama_wrangler.ui.model_names import title_of

# What llama-quantize can make a smaller model from without compounding quantization loss.
SOURCE_TYPES = frozenset({"F16", "BF16", "F32"})
TARGETS = tuple(q for q in QUANT_CHOICES if q not in SOURCE_TYPES)
NOTES = {"Q8_0": "near-lossless, large", "Q6_K": "very good", "Q5_K_M": "good", "Q4_K_M": "balanced (popular)",
         "Q4_0": "fast, older format", "Q3_K_M": "small, noticeable loss", "Q2_K": "smallest, big loss"}


def can_requantize(record: ModelRecord) -> bool:
    return (record.info.quant or "").upper() in SOURCE_TYPES and not record.missing


class RequantizeDialog(QDialog):
    """Non-blocking (``open()``). Signals:
        chosen(str quant)
    """

    chosen = Signal(str)

    def __init__(self, record: ModelRecord, default: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("requantizeDialog")
        self.setWindowTitle("Re-quantize")
        self.quant = QComboBox()
        for quant in TARGETS:
            self.quant.addItem(f"{quant} — {NOTES.get(quant, '')}", quant)
        index = self.quant.findData(default.upper())
        self.quant.setCurrentIndex(index if index >= 0 else self.quant.findData("Q4_K_M"))
        self.quant.setObjectName("requantizeQuant")
        lay_out_confirm(self, f"Make a smaller copy of {title_of(record)}",
                        "The original stays as it is; the new file is added to the library when done.",
                        self.quant, "&Re-quantize")
        self.accepted.connect(self._on_accepted)

    @Slot()
    def _on_accepted(self) -> None:
        self.chosen.emit(str(self.quant.currentData()))
