"""One app per user and data folder: a second launch (or ``llama-wrangler open URL``) hands its URL to the
running window over a local socket (QLocalServer / QLocalSocket) and exits instead of starting another app.

The socket's name is derived from the data folder, so separate ``LLAMA_WRANGLER_HOME``s (tests, a second
profile) never meet. The message is one line of UTF-8 ('' = just show the window), capped in length.
"""

from __future__ import annotations

import hashlib
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from llama_wrangler.paths import AppPaths

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
CONNECT_MS = 500


def server_name(paths: AppPaths) -> str:
    digest = hashlib.sha256(str(paths.data_dir).encode()).hexdigest()[:16]
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
    return f"llama-wrangler-{user}-{digest}"


def hand_over(paths: AppPaths, url: str) -> bool:
    """Give ``url`` to a running app; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(paths))
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(url.encode("utf-8")[:MAX_MESSAGE] + b"\n")
    socket.flush()
    socket.waitForBytesWritten(CONNECT_MS)
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for later launches.

    Signals:
        url_received(str): a later launch's URL ('' to just bring the window up).
    """

    url_received = Signal(str)

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = server_name(paths)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)
        self._buffers: dict[QLocalSocket, bytearray] = {}  # each connection's bytes until its newline

    def listen(self) -> bool:
        if self._server.listen(self._name):
            return True
        # A stale socket file from an app that crashed (nothing answered hand_over()).
        QLocalServer.removeServer(self._name)
        ok = self._server.listen(self._name)
        if not ok:
            log.warning("single-instance socket not opened: %s", self._server.errorString())
        return ok

    def close(self) -> None:
        self._server.close()

    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(self._on_ready_read)
            self._on_ready_read(socket)

    def _on_ready_read(self, socket: QLocalSocket | None = None) -> None:
        source = socket or self.sender()
        if not isinstance(source, QLocalSocket) or source not in self._buffers:
            return
        buffer = self._buffers[source]
        buffer.extend(bytes(source.readAll().data()))
        if b"\n" in buffer or len(buffer) > MAX_MESSAGE:
            line = bytes(buffer).split(b"\n", 1)[0][:MAX_MESSAGE]
            del self._buffers[source]
            source.readyRead.disconnect(self._on_ready_read)
            source.abort()
            self.url_received.emit(line.decode("utf-8", "replace").strip())
