"""The stable endpoint as the app wires it (EndpointService + ServerSupervisor) in front of the real
llama-server, serving the two tiny models as library models "alpha" and "beta"."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.errors import ModelNotFoundError
from llama_wrangler.server.endpoint.server import EndpointServer
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.settings import ServerSettings
from tests.support.tiny_models import write_tiny_llama_gguf

READY_TIMEOUT_MS = 60_000


class Served:
    def __init__(self, supervisor: ServerSupervisor, service: EndpointService, models: dict[str, Path]) -> None:
        self.supervisor = supervisor
        self.service = service
        self.models = models
        self.url = service.url
        self.loads = 0  # how many times a model became ready (the first load included)
        supervisor.state_changed.connect(self._count)

    def _count(self, _old: str, new: str) -> None:
        if new == ServerState.READY:
            self.loads += 1

    @property
    def server(self) -> EndpointServer:
        server = self.service.server
        assert server is not None
        return server

    def start(self, qtbot: QtBot, model_id: str) -> None:
        self.supervisor.start(self.models[model_id], model_id)
        self.ready_on(qtbot, model_id)

    def ready_on(self, qtbot: QtBot, model_id: str) -> None:
        qtbot.waitUntil(lambda: self.supervisor.state is ServerState.READY
                        and self.supervisor.model_id == model_id, timeout=READY_TIMEOUT_MS)
        # ... and the endpoint knows (tests then call it from this thread, which blocks the Qt loop).
        qtbot.waitUntil(lambda: self.server.ask(lambda: self.server.scheduler.served_model) == model_id,
                        timeout=READY_TIMEOUT_MS)

    def queued(self) -> int:
        return self.server.ask(lambda: self.server.scheduler.queued)

    def limits(self, **limits: Any) -> None:
        """Shorter connection limits than the defaults (they are not user settings)."""
        self.server.set_config(replace(self.server.config, **limits))


ServeEndpoint = Callable[..., Served]


@pytest.fixture(scope="session")
def endpoint_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny models with a long training context, so one generation can run for seconds (llama-server
    caps the context at the model's own)."""
    folder = tmp_path_factory.mktemp("endpoint-models")
    return {name: write_tiny_llama_gguf(folder / f"{name}.gguf", name=name, seed=seed, n_ctx_train=32_768)
            for name, seed in (("alpha", 1), ("beta", 2))}


@pytest.fixture
def serve_endpoint(qtbot: QtBot, llama_server_binary: Path, endpoint_models: dict[str, Path],
                   app_paths: Any) -> Iterator[ServeEndpoint]:
    """``serve_endpoint(**server_settings)``: the endpoint open on a free port, nothing served yet."""
    made: list[tuple[ServerSupervisor, EndpointService]] = []
    files = dict(endpoint_models)

    def resolve(model_id: str) -> ServeTarget:
        if model_id not in files:
            raise ModelNotFoundError(f"No model {model_id}.")
        return ServeTarget(files[model_id], model_id)

    def make(**settings: Any) -> Served:
        base: dict[str, Any] = {"port": pick_free_port("127.0.0.1"), "context_size": 256,
                                "health_timeout_s": 60.0, "stop_grace_s": 10.0, "threads": 1, "parallel": 4}
        user = ServerSettings(**{**base, **settings})
        supervisor = ServerSupervisor(llama_server_binary, user, log_file=app_paths.server_log_file)
        service = EndpointService(supervisor, resolve)
        service.apply(user, opening=True, strict=True)
        service.set_catalog(list(files))
        made.append((supervisor, service))
        return Served(supervisor, service, files)

    yield make
    for supervisor, service in made:
        supervisor.shutdown()
        service.close()


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``work`` on a thread (the Qt loop must keep turning for swaps); returns a getter of its result
    (None until done; the exception when it raised)."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(work())
        except Exception as exc:  # the test asserts on it
            box.append(exc)

    threading.Thread(target=run, daemon=True).start()
    return lambda: box[0] if box else None
