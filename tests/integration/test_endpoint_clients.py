"""The stable endpoint as OpenAI clients meet it: the official ``openai`` package against real
llama-server processes, several clients on two models at once, a swap during a long stream, a crash."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import httpx
import openai
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server.state import ServerState
from tests.support.endpoint_fixtures import READY_TIMEOUT_MS, Served, ServeEndpoint, in_thread

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

LONG_MS = 240_000
# A generation that runs for seconds even on the tiny models (thousands of tokens a second): the
# context must hold it.
LONG_TOKENS = 6_000
LONG_CONTEXT = {"context_size": 16_384, "parallel": 1}


def client(served: Served, **options: Any) -> openai.OpenAI:
    # max_retries=0: a failure must show up here, not be papered over by the client's own retries.
    options = {"api_key": "anything", "timeout": 120, **options}
    return openai.OpenAI(base_url=f"{served.url}/v1", max_retries=0, **options)


def stream_chat(served: Served, model: str, max_tokens: int = 8, **extra: Any) -> tuple[str, Any]:
    """(text, (usage, finish_reason)) of one streamed chat completion, read to the end, by a new client."""
    with client(served) as api, api.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hello"}], max_tokens=max_tokens, stream=True,
            stream_options={"include_usage": True}, **extra) as stream:
        text, usage, finish = "", None, None
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage is not None:
                usage = chunk.usage
    return text, (usage, finish)


def complete(served: Served, model: str, **options: Any) -> openai.types.Completion:
    with client(served, **options) as api:
        return api.completions.create(model=model, prompt="hi", max_tokens=2)


def test_two_groups_of_clients_on_two_models_get_every_answer(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(swap_fairness_s=0.5)
    served.start(qtbot, "alpha")
    threads_per_model, requests_each = 3, 4
    answered: list[str] = []
    failures: list[str] = []

    def work(model: str) -> None:
        for _ in range(requests_each):
            try:
                _text, (usage, finish) = stream_chat(served, model)
                assert usage is not None and usage.completion_tokens > 0, usage  # include_usage came through
                assert finish is not None
                answered.append(model)
            except Exception as exc:  # every failure is collected and shown
                failures.append(f"{model}: {exc!r}")

    workers = [threading.Thread(target=work, args=(model,), daemon=True)
               for model in ("alpha", "beta") for _ in range(threads_per_model)]
    for worker in workers:
        worker.start()
    qtbot.waitUntil(lambda: not any(worker.is_alive() for worker in workers), timeout=LONG_MS)
    assert failures == []
    assert sorted(answered) == ["alpha"] * 12 + ["beta"] * 12
    # Requests are grouped by model: far fewer swaps than the 24 a last-wins gate can make.
    swaps = served.loads - 1
    assert 1 <= swaps <= 8, swaps


def test_a_client_that_gives_up_while_queued_leaves_the_queue(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(swap_fairness_s=600.0, **LONG_CONTEXT)  # beta's turn: only once alpha is idle
    served.start(qtbot, "alpha")
    loads = served.server.ask(lambda: served.server.scheduler.loads_requested)  # alpha's own
    long_stream = in_thread(lambda: stream_chat(served, "alpha", max_tokens=LONG_TOKENS,
                                                extra_body={"ignore_eos": True}))
    qtbot.waitUntil(lambda: served.server.ask(lambda: served.server.scheduler.in_flight) == 1,
                    timeout=READY_TIMEOUT_MS)
    impatient = in_thread(lambda: complete(served, "beta", timeout=httpx.Timeout(1.0)))
    qtbot.waitUntil(lambda: served.queued() == 1, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: impatient() is not None, timeout=READY_TIMEOUT_MS)
    assert isinstance(impatient(), openai.APITimeoutError)
    qtbot.waitUntil(lambda: served.queued() == 0, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: long_stream() is not None, timeout=LONG_MS)
    _text, (_usage, finish) = long_stream()
    assert finish == "length"
    # Alpha is idle now; nobody waits for beta, so nothing was swapped in for it.
    assert served.server.ask(lambda: served.server.scheduler.loads_requested) == loads
    assert served.supervisor.wanted_model_id == "alpha"


def test_a_long_stream_survives_a_swap_request(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    # A swap is asked for almost at once, and the stop grace is short: only the drain setting keeps the
    # stream alive.
    served = serve_endpoint(swap_fairness_s=0.2, stop_grace_s=0.5, drain_timeout_s=120.0, **LONG_CONTEXT)
    served.start(qtbot, "alpha")
    long_stream = in_thread(lambda: stream_chat(served, "alpha", max_tokens=LONG_TOKENS,
                                                extra_body={"ignore_eos": True}))
    qtbot.waitUntil(lambda: served.server.ask(lambda: served.server.scheduler.in_flight) == 1,
                    timeout=READY_TIMEOUT_MS)
    other = in_thread(lambda: stream_chat(served, "beta"))
    qtbot.waitUntil(lambda: served.supervisor.wanted_model_id == "beta", timeout=READY_TIMEOUT_MS)
    assert long_stream() is None  # the swap was asked for while the stream ran
    qtbot.waitUntil(lambda: long_stream() is not None and other() is not None, timeout=LONG_MS)
    result = long_stream()
    assert not isinstance(result, Exception), result
    _text, (usage, finish) = result
    assert finish == "length" and usage.completion_tokens == LONG_TOKENS  # the whole answer, not cut by the swap
    assert not isinstance(other(), Exception), other()
    assert served.supervisor.model_id == "beta"


def test_a_crash_costs_only_the_request_in_flight(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(**LONG_CONTEXT)  # auto-restart is on by default
    assert served.supervisor.settings.auto_restart
    served.start(qtbot, "alpha")
    in_flight = in_thread(lambda: stream_chat(served, "alpha", max_tokens=LONG_TOKENS,
                                              extra_body={"ignore_eos": True}))
    qtbot.waitUntil(lambda: served.server.ask(lambda: served.server.scheduler.in_flight) == 1,
                    timeout=READY_TIMEOUT_MS)
    pid = served.supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: served.supervisor.state is ServerState.CRASHED, timeout=READY_TIMEOUT_MS)
    # Arriving during the restart's back-off, these wait for it instead of failing.
    after = [in_thread(lambda: complete(served, "alpha")) for _ in range(4)]
    qtbot.waitUntil(lambda: in_flight() is not None and all(result() is not None for result in after),
                    timeout=LONG_MS)
    error = in_flight()
    assert isinstance(error, openai.APIError), error
    assert "stopped while answering" in str(error) and len(str(error)) < 400  # no raw server log
    for result in after:
        assert isinstance(result(), openai.types.Completion), result()
    assert served.supervisor.state is ServerState.READY


def test_models_are_listed_in_the_openai_shape(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = serve_endpoint(extra_args="--embeddings --pooling mean")
    served.start(qtbot, "beta")
    with client(served) as api:
        listed = {model.id: model for model in api.models.list()}
        assert set(listed) == {"alpha", "beta"}
        assert listed["beta"].object == "model" and listed["beta"].owned_by
        assert listed["beta"].model_extra == {"state": "loaded"}
        assert listed["alpha"].model_extra == {"state": "unloaded"}
        embedding = api.embeddings.create(model="beta", input="hello")
        assert len(embedding.data[0].embedding) > 0
