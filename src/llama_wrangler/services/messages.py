"""The one way the UI tells the user something: error / warning / info.

Every message is logged and then shown; the main window decides where (status bar for info and warnings,
a non-blocking dialog for errors). Objects get a :class:`Messenger` passed in from ``app.py`` — there is
no global instance (qutebrowser's ``utils/message.py`` is the model for the shape, not the globals).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from llama_wrangler.errors import WranglerError

log = logging.getLogger("llama_wrangler.ui")


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Messenger(QObject):
    """Logs and announces user messages.

    Signals:
        shown(str level, str text, str details): a message to display; ``details`` may be ''.
    """

    shown = Signal(str, str, str)

    def error(self, text: str, *, details: str = "") -> None:
        log.error("%s%s", text, f"\n{details}" if details else "")
        self.shown.emit(Level.ERROR.value, text, details)

    def warning(self, text: str, *, details: str = "") -> None:
        log.warning("%s", text)
        self.shown.emit(Level.WARNING.value, text, details)

    def info(self, text: str) -> None:
        log.info("%s", text)
        self.shown.emit(Level.INFO.value, text, "")

    def report(self, error: BaseException, *, context: str = "") -> None:
        """Show an exception: a :class:`WranglerError` as its own message, anything else generically."""
        prefix = f"{context}: " if context else ""
        if isinstance(error, WranglerError):
            self.error(f"{prefix}{error}")
        else:
            log.exception("unexpected error", exc_info=error)
            self.error(f"{prefix}an unexpected error occurred ({type(error).__name__}: {error}).")
