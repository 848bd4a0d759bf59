"""Is a freshly started server ready yet? Poll its readiness URL, then read its ``/props``.

Each watch carries a generation number, and every request carries the generation it was sent for: a
reply for any other generation is dropped, so a reply from an old server can never describe a new one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkProxy, QNetworkReply, QNetworkRequest

HEALTH_POLL_MS = 20  # between a reply and the next request: readiness is seen within ~50 ms
HEALTH_REQUEST_TIMEOUT_MS = 2000
PROPS_TIMEOUT_MS = 5000

_GENERATION_ATTRIBUTE = QNetworkRequest.Attribute.User
_KIND_ATTRIBUTE = QNetworkRequest.Attribute(QNetworkRequest.Attribute.User.value + 1)
_HEALTH, _PROPS = "health", "props"


@dataclass(frozen=True)
class _Watch:
    generation: int
    base_url: str
    ready_path: str
    reads_props: bool
    deadline: float  # time.monotonic()
    api_key: str


class ReadinessProbe(QObject):
    """Watches one starting server at a time (:meth:`watch`) until it is ready, the deadline passes or
    :meth:`cancel`.

    Signals:
        loading(int generation): HTTP is up and the model is still loading (the readiness URL said 503).
        ready(int generation, dict props): the server is ready; ``props`` is its ``/props`` ({} when the
            backend has none, or it could not be read).
        timed_out(int generation): not ready by the deadline.
    """

    loading = Signal(int)
    ready = Signal(int, object)
    timed_out = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watch: _Watch | None = None
        self._network = QNetworkAccessManager(self)
        self._network.setProxy(QNetworkProxy(QNetworkProxy.ProxyType.NoProxy))  # loopback: never a proxy
        self._network.finished.connect(self._on_reply)
        self._poll_timer = QTimer(self)
        self._poll_timer.setSingleShot(True)
        self._poll_timer.timeout.connect(self._poll)

    def watch(self, generation: int, base_url: str, *, ready_path: str, reads_props: bool,
              deadline: float, api_key: str = "") -> None:
        """Start polling ``base_url + ready_path`` now; replaces any earlier watch."""
        self._watch = _Watch(generation, base_url, ready_path, reads_props, deadline, api_key)
        self._poll_timer.start(0)

    def cancel(self) -> None:
        """Stop watching; replies still on their way are dropped."""
        self._watch = None
        self._poll_timer.stop()

    @Slot()
    def _poll(self) -> None:
        watch = self._watch
        if watch is None:
            return
        if time.monotonic() > watch.deadline:
            self.cancel()
            self.timed_out.emit(watch.generation)
            return
        self._send(watch, watch.ready_path, _HEALTH, HEALTH_REQUEST_TIMEOUT_MS)

    def _send(self, watch: _Watch, path: str, kind: str, timeout_ms: int) -> None:
        request = QNetworkRequest(QUrl(f"{watch.base_url}{path}"))
        request.setTransferTimeout(timeout_ms)
        if watch.api_key:
            request.setRawHeader(b"Authorization", f"Bearer {watch.api_key}".encode())
        # The generation and the request's purpose travel with the request itself.
        request.setAttribute(_GENERATION_ATTRIBUTE, watch.generation)
        request.setAttribute(_KIND_ATTRIBUTE, kind)
        self._network.get(request)

    @Slot(QNetworkReply)
    def _on_reply(self, reply: QNetworkReply) -> None:
        reply.deleteLater()
        watch = self._watch
        if watch is None or reply.request().attribute(_GENERATION_ATTRIBUTE) != watch.generation:
            return  # a reply for an older server, or one we stopped watching
        status = reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
        if reply.request().attribute(_KIND_ATTRIBUTE) == _PROPS:
            self._finish(watch, _read_props(reply) if status == 200 else {})
        elif status == 200:
            if watch.reads_props:
                self._send(watch, "/props", _PROPS, PROPS_TIMEOUT_MS)
            else:
                self._finish(watch, {})
        else:
            self._poll_timer.start(HEALTH_POLL_MS)
            if status == 503:
                self.loading.emit(watch.generation)

    def _finish(self, watch: _Watch, props: dict[str, Any]) -> None:
        self.cancel()
        self.ready.emit(watch.generation, props)


def _read_props(reply: QNetworkReply) -> dict[str, Any]:
    try:
        parsed = json.loads(bytes(reply.readAll().data()))
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
