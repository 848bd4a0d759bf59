"""Spin boxes and combo boxes that take the mouse wheel only when they have the keyboard focus.

Scrolling a settings page with the wheel must scroll the page: Qt's default lets any spin box under the
pointer eat the wheel and change its value (the port 8080 became 8077 on the way down). With the guard the
field ignores the wheel until it is clicked or tabbed into, and the scroll area gets the event instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget


class _WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = _scroll_area_of(watched)
        if area is None:
            event.ignore()  # Qt hands it on to the parent
            return True
        # Handed to the page explicitly (and accepted, so Qt does not hand it on a second time).
        QApplication.sendEvent(area.viewport(), event)
        event.accept()
        return True


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def ignore_wheel_unless_focused(widget: QWidget) -> None:
    """Install the guard on ``widget`` (a wheel no longer gives it focus either)."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    guard = widget.findChild(_WheelGuard)
    if guard is None:
        guard = _WheelGuard(widget)
        widget.installEventFilter(guard)
