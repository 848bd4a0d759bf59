"""Wires a :class:`ServerSupervisor` to the stable endpoint: the supervisor's states drive the proxy's
:class:`BackendGate`, swaps drain the old server's requests first, and requests naming another model
ask for a swap through a queued signal (the supervisor lives on the GUI thread; the proxy's threads never
touch it).

:func:`open_stable_endpoint` binds the user's host:port (a busy port is refused or replaced as
``port_conflict`` says, exactly as for llama-server itself), and :func:`backend_settings` is the copy of
the settings llama-server then runs with: loopback, on a free port of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from llama_wrangler.errors import ServerError, WranglerError
from llama_wrangler.server.backend_gate import BackendGate
from llama_wrangler.server.ports import LOOPBACK, choose_port, pick_free_port
from llama_wrangler.server.proxy import StableEndpoint
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import PortConflict, ServerSettings

log = logging.getLogger(__name__)

# Turns a library id into (model file, id) on the GUI thread; raises WranglerError when it cannot.
# A model id -> (model file, id[, vision projector])
Resolver = Callable[[str], tuple[Path, str] | tuple[Path, str, Path | None]]


def backend_settings(settings: ServerSettings) -> ServerSettings:
    """The user's server settings with llama-server moved to a free loopback port: only the proxy is
    reached from outside, and the user's port stays the proxy's across swaps."""
    return settings.model_copy(update={"host": LOOPBACK, "port": pick_free_port(LOOPBACK),
                                       "port_conflict": PortConflict.PICK_FREE})


def open_stable_endpoint(settings: ServerSettings, gate: BackendGate, *, routing: bool) -> StableEndpoint:
    """Bind the stable endpoint on the user's host:port (not yet serving; call ``start()``)."""
    port = choose_port(settings.host, settings.port, settings.port_conflict)
    try:
        return StableEndpoint(gate, settings.host, port, wait_s=wait_seconds(settings),
                              catalog=(lambda: []) if routing else None, api_key=settings.api_key)
    except OSError as exc:  # taken between the check and the bind
        raise ServerError(f"Port {port} on {settings.host} is already in use by another program "
                          f"({exc.strerror or exc}).",
                          hint="Choose another port in the settings.") from exc


def wait_seconds(settings: ServerSettings) -> float:
    """How long a request may wait for a model: the old one's drain plus the new one's load."""
    return settings.health_timeout_s + settings.stop_grace_s


class StableLink(QObject):
    """Keeps ``endpoint``'s gate in step with ``supervisor``.

    Signals:
        swap_requested(str): a request named this library model (emitted on a proxy thread).
    """

    swap_requested = Signal(str)

    def __init__(self, supervisor: ServerSupervisor, endpoint: StableEndpoint, *,
                 resolve: Resolver | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self.endpoint = endpoint
        self._resolve = resolve
        self._catalog: list[str] = []
        if resolve is not None:
            endpoint.catalog = lambda: self._catalog  # replaced whole, never mutated: safe to read anywhere
            endpoint.on_swap = self.swap_requested.emit
        # Queued: the request thread only asks; the swap itself happens here, on the supervisor's thread.
        self.swap_requested.connect(self._on_swap_requested, Qt.ConnectionType.QueuedConnection)
        supervisor.state_changed.connect(self._on_state_changed)
        supervisor.error.connect(self._on_error)
        supervisor.set_drain_hook(self._drain)
        supervisor.set_client_url(endpoint.url)
        self._sync()

    @property
    def url(self) -> str:
        return self.endpoint.url

    def set_catalog(self, model_ids: list[str]) -> None:
        """The library's model ids, for ``/v1/models`` and routing."""
        self._catalog = list(model_ids)

    def close(self) -> None:
        self._supervisor.set_drain_hook(None)
        self._supervisor.set_client_url("")
        self.endpoint.gate.set_down("The server is shutting down.")
        self.endpoint.close()

    def _drain(self, url: str, done: Callable[[], None]) -> None:
        gate, cap = self.endpoint.gate, self._supervisor.settings.stop_grace_s

        def wait() -> None:
            if not gate.wait_drained(url, cap):
                log.info("requests still running on %s after %g s; stopping it anyway", url, cap)
            done()

        # Waiting blocks; the GUI thread must not, so a short-lived thread waits and calls back.
        threading.Thread(target=wait, name="stable-endpoint-drain", daemon=True).start()

    @Slot(str, str)
    def _on_state_changed(self, _old: str, _new: str) -> None:
        self._sync()

    @Slot(str)
    def _on_error(self, _message: str) -> None:
        self._sync()  # last_error is set after the crashed state is announced

    def _sync(self) -> None:
        sup, gate = self._supervisor, self.endpoint.gate
        state = sup.state
        if state is ServerState.READY and sup.endpoint:
            gate.set_ready(sup.endpoint, sup.model_id)
        elif state in (ServerState.STARTING, ServerState.LOADING):
            gate.set_waiting(sup.model_id)
        elif sup.wanted_model_id or sup.restart_scheduled:
            gate.set_waiting(sup.wanted_model_id)  # a swap in progress: requests wait for the new model
        elif state is ServerState.CRASHED:
            gate.set_down(f"The model server crashed: {sup.last_error or 'no reason given'}")
        elif state is ServerState.STOPPING:
            gate.set_down("The model server is stopping.")
        else:
            gate.set_down("The model server is stopped. Start a model in Llama Wrangler first.")

    @Slot(str)
    def _on_swap_requested(self, model_id: str) -> None:
        if self._resolve is None or model_id == self._supervisor.wanted_model_id:
            return
        try:
            path, resolved_id, *projector = self._resolve(model_id)
        except WranglerError as exc:
            # Wake the requests waiting for it with the reason; the rest go on with what is served.
            self.endpoint.gate.refuse(model_id, str(exc))
            self._sync()
            return
        log.info("a request named %s: swapping to it", resolved_id)
        self._supervisor.start(path, resolved_id, projector[0] if projector else None)
