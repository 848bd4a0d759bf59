"""Wires a :class:`ServerSupervisor` (GUI thread) to the endpoint's scheduler (event-loop thread).

The supervisor stays the one owner of server state; this link only reports it and asks it for things:
- every state change goes to the scheduler as a :class:`Backend` snapshot, taken one event-loop turn
  later, so a crash that is followed by an automatic restart reads as "restarting", never as "down";
- the supervisor's drain hook asks the scheduler to take no new requests for the old server and to call
  back once its running requests are done (the supervisor caps the wait with ``drain_timeout_s``);
- a model the scheduler asks for arrives as a queued signal and is resolved and started here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from llama_wrangler.errors import WranglerError
from llama_wrangler.server.endpoint.scheduler import Backend
from llama_wrangler.server.endpoint.server import EndpointServer
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor

log = logging.getLogger(__name__)

# A model a request named -> what to start (file, id, projector, its own load settings), on the GUI thread;
# raises WranglerError when it cannot.
Resolver = Callable[[str], ServeTarget]

_ERROR_CHARS = 300  # a client gets the reason, not the server's log (that is in the app's log view)


def short_reason(error: str) -> str:
    """The first line of a supervisor error, cut to a length that fits an API error message."""
    line = error.strip().split("\n", 1)[0].strip()
    return line if len(line) <= _ERROR_CHARS else line[:_ERROR_CHARS - 1] + "…"


class EndpointLink(QObject):
    """Keeps ``server``'s scheduler in step with ``supervisor``.

    Signals:
        load_requested(str): requests wait for this library model (emitted on the loop thread).
    """

    load_requested = Signal(str)

    def __init__(self, supervisor: ServerSupervisor, server: EndpointServer, *, resolve: Resolver | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self.server = server
        self._resolve = resolve
        self._sync_pending = False
        server.on_load = self.load_requested.emit
        # Queued: the loop thread only asks; the start itself happens here, on the supervisor's thread.
        self.load_requested.connect(self._on_load_requested, Qt.ConnectionType.QueuedConnection)
        supervisor.state_changed.connect(self._on_state_changed)
        supervisor.error.connect(self._on_error)
        supervisor.set_drain_hook(self._drain)
        supervisor.set_client_url(server.url)
        self._sync()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self._supervisor.state_changed.disconnect(self._on_state_changed)
        self._supervisor.error.disconnect(self._on_error)
        self._supervisor.set_drain_hook(None)
        self._supervisor.set_client_url("")
        self.server.on_load = lambda _model: None
        self.server.close()

    def _drain(self, url: str, done: Callable[[], None]) -> None:
        self.server.call(self.server.scheduler.drain, url, done)

    @Slot(str, str)
    def _on_state_changed(self, _old: str, new: str) -> None:
        if new == ServerState.READY:
            self._sync()  # at once: requests are waiting for exactly this
        else:
            self._sync_soon()

    @Slot(str)
    def _on_error(self, _message: str) -> None:
        self._sync_soon()

    def _sync_soon(self) -> None:
        # After the supervisor has finished reacting (a crash schedules its restart right after the
        # state change): one snapshot of where it settled.
        if not self._sync_pending:
            self._sync_pending = True
            QTimer.singleShot(0, self, self._sync)

    @Slot()
    def _sync(self) -> None:
        self._sync_pending = False
        sup = self._supervisor
        ready = sup.state is ServerState.READY and bool(sup.endpoint)
        snapshot = Backend(state=str(sup.state), url=sup.endpoint if ready else "", model_id=sup.model_id,
                           wanted=sup.wanted_model_id, error=short_reason(sup.last_error))
        self.server.call(self.server.scheduler.update, snapshot)

    @Slot(str)
    def _on_load_requested(self, model_id: str) -> None:
        if self._resolve is None:
            self.server.call(self.server.scheduler.refuse, model_id, "Loading models on request is not available.")
            return
        if model_id == self._supervisor.wanted_model_id:
            self._sync()  # on its way already: the scheduler learns so from the snapshot
            return
        try:
            target = self._resolve(model_id)
        except WranglerError as exc:
            self.server.call(self.server.scheduler.refuse, model_id, short_reason(str(exc)))
            return
        if target.model_id != model_id:  # requests are grouped by the id they named: it must be the served one
            self.server.call(self.server.scheduler.refuse, model_id,
                             f"'{model_id}' names the library model '{target.model_id}'; use that id.")
            return
        log.info("requests wait for %s: starting it", target.model_id)
        # With the model's own load settings: a load a request triggers is the same load as the window's.
        self._supervisor.start(target.model_path, target.model_id, target.mmproj, load=target.load)
