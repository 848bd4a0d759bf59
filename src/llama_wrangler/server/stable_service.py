"""The app's stable endpoint, kept as the settings say: opened on the user's host:port before a model is
served, reopened when that address changes, closed when ``server.stable_endpoint`` is turned off — and the
supervisor told which settings to start llama-server with (its own loopback port behind the proxy, or the
user's address when there is no proxy)."""

from __future__ import annotations

import logging

from llama_wrangler.errors import ServerError
from llama_wrangler.server.backend_gate import BackendGate
from llama_wrangler.server.stable_link import Resolver, StableLink, backend_settings, open_stable_endpoint, wait_seconds
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)

_IDLE = (ServerState.STOPPED, ServerState.CRASHED)


class StableEndpointService:
    def __init__(self, supervisor: ServerSupervisor, resolve: Resolver) -> None:
        self._supervisor = supervisor
        self._resolve = resolve
        self._link: StableLink | None = None
        self._address: tuple[str, int, str] | None = None
        self._catalog: list[str] = []

    @property
    def url(self) -> str:
        """Base URL of the open endpoint ('' when there is none)."""
        return self._link.url if self._link is not None else ""

    def apply(self, server: ServerSettings, *, opening: bool) -> None:
        """Follow ``server``. ``opening``: a model is about to be served, so open the endpoint if it is
        wanted and not open yet (otherwise it is only reopened while a server runs)."""
        address = (server.host, server.port, str(server.port_conflict))
        if self._link is not None and (not server.stable_endpoint or address != self._address):
            self.close()
        wanted = opening or self._supervisor.state not in _IDLE
        if server.stable_endpoint and self._link is None and wanted:
            self._open(server, address)
        if self._link is not None:
            self._link.endpoint.wait_s = wait_seconds(server)
            self._link.endpoint.api_key = server.api_key
            self._supervisor.set_settings(backend_settings(server))
        else:
            self._supervisor.set_settings(server)

    def set_catalog(self, model_ids: list[str]) -> None:
        self._catalog = list(model_ids)
        if self._link is not None:
            self._link.set_catalog(self._catalog)

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link.deleteLater()
            self._link = None
            self._address = None

    def _open(self, server: ServerSettings, address: tuple[str, int, str]) -> None:
        try:
            endpoint = open_stable_endpoint(server, BackendGate(), routing=True)
        except ServerError as exc:
            # The supervisor then meets the same busy port itself and reports it as it always has.
            log.warning("stable endpoint not opened: %s", exc)
            return
        self._link = StableLink(self._supervisor, endpoint, resolve=self._resolve)
        self._link.set_catalog(self._catalog)
        self._address = address
        endpoint.start()
        log.info("stable endpoint at %s", endpoint.url)
