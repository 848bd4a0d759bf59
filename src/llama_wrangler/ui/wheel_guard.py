"""Spin boxes and combo boxes that take the mouse wheel only when they have the keyboard focus.

Scrolling a settings page with the wheel must scroll the page: Qt's default lets any spin box under the
pointer eat the wheel and change its value (the port 8080 became 8077 on the way down). With the guard the
field ignores the wheel until it is clicked or tabbed into, and the scroll area gets the event instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget


class _WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()  # passes on to the parent: the page scrolls
            return True
        return False


def ignore_wheel_unless_focused(widget: QWidget) -> None:
    """Install the guard on ``widget`` (a wheel no longer gives it focus either)."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    guard = widget.findChild(_WheelGuard)
    if guard is None:
        guard = _WheelGuard(widget)
        widget.installEventFilter(guard)
