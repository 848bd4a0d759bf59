"""The stable endpoint as a service, the same for the window and ``serve`` on the command line.

It keeps the endpoint as the settings say: opened on the user's host:port before a model is served,
reopened when that address changes, closed when ``server.stable_endpoint`` is turned off — and tells the
supervisor which settings to start llama-server with (its own loopback port behind the proxy, or the
user's address when there is no proxy). With ``load_on_request`` off, a Stop closes the port too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from llama_wrangler.errors import ServerError
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import ModelRecord
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.lease import ResidentView
from llama_wrangler.server.endpoint.link import EndpointLink, Resolver
from llama_wrangler.server.endpoint.ollama_wire import ModelFacts
from llama_wrangler.server.endpoint.opening import backend_settings, open_endpoint
from llama_wrangler.server.endpoint.residency import Needs
from llama_wrangler.server.endpoint.server import EndpointServer
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.machine_memory import process_rss
from llama_wrangler.server.state import ServerState
from llama_wrangler.services.model_needs import model_needs, prompt_cache_bound
from llama_wrangler.services.serve_target import api_facts, api_names
from llama_wrangler.settings import ServerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """One loaded model for the Server page: the scheduler's view and its process's resident memory."""

    view: ResidentView
    rss_bytes: int | None

# Where -ngl puts layers (and their KV cache) in GPU memory that nvidia-smi measures. Metal's memory is the
# RAM itself, and other GPUs' free memory is not read: their models are planned as RAM (conservative).
_GPU_BACKENDS = ("cuda",)


class EndpointService(QObject):
    """Owns the stable endpoint of one app session or one ``serve`` run.

    Signals:
        swap_requested(str): a client's request named this library model (its load follows).
        residents(list): the loaded models (:class:`LoadedModel`), answering :meth:`refresh_residents`.
    """

    swap_requested = Signal(str)
    residents = Signal(list)
    _residents_read = Signal(list)  # from the loop thread

    def __init__(self, supervisor: ServerFleet, resolve: Resolver, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._supervisor = supervisor
        self._resolve = resolve
        self._link: EndpointLink | None = None
        self._address: tuple[str, int, str] | None = None
        self._catalog: list[str] = []
        self._aliases: dict[str, str] = {}
        self._facts: dict[str, ModelFacts] = {}
        self._needs: dict[str, Needs] = {}
        self._records: list[ModelRecord] = []
        self._settings: ServerSettings | None = None
        supervisor.state_changed.connect(self._on_state_changed)
        supervisor.set_prompt_cache_bound(self._prompt_cache_bound)
        self._residents_read.connect(self.residents, Qt.ConnectionType.QueuedConnection)

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
        moving = False
        if self._link is not None and (not server.stable_endpoint or address != self._address):
            moving = server.stable_endpoint and self._supervisor.serving()  # loaded models stay loaded
            self.close(moving=moving)
        wanted = opening or self._supervisor.serving()
        if server.stable_endpoint and self._link is None and wanted:
            try:
                self._open(server, address, strict=strict)
            finally:
                if moving and self._link is None:  # not reopened: nothing routes to the other models now
                    self._supervisor.attach(None, None)
        changed = server != self._settings
        self._settings = server
        if changed:
            self._update_needs()
        if self._link is not None:
            self._link.server.set_config(EndpointConfig.from_settings(server))
            self._supervisor.set_settings(backend_settings(server))
        else:
            self._supervisor.set_settings(server)

    def set_catalog(self, model_ids: list[str], aliases: dict[str, str] | None = None,
                    facts: dict[str, ModelFacts] | None = None) -> None:
        """The library's servable model ids, for ``/v1/models`` and routing by name; ``aliases`` maps other
        names a client may send (a model's display name) to an id; ``facts`` feed Ollama's ``/api/tags``."""
        self._catalog = list(model_ids)
        self._aliases = dict(aliases or {})
        self._facts = dict(facts or {})
        if self._link is not None:
            self._link.server.set_catalog(self._catalog, self._aliases, self._facts)

    def set_models(self, records: list[ModelRecord]) -> None:
        """The library's models: their API names, what Ollama clients are told, and what each takes in
        memory (re-estimated when the server settings change)."""
        self._records = list(records)
        self.set_catalog(*api_names(self._records), api_facts(self._records))
        self._update_needs()

    def _gpu(self) -> bool:
        binary = self._supervisor.primary.server_binary
        return isinstance(binary, LlamaRuntime) and binary.backend in _GPU_BACKENDS

    def _update_needs(self) -> None:
        if self._settings is None:
            return
        self.set_needs(model_needs(self._records, self._settings, gpu=self._gpu()))

    def _prompt_cache_bound(self, model_id: str, load: LoadSettings | None) -> int | None:
        """A model's ``--cache-ram`` beside others, from the load settings it starts with now (the records
        this service holds may lag a settings change by a loop turn; the file's header does not change)."""
        record = next((r for r in self._records if r.id == model_id), None)
        if record is None or self._settings is None:
            return None
        return prompt_cache_bound(record, load, self._settings, gpu=self._gpu())

    def set_needs(self, needs: dict[str, Needs]) -> None:
        """What each model takes in memory, whether it is pinned, and its idle TTL (for the scheduler)."""
        self._needs = dict(needs)
        if self._link is not None:
            self._link.server.call(self._link.server.scheduler.set_needs, self._needs)

    def refresh_residents(self) -> None:
        """Ask which models are loaded; the answer arrives as ``residents`` (never blocks this thread)."""
        if self._link is None:
            self.residents.emit([])
            return
        server = self._link.server

        def read() -> None:  # on the loop thread: the scheduler's view, then each process's RSS (/proc reads)
            views = server.scheduler.residents()
            self._residents_read.emit([LoadedModel(view, process_rss(view.pid) if view.pid else None)
                                       for view in views])

        server.call(read)

    def unload(self, model_id: str) -> None:
        """Unload one model (its running requests finish first); without the endpoint, stop the server."""
        if self._link is None:
            if model_id in (self._supervisor.model_id, self._supervisor.wanted_model_id):
                self._supervisor.stop()
            return
        self._link.server.call(self._link.server.scheduler.unload, model_id)

    @property
    def server(self) -> EndpointServer | None:
        """The open endpoint (None when closed): its scheduler and connection counts, for tests and benches."""
        return self._link.server if self._link is not None else None

    def close(self, *, moving: bool = False) -> None:
        if self._link is not None:
            self._link.close(moving=moving)
            self._link.deleteLater()
            self._link = None
            self._address = None

    def _open(self, server: ServerSettings, address: tuple[str, int, str], *, strict: bool) -> None:
        try:
            endpoint = open_endpoint(server)
        except ServerError as exc:
            if strict:
                raise
            log.warning("stable endpoint not opened: %s", exc)
            return
        self._link = EndpointLink(self._supervisor, endpoint, resolve=self._resolve)
        self._link.load_requested.connect(self.swap_requested)
        endpoint.set_catalog(self._catalog, self._aliases, self._facts)
        endpoint.call(endpoint.scheduler.set_needs, self._needs)
        self._address = address
        endpoint.start()
        log.info("stable endpoint at %s", endpoint.url)

    @Slot(str, str)
    def _on_state_changed(self, _old: str, new: str) -> None:
        if new == ServerState.STOPPED and self._settings is not None and not self._settings.load_on_request:
            # A swap passes through "stopped" on its way to the next start: look once it has settled.
            QTimer.singleShot(0, self, self._close_if_stopped)

    @Slot()
    def _close_if_stopped(self) -> None:
        sup = self._supervisor
        if sup.state is ServerState.STOPPED and not sup.wanted_model_id and not sup.restart_scheduled:
            log.info("server stopped and loading on request is off: closing the endpoint")
            self.close()
