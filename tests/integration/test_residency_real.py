"""Several models loaded at once behind the endpoint, with real llama-server processes and real clients.

Memory "fit" is simulated by the ``memory_limit_gb`` setting against the real estimates of the tiny models
(never by a fake process): two fit, three do not.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import psutil
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.errors import ModelNotFoundError
from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.server.endpoint.residency import Needs
from llama_wrangler.server.fleet import ServerFleet
from llama_wrangler.server.memory import estimate_memory
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.run import ServeTarget
from llama_wrangler.server.state import ServerState
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.endpoint import EndpointService
from llama_wrangler.settings import ServerSettings
from tests.support.endpoint_fixtures import in_thread
from tests.support.tiny_models import write_tiny_llama_gguf

pytestmark = pytest.mark.runtime

WAIT_MS = 120_000
MODELS = ("alpha", "beta", "gamma")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def three_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("resident-models")
    return {name: write_tiny_llama_gguf(folder / f"{name}.gguf", name=name, seed=seed)
            for seed, name in enumerate(MODELS, start=1)}


class Resident:
    """The endpoint with the three models in its catalog; ``needs`` come from the real estimate."""

    def __init__(self, fleet: ServerFleet, service: EndpointService, models: dict[str, Path],
                 settings: ServerSettings, loads: dict[str, LoadSettings]) -> None:
        self.fleet, self.service, self.models, self.settings = fleet, service, models, settings
        self.loads_by_model = loads  # each model's own load settings, as the library has them now
        self.url = service.url

    def needs(self, **pinned: bool) -> dict[str, Needs]:
        needs = {}
        for model, path in self.models.items():
            estimate = estimate_memory(read_gguf(path), path.stat().st_size, self.settings)
            needs[model] = Needs(ram_bytes=estimate.ram_bytes, mapped_bytes=estimate.weights_bytes,
                                 pinned=pinned.get(model, False))
        return needs

    def serve_alpha(self, qtbot: QtBot) -> None:
        """The real needs given to the endpoint, then alpha served by the user, ready."""
        self.service.set_needs(self.needs())
        self.fleet.start(self.models["alpha"], "alpha")
        qtbot.waitUntil(lambda: self.fleet.state is ServerState.READY, timeout=WAIT_MS)

    def status(self) -> dict[str, dict[str, Any]]:
        """``GET /models`` by model id (call from a thread other than the Qt loop's only while it turns)."""
        data = httpx.get(f"{self.url}/models", timeout=30).json()["data"]
        return {entry["id"]: entry for entry in data}

    def pids(self) -> dict[str, int]:
        return {sup.model_id: sup.pid or 0 for sup in self.fleet.slots().values()
                if sup.state is ServerState.READY}

    def chat(self, qtbot: QtBot, model: str) -> str:
        def ask() -> str:
            with openai.OpenAI(base_url=f"{self.url}/v1", api_key="x", max_retries=0, timeout=120) as api:
                answer = api.chat.completions.create(model=model, max_tokens=3,
                                                     messages=[{"role": "user", "content": "hi"}])
                return answer.model
        result = in_thread(ask)
        qtbot.waitUntil(lambda: result() is not None, timeout=WAIT_MS)  # the Qt loop turns for loads
        answer = result()
        assert isinstance(answer, str), answer
        return answer

    def loads(self) -> int:
        server = self.service.server
        assert server is not None
        return server.ask(lambda: server.scheduler.loads_requested)


@pytest.fixture
def resident(qtbot: QtBot, llama_server_binary: Path, three_models: dict[str, Path],
             app_paths: Any) -> Iterator[Callable[..., Resident]]:
    made: list[tuple[ServerFleet, EndpointService]] = []
    loads: dict[str, LoadSettings] = {}  # each model's own load settings, as the library would give them

    def resolve(model_id: str) -> ServeTarget:
        if model_id not in three_models:
            raise ModelNotFoundError(f"No model {model_id}.")
        return ServeTarget(three_models[model_id], model_id, load=loads.get(model_id))

    def make(*, model_loads: dict[str, LoadSettings] | None = None, **settings: Any) -> Resident:
        loads.clear()
        loads.update(model_loads or {})
        base: dict[str, Any] = {"port": pick_free_port("127.0.0.1"), "context_size": 256, "parallel": 1,
                                "threads": 1, "health_timeout_s": 60.0, "stop_grace_s": 10.0, "max_models": 4}
        user = ServerSettings(**{**base, **settings})
        fleet = ServerFleet(ServerSupervisor(llama_server_binary, user, log_file=app_paths.server_log_file))
        service = EndpointService(fleet, resolve)
        service.apply(user, opening=True, strict=True)
        service.set_catalog(list(three_models))
        made.append((fleet, service))
        return Resident(fleet, service, three_models, user, loads)

    yield make
    for fleet, service in made:
        fleet.shutdown()
        service.close()


def test_two_models_answer_alternately_on_one_port_without_reloads(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    served.service.set_needs(served.needs())
    assert [served.chat(qtbot, model) for model in ("alpha", "beta")] == ["alpha", "beta"]
    pids = served.pids()
    assert set(pids) == {"alpha", "beta"} and pids["alpha"] != pids["beta"]
    for model in ("alpha", "beta", "alpha", "beta"):
        assert served.chat(qtbot, model) == model
    api = ollama.Client(host=served.url, timeout=120)  # an Ollama-only tool, on the same port
    try:
        pieces = list(api.chat(model="alpha", messages=[{"role": "user", "content": "hi"}], stream=True,
                               options={"num_predict": 4}))
        assert pieces[-1].done and pieces[-1].model == "alpha"
        running = {model.model for model in api.ps().models}
        assert running == {"alpha:latest", "beta:latest"}
    finally:
        api.close()
    assert served.loads() == 2 and served.pids() == pids  # no reload between requests
    status = served.status()
    assert status["alpha"]["status"]["value"] == "loaded" and status["gamma"]["status"]["value"] == "unloaded"
    alpha = status["alpha"]["resident"]
    assert alpha["pid"] == pids["alpha"] and alpha["rss_bytes"] > 0 and alpha["estimate_bytes"] > 0


def test_a_third_model_that_does_not_fit_unloads_the_least_recently_used(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    probe = resident()
    one = max(needs.ram_bytes for needs in probe.needs().values())
    probe.fleet.shutdown()
    served = resident(memory_limit_gb=2.5 * one / 1e9)  # room for two of them, not three
    served.service.set_needs(served.needs())
    for model in ("alpha", "beta", "alpha"):  # beta is now the least recently used
        served.chat(qtbot, model)
    before = served.pids()
    assert served.chat(qtbot, "gamma") == "gamma"
    qtbot.waitUntil(lambda: set(served.pids()) == {"alpha", "gamma"}, timeout=WAIT_MS)
    assert served.pids()["alpha"] == before["alpha"]  # alpha was never reloaded


def test_a_pinned_model_survives_pressure(qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    probe = resident()
    one = max(needs.ram_bytes for needs in probe.needs().values())
    probe.fleet.shutdown()
    served = resident(memory_limit_gb=2.5 * one / 1e9)
    served.service.set_needs(served.needs(alpha=True))
    for model in ("alpha", "beta"):  # alpha is the least recently used, but pinned
        served.chat(qtbot, model)
    pinned = served.pids()["alpha"]
    served.chat(qtbot, "gamma")
    qtbot.waitUntil(lambda: set(served.pids()) == {"alpha", "gamma"}, timeout=WAIT_MS)
    assert served.pids()["alpha"] == pinned


def test_an_idle_model_is_unloaded_after_its_ttl_and_the_users_model_stays(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident(idle_unload_min=0.02)  # 1.2 s for models a request loaded
    served.serve_alpha(qtbot)  # the user's model: no default idle TTL
    served.chat(qtbot, "beta")
    beta = served.pids()["beta"]
    qtbot.waitUntil(lambda: set(served.pids()) == {"alpha"}, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not served.fleet.slot_of("beta") and not _alive(beta), timeout=WAIT_MS)  # gone
    assert served.fleet.model_id == "alpha" and served.fleet.state is ServerState.READY


def test_load_and_unload_routes(qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    loading = in_thread(lambda: httpx.post(f"{served.url}/models/load", json={"model": "beta"}, timeout=120))
    qtbot.waitUntil(lambda: loading() is not None, timeout=WAIT_MS)
    assert loading().status_code == 200 and "beta" in served.pids()
    assert httpx.post(f"{served.url}/models/unload", json={"model": "beta"}, timeout=30).status_code == 200
    server = served.service.server
    assert server is not None
    # Gone from the fleet, and the scheduler has had the news (snapshots reach it one loop turn later).
    qtbot.waitUntil(lambda: not served.fleet.slot_of("beta") and all(
        view.model != "beta" for view in server.ask(server.scheduler.residents)), timeout=WAIT_MS)
    again = httpx.post(f"{served.url}/models/unload", json={"model": "beta"}, timeout=30)
    assert again.status_code == 400 and "not loaded" in again.json()["error"]["message"]
    unknown = httpx.post(f"{served.url}/models/load", json={"model": "nope"}, timeout=30)
    assert unknown.status_code == 404


def test_an_embedding_model_and_a_chat_model_stay_loaded_together(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    # beta is an embedding model: its own load settings start it with --embeddings (which refuses chat).
    served = resident(model_loads={"beta": LoadSettings(extra_args="--embeddings --pooling mean")})
    served.service.set_needs(served.needs())
    assert served.chat(qtbot, "alpha") == "alpha"

    def embed() -> int:
        with openai.OpenAI(base_url=f"{served.url}/v1", api_key="x", max_retries=0, timeout=120) as api:
            return len(api.embeddings.create(model="beta", input=["one", "two"]).data)

    vectors = in_thread(embed)
    qtbot.waitUntil(lambda: vectors() is not None, timeout=WAIT_MS)
    assert vectors() == 2
    pids = served.pids()
    assert set(pids) == {"alpha", "beta"}
    api = ollama.Client(host=served.url, timeout=120)
    try:
        for _ in range(2):  # alternately, routed by name, no reload
            assert len(api.embed(model="beta", input=["three"]).embeddings) == 1
            assert served.chat(qtbot, "alpha") == "alpha"
    finally:
        api.close()
    assert served.pids() == pids and served.loads() == 2


# ----------------------------------------------------------------------------- edges: Stop, crashes
def _ask_blocking(served: Resident, model: str) -> Callable[[], object]:
    return in_thread(lambda: httpx.post(f"{served.url}/v1/chat/completions", timeout=120, json={
        "model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}))


def test_stop_while_a_load_order_is_on_its_way_loads_nothing_behind_the_users_back(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    served.serve_alpha(qtbot)
    answer = _ask_blocking(served, "beta")
    # The GUI thread does not turn here: the scheduler's order to load beta waits in its queue, as it does
    # when the user presses Stop in the same instant a request arrives.
    deadline = time.monotonic() + 30
    while served.loads() < 2:
        assert time.monotonic() < deadline, "beta was never asked for"
        time.sleep(0.01)
    served.fleet.stop()
    qtbot.waitUntil(lambda: answer() is not None, timeout=WAIT_MS)
    refused = answer()
    assert isinstance(refused, httpx.Response) and refused.status_code == 503, refused
    qtbot.wait(300)  # every queued order has been carried out by now
    assert not served.fleet.slot_of("beta")
    assert all(sup.state in (ServerState.STOPPED, ServerState.STOPPING) for sup in served.fleet.slots().values())
    assert served.chat(qtbot, "beta") == "beta"  # and a later request loads it as usual


def test_a_companion_killed_while_loaded_is_restarted_or_reloaded_and_never_listed_dead(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident(auto_restart=False)
    served.serve_alpha(qtbot)
    assert served.chat(qtbot, "beta") == "beta"
    beta = served.pids()["beta"]
    os.kill(beta, signal.SIGKILL)
    qtbot.waitUntil(lambda: "beta" not in served.pids(), timeout=WAIT_MS)
    server = served.service.server
    assert server is not None
    # The scheduler hears of the crash one loop turn after the window does.
    qtbot.waitUntil(lambda: all(view.model != "beta" for view in server.ask(server.scheduler.residents)),
                    timeout=WAIT_MS)
    listing = in_thread(served.status)
    qtbot.waitUntil(lambda: listing() is not None, timeout=WAIT_MS)
    assert "resident" not in listing()["beta"]  # not shown as loaded with a dead pid
    assert served.fleet.model_id == "alpha" and served.fleet.state is ServerState.READY  # the window's model
    assert served.chat(qtbot, "beta") == "beta"  # a later request loads it again
    assert served.pids()["beta"] != beta
    assert len(served.fleet.slots()) == 2  # the dead server's slot was reused, not leaked


def test_serving_a_then_b_then_a_again_switches_the_window_without_a_reload(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    served.service.set_needs(served.needs())
    for model in ("alpha", "beta"):
        served.fleet.start(served.models[model], model)
        qtbot.waitUntil(lambda m=model: served.fleet.model_id == m  # type: ignore[misc]
                        and served.fleet.state is ServerState.READY, timeout=WAIT_MS)
    pids = served.pids()
    assert set(pids) == {"alpha", "beta"}
    focus: list[str] = []
    served.fleet.focus_changed.connect(focus.append)
    served.fleet.start(served.models["alpha"], "alpha")
    assert served.fleet.model_id == "alpha" and served.fleet.state is ServerState.READY  # at once: it is loaded
    assert focus == ["alpha"] and served.fleet.pid == pids["alpha"]
    qtbot.wait(300)
    assert served.pids() == pids and served.loads() == 2  # nothing reloaded
    assert served.chat(qtbot, "") == "alpha"  # a request naming no model gets the window's model
    served.service.unload("alpha")  # the window's model goes: the window shows the one still loaded
    qtbot.waitUntil(lambda: served.fleet.model_id == "beta" and served.fleet.state is ServerState.READY,
                    timeout=WAIT_MS)
    assert served.chat(qtbot, "") == "beta"


def test_the_endpoint_moved_to_another_port_keeps_every_loaded_model(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    served.serve_alpha(qtbot)
    assert served.chat(qtbot, "beta") == "beta"
    pids = served.pids()
    moved = served.settings.model_copy(update={"port": pick_free_port("127.0.0.1")})
    served.service.apply(moved, opening=False, strict=True)
    served.url = served.service.url
    assert served.url.endswith(f":{moved.port}")
    qtbot.wait(500)
    assert served.pids() == pids  # nothing was stopped for a new listening port
    for model in ("alpha", "beta"):
        assert served.chat(qtbot, model) == model
    assert served.pids() == pids and served.loads() == 0  # the new endpoint found both loaded


def test_a_request_for_a_companion_that_crashed_waits_for_its_automatic_restart(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    served = resident()
    served.service.set_needs(served.needs())
    assert [served.chat(qtbot, model) for model in ("alpha", "beta")] == ["alpha", "beta"]
    beta = served.pids()["beta"]
    os.kill(beta, signal.SIGKILL)
    qtbot.waitUntil(lambda: served.pids().get("beta") != beta, timeout=WAIT_MS)
    assert served.chat(qtbot, "beta") == "beta"  # sent while it restarts (or just after): answered, no error
    assert served.pids()["beta"] != beta and len(served.fleet.slots()) == 2
    assert served.chat(qtbot, "alpha") == "alpha" and "alpha" in served.pids()


def test_unload_then_load_at_once_ends_with_the_model_loaded(qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    """`llama-wrangler unload beta` and, before beta's server has stopped, `llama-wrangler load beta`: the
    load waits for the unload and then loads beta again (no load lost, no answer before it is ready)."""
    served = resident()
    served.service.set_needs(served.needs())
    assert served.chat(qtbot, "beta") == "beta"
    first = served.pids()["beta"]

    def unload_then_load() -> tuple[int, httpx.Response]:
        unloaded = httpx.post(f"{served.url}/models/unload", json={"model": "beta"}, timeout=30)
        return unloaded.status_code, httpx.post(f"{served.url}/models/load", json={"model": "beta"}, timeout=120)

    result = in_thread(unload_then_load)
    qtbot.waitUntil(lambda: result() is not None, timeout=WAIT_MS)
    answer = result()
    assert isinstance(answer, tuple), answer
    assert answer[0] == 200 and answer[1].status_code == 200, answer[1].text
    qtbot.waitUntil(lambda: "beta" in served.pids(), timeout=WAIT_MS)
    assert served.pids()["beta"] != first and not _alive(first)
    assert served.chat(qtbot, "beta") == "beta"


def test_a_model_reloaded_by_a_request_gets_the_load_settings_it_has_now(
        qtbot: QtBot, resident: Callable[..., Resident]) -> None:
    """A request loads beta, it is unloaded, the user changes beta's load settings (Library page or
    `llama-wrangler configure`), a request loads it again: with the new settings, not those of its first load."""
    served = resident()
    assert served.chat(qtbot, "beta") == "beta"
    assert httpx.post(f"{served.url}/models/unload", json={"model": "beta"}, timeout=30).status_code == 200
    qtbot.waitUntil(lambda: not served.fleet.slot_of("beta"), timeout=WAIT_MS)
    served.loads_by_model["beta"] = LoadSettings(context_size=512)
    assert served.chat(qtbot, "beta") == "beta"
    slot = served.fleet.slot_of("beta")
    assert slot
    props = httpx.get(f"{served.fleet.slots()[slot].endpoint}/props", timeout=10).json()
    assert props["default_generation_settings"]["n_ctx"] == 512
