"""Wires a :class:`ServerFleet` (GUI thread) to the endpoint's scheduler (event-loop thread).

The fleet's supervisors stay the owners of server state; this link only reports it and carries orders:
- every slot's state changes go to the scheduler as :class:`Backend` snapshots, taken one event-loop turn
  later, so a crash that is followed by an automatic restart reads as "restarting", never as "down";
- each supervisor's drain hook asks the scheduler to take no new requests for its server and to call back
  once the running ones are done (the supervisor caps the wait with ``drain_timeout_s``);
- a model the scheduler asks for (with the models to unload first) or wants unloaded arrives as a queued
  signal and is carried out here; the user's loads and stops go the other way (:meth:`want`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from llama_wrangler.errors import WranglerError
from llama_wrangler.server.endpoint.lease import Backend
from llama_wrangler.server.endpoint.server import EndpointServer
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState

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
    """Keeps ``server``'s scheduler in step with ``fleet``.

    Signals:
        load_requested(str): requests (not the user) wait for this library model, which loads now.
    """

    load_requested = Signal(str)
    _load = Signal(str, object, int)  # (model, victims, the user's stops the scheduler had seen) from the loop
    _unload = Signal(str)

    def __init__(self, fleet: ServerFleet, server: EndpointServer, *, resolve: Resolver | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fleet = fleet
        self.server = server
        self._resolve = resolve
        self._sync_due = False  # a snapshot of every slot is on its way (one event-loop turn later)
        self._known: set[str] = set()  # slots the scheduler has a snapshot of
        # The user's Stops: sent (GUI thread) and taken in by the scheduler (loop thread). A load order the
        # scheduler gave before it took in the latest Stop is dropped: its requests were failed by that Stop.
        self._stops_sent = 0
        self._stops_seen = 0
        server.on_load = self._on_loop_load
        server.on_unload = self._unload.emit
        # Queued: the loop thread only asks; the work happens here, on the supervisors' thread.
        self._load.connect(self._on_load_requested, Qt.ConnectionType.QueuedConnection)
        self._unload.connect(self._on_unload_requested, Qt.ConnectionType.QueuedConnection)
        fleet.slots_changed.connect(self._sync_soon_all)
        fleet.slot_state_changed.connect(self._on_slot_state)
        fleet.error.connect(self._sync_soon_all)
        fleet.set_client_url(server.url)
        fleet.attach(self, self._drain)
        self._sync_all()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self, *, moving: bool = False) -> None:
        """Close the endpoint; its models' servers stop unless it is ``moving`` (reopened at once elsewhere)."""
        self._fleet.slots_changed.disconnect(self._sync_soon_all)
        self._fleet.slot_state_changed.disconnect(self._on_slot_state)
        self._fleet.error.disconnect(self._sync_soon_all)
        self._fleet.attach(None, None, moving=moving)
        self._fleet.set_client_url("")
        self.server.on_load = lambda _model, _victims: None
        self.server.on_unload = lambda _model: None
        self.server.close()

    # ----------------------------------------------------------------- the fleet's side (Router)
    def want(self, model_id: str) -> None:
        self.server.call(self.server.scheduler.want, model_id)

    def stopped_by_user(self) -> None:
        self._stops_sent += 1
        self.server.call(self._stopped_on_loop, self._stops_sent)

    def _stopped_on_loop(self, stops: int) -> None:
        self._stops_seen = stops
        self.server.scheduler.stopped_by_user()

    def _drain(self, url: str, done: Callable[[], None]) -> None:
        """Every model server's drain hook: the scheduler knows each by its URL."""
        self.server.call(self.server.scheduler.drain, url, done)

    # ----------------------------------------------------------------- snapshots
    @Slot(str, str)
    def _on_slot_state(self, slot: str, new: str) -> None:
        if new == ServerState.READY:
            self._sync(slot)  # at once: requests are waiting for exactly this
        else:
            self._sync_soon_all()

    @Slot()
    def _sync_soon_all(self) -> None:
        # After the supervisor has finished reacting (a crash schedules its restart right after the
        # state change): one snapshot of where it settled.
        if not self._sync_due:
            self._sync_due = True
            QTimer.singleShot(0, self, self._sync_all)

    @Slot()
    def _sync_all(self) -> None:
        self._sync_due = False
        slots = self._fleet.slots()
        for name in self._known - set(slots):
            self.server.call(self.server.scheduler.remove_slot, name)
        self._known = set(slots)
        for name in slots:
            self._sync(name)

    def _sync(self, name: str) -> None:
        sup = self._fleet.slots().get(name)
        if sup is None:
            return
        ready = sup.state is ServerState.READY and bool(sup.endpoint)
        snapshot = Backend(state=str(sup.state), url=sup.endpoint if ready else "", model_id=sup.model_id,
                           wanted=sup.wanted_model_id, error=short_reason(sup.last_error), pid=sup.pid or 0,
                           focus=name == self._fleet.focus_slot)
        self.server.call(self.server.scheduler.update, snapshot, name)

    # ----------------------------------------------------------------- orders from the scheduler
    def _on_loop_load(self, model_id: str, victims: tuple[str, ...]) -> None:
        self._load.emit(model_id, victims, self._stops_seen)

    @Slot(str, object, int)
    def _on_load_requested(self, model_id: str, victims: tuple[str, ...], stops_seen: int) -> None:
        if stops_seen < self._stops_sent:
            log.info("not loading %s: the user stopped serving after it was asked for", model_id)
            return
        if not self._fleet.user_wants(model_id):
            self.load_requested.emit(model_id)
        # The library first: the model's load settings as they are now (changed since its last load, maybe);
        # what the user started is the fallback, for a file the library does not hold (serve ./x.gguf).
        resolved, reason = None, "Loading models on request is not available."
        if self._resolve is not None:
            try:
                resolved = self._resolve(model_id)
            except WranglerError as exc:
                reason = short_reason(str(exc))
        known = self._fleet.known_target(model_id)
        target = resolved if resolved is not None and (known is None or resolved.model_id == model_id) else known
        if target is None:
            self.server.call(self.server.scheduler.refuse, model_id, reason)
            return
        if target.model_id != model_id:  # requests are grouped by the id they named: it must be the served one
            self.server.call(self.server.scheduler.refuse, model_id,
                             f"'{model_id}' names the library model '{target.model_id}'; use that id.")
            return
        self._fleet.place(target, victims)
        self._sync_soon_all()

    @Slot(str)
    def _on_unload_requested(self, model_id: str) -> None:
        if not self._fleet.unload(model_id):
            self._sync_soon_all()  # gone already: the scheduler learns so from the snapshots
