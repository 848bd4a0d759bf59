"""The stable endpoint as a service, the same for the window and ``serve`` on the command line.

It keeps the endpoint as the settings say: opened on the user's host:port before a model is served,
reopened when that address changes, closed when ``server.stable_endpoint`` is turned off — and tells the
supervisor which settings to start llama-server with (its own loopback port behind the proxy, or the
user's address when there is no proxy).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from llama_wrangler.errors import ServerError
from llama_wrangler.server.backend_gate import BackendGate
from llama_wrangler.server.stable_link import Resolver, StableLink, backend_settings, open_stable_endpoint, wait_seconds
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

_IDLE = (ServerState.STOPPED, ServerState.CRASHED)


class EndpointService(QObject):
    """Owns the stable endpoint of one app session or one ``serve`` run.

    Signals:
        swap_requested(str): a client's request named this library model (the swap follows).
    """

    swap_requested = Signal(str)

    def __init__(self, supervisor: ServerSupervisor, resolve: Resolver, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._resolve = resolve
        self._link: StableLink | None = None
        self._address: tuple[str, int, str] | None = None
        self._catalog: list[str] = []

    @property
    def url(self) -> str:
        """Base URL of the open endpoint ('' when there is none)."""
        return self._link.url if self._link is not None else ""

    def apply(self, server: ServerSettings, *, opening: bool, strict: bool = False) -> None:
        """Follow ``server``. ``opening``: a model is about to be served, so open the endpoint if it is
        wanted and not open yet (otherwise it is only reopened while a server runs).

        ``strict``: a port that cannot be bound raises :class:`ServerError` (the command line stops at
        once); otherwise it is logged and the supervisor then meets the same busy port and reports it the
        way it reports any start failure (the window shows that).
        """
        address = (server.host, server.port, str(server.port_conflict))
        if self._link is not None and (not server.stable_endpoint or address != self._address):
            self.close()
        wanted = opening or self._supervisor.state not in _IDLE
        if server.stable_endpoint and self._link is None and wanted:
            self._open(server, address, strict=strict)
        if self._link is not None:
            self._link.endpoint.wait_s = wait_seconds(server)
            self._link.endpoint.api_key = server.api_key
            self._supervisor.set_settings(backend_settings(server))
        else:
            self._supervisor.set_settings(server)

    def set_catalog(self, model_ids: list[str]) -> None:
        """The library's servable model ids, for ``/v1/models`` and routing by name."""
        self._catalog = list(model_ids)
        if self._link is not None:
            self._link.set_catalog(self._catalog)

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link.deleteLater()
            self._link = None
            self._address = None

    def _open(self, server: ServerSettings, address: tuple[str, int, str], *, strict: bool) -> None:
        try:
            endpoint = open_stable_endpoint(server, BackendGate(), routing=True)
        except ServerError as exc:
            if strict:
                raise
            log.warning("stable endpoint not opened: %s", exc)
            return
        self._link = StableLink(self._supervisor, endpoint, resolve=self._resolve)
        self._link.swap_requested.connect(self.swap_requested)
        self._link.set_catalog(self._catalog)
        self._address = address
        endpoint.start()
        log.info("stable endpoint at %s", endpoint.url)
