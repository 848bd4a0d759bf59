"""Work around a PySide6 6.12 reference-count bug that aborts the interpreter on Python 3.11.

In PySide6 6.12.0 every ``Signal.emit()`` returns ``True`` without taking a reference to it, so each emit
drops one reference from the ``True`` singleton. After a few hundred emits Python 3.11 frees ``True`` and
aborts with "Fatal Python error: bool_dealloc" (usually at exit, inside the garbage collector). Python 3.12+
made the bool singletons immortal, so there it is harmless; PySide6 6.11 does not have the bug.

:func:`protect_bool_singletons` gives ``True`` and ``False`` a huge extra reference count — what 3.12 does
by design — so the leaked decrements can never reach zero. Call it once, before Qt objects emit anything
(``workers.jobs`` and the app's entry points import this module).
"""

from __future__ import annotations

import ctypes
import sys

_EXTRA_REFERENCES = 1 << 40
_applied = False


def protect_bool_singletons() -> None:
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    # None too: every void-returning wrapped method (QLabel.setText, QComboBox.setCurrentIndex, ...)
    # returns None without a reference, so a busy GUI frees None within minutes ("none_dealloc").
    for singleton in (True, False, None):
        # ob_refcnt is the first field of every CPython 3.11 object header.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _EXTRA_REFERENCES
    _applied = True


protect_bool_singletons()
