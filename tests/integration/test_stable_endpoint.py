"""The stable endpoint in front of the real llama-server: swaps drop no request."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server.state import ServerState
from tests.support.endpoint_fixtures import READY_TIMEOUT_MS, Served, ServeEndpoint, in_thread

pytestmark = pytest.mark.runtime


@pytest.fixture
def served(serve_endpoint: ServeEndpoint) -> Served:
    return serve_endpoint()


def complete(url: str, **extra: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/completions", timeout=60,
                      json={"prompt": "hello world", "max_tokens": 3, **extra})


def test_requests_keep_succeeding_across_swaps(qtbot: QtBot, served: Served) -> None:
    sup = served.supervisor
    sup.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    results: list[int | str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                try:
                    response = client.post(f"{served.url}/v1/completions",
                                           json={"prompt": "hello", "max_tokens": 2})
                    results.append(response.status_code)
                except httpx.HTTPError as exc:
                    results.append(repr(exc))

    worker = threading.Thread(target=hammer, daemon=True)
    worker.start()
    for model_id in ("beta", "alpha"):
        before = len(results)
        qtbot.waitUntil(lambda before=before: len(results) > before + 2, timeout=READY_TIMEOUT_MS)
        sup.start(served.models["beta"] if model_id == "beta" else served.models["alpha"], model_id)
        served.ready_on(qtbot, model_id)
    before = len(results)
    qtbot.waitUntil(lambda: len(results) > before + 2, timeout=READY_TIMEOUT_MS)
    stop.set()
    worker.join(timeout=60)
    assert results and all(status == 200 for status in results), [r for r in results if r != 200]
    props = httpx.get(f"{served.url}/props", timeout=10).json()
    assert Path(props["model_path"]) == served.models["alpha"]


def test_a_request_arriving_mid_swap_waits_for_the_new_model(
        qtbot: QtBot, served: Served) -> None:
    sup = served.supervisor
    sup.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    sup.start(served.models["beta"], "beta")
    assert sup.state is ServerState.STARTING  # the swap is under way (alpha drains, then stops)
    result = in_thread(lambda: httpx.get(f"{served.url}/props", timeout=60))
    qtbot.waitUntil(lambda: result() is not None, timeout=READY_TIMEOUT_MS)
    response = result()
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert Path(response.json()["model_path"]) == served.models["beta"]


def test_a_streaming_completion_streams_through_the_proxy(
        qtbot: QtBot, served: Served) -> None:
    served.supervisor.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    events: list[dict[str, Any]] = []
    with httpx.stream("POST", f"{served.url}/v1/completions", timeout=60,
                      json={"prompt": "hello world", "max_tokens": 6, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                events.append(json.loads(line.removeprefix("data: ")))
    assert len(events) >= 3  # one event per token, not one buffered body


def test_a_stopped_server_answers_503_with_an_openai_error(
        qtbot: QtBot, served: Served) -> None:
    response = complete(served.url)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "unavailable" and "stopped" in error["message"]
    assert "A request naming a model loads it" in error["message"]

    served.supervisor.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    served.supervisor.stop()
    qtbot.waitUntil(lambda: served.supervisor.state is ServerState.STOPPED, timeout=READY_TIMEOUT_MS)
    assert complete(served.url).status_code == 503


def test_models_are_listed_and_an_unknown_one_is_404(
        qtbot: QtBot, served: Served) -> None:
    served.supervisor.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    listed = httpx.get(f"{served.url}/v1/models", timeout=10).json()
    assert [(model["id"], model["state"]) for model in listed["data"]] == [("alpha", "loaded"), ("beta", "unloaded")]
    assert all(model["object"] == "model" and "created" in model and model["owned_by"] for model in listed["data"])
    response = complete(served.url, model="no-such-model")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert served.supervisor.model_id == "alpha"


def test_a_request_naming_another_model_swaps_to_it(
        qtbot: QtBot, served: Served) -> None:
    served.supervisor.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    result = in_thread(lambda: complete(served.url, model="beta"))
    qtbot.waitUntil(lambda: result() is not None, timeout=READY_TIMEOUT_MS)
    response = result()
    assert isinstance(response, httpx.Response) and response.status_code == 200, response
    assert served.supervisor.model_id == "beta"
    assert response.json()["usage"]["completion_tokens"] > 0


def test_a_stream_in_flight_finishes_before_the_old_server_stops(
        qtbot: QtBot, served: Served) -> None:
    sup = served.supervisor
    sup.start(served.models["alpha"], "alpha")
    served.ready_on(qtbot, "alpha")
    events: list[str] = []

    def read_stream() -> bool:
        with httpx.stream("POST", f"{served.url}/v1/completions", timeout=60,
                          json={"prompt": "hello", "max_tokens": 60, "stream": True,
                                "ignore_eos": True}) as response:
            events.extend(line for line in response.iter_lines() if line.startswith("data: "))
        return True

    done = in_thread(read_stream)
    qtbot.waitUntil(lambda: len(events) > 0 or done() is not None, timeout=READY_TIMEOUT_MS)
    sup.start(served.models["beta"], "beta")  # while the old model is still answering
    qtbot.waitUntil(lambda: done() is not None, timeout=READY_TIMEOUT_MS)
    assert done() is True
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "length"  # the whole answer, not cut by the swap
    served.ready_on(qtbot, "beta")
