"""The stable endpoint as Ollama clients meet it: the official ``ollama`` package (and raw HTTP, to see
the NDJSON framing) against real llama-server processes on the endpoint's one port."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.server.endpoint.ollama_wire import ModelFacts
from llama_wrangler.server.state import ServerState
from tests.support.endpoint_fixtures import Served, ServeEndpoint, in_thread
from tests.support.tiny_models import write_tiny_llama_gguf

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

LONG_MS = 120_000
FACTS = {"alpha": ModelFacts(size_bytes=1234, digest="sha256:abc", modified_at="2026-01-02T03:04:05Z",
                             family="llama", parameter_size="1.0M", quantization_level="F32",
                             context_length=32_768, embedding_length=64),
         "beta": ModelFacts(size_bytes=5678, family="llama")}


@pytest.fixture
def ollama_client() -> Iterator[Callable[[Served], ollama.Client]]:
    """``ollama_client(served)``: the official client on the endpoint's port (closed after the test)."""
    made: list[ollama.Client] = []

    def make(served: Served) -> ollama.Client:
        made.append(ollama.Client(host=served.url, timeout=120))
        return made[-1]

    yield make
    for api in made:
        api.close()


def served_with_facts(serve_endpoint: ServeEndpoint, **settings: object) -> Served:
    served = serve_endpoint(**settings)
    served.service.set_catalog(["alpha", "beta"], {"Alpha Model": "alpha"}, FACTS)
    return served


def test_models_are_listed_and_shown_in_ollama_shape(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint)
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    listed = {model.model: model for model in api.list().models}
    assert set(listed) == {"alpha:latest", "beta:latest"}
    alpha = listed["alpha:latest"]
    assert alpha.size == 1234 and alpha.digest == "abc"  # bare hex, as Ollama writes it
    assert alpha.details is not None and alpha.details.format == "gguf" and alpha.details.family == "llama"
    assert alpha.details.parameter_size == "1.0M" and alpha.details.quantization_level == "F32"
    shown = api.show("alpha")  # an untagged name, as users type it
    assert shown.details is not None and shown.details.family == "llama"
    assert shown.modelinfo is not None and shown.modelinfo["llama.context_length"] == 32_768
    assert shown.capabilities is not None and "completion" in shown.capabilities
    running = api.ps().models
    assert [model.model for model in running] == ["alpha:latest"]
    version = httpx.get(f"{served.url}/api/version", timeout=30).json()
    assert isinstance(version["version"], str) and version["version"]


def test_streaming_chat_is_ndjson_ending_with_the_counts(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint)
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    parts = list(api.chat(model="alpha:latest", messages=[{"role": "user", "content": "hello"}], stream=True,
                          options={"num_predict": 8, "temperature": 0, "seed": 7}))
    assert len(parts) >= 2
    assert all(not part.done for part in parts[:-1]) and parts[-1].done
    assert "".join(part.message.content or "" for part in parts[:-1])
    final = parts[-1]
    assert final.done_reason in ("stop", "length")
    assert final.eval_count is not None and final.eval_count > 0
    assert final.prompt_eval_count is not None and final.prompt_eval_count > 0
    assert final.total_duration is not None and final.total_duration > 0
    # The framing itself: one JSON object per line, as Ollama writes it.
    with httpx.stream("POST", f"{served.url}/api/chat", timeout=120,
                      json={"model": "Alpha Model", "messages": [{"role": "user", "content": "hi"}],
                            "options": {"num_predict": 4}}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert lines[-1]["model"] == "Alpha Model" and "eval_count" in lines[-1]


def test_generate_without_streaming_loads_the_model_it_names(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint)
    served.start(qtbot, "alpha")
    answer = in_thread(lambda: ollama_client(served).generate(model="beta", prompt="hi", stream=False,
                                                              options={"num_predict": 4, "temperature": 0, "seed": 7},
                                                              keep_alive="5m"))
    qtbot.waitUntil(lambda: answer() is not None, timeout=LONG_MS)  # the Qt loop turns for the swap
    result = answer()
    assert isinstance(result, ollama.GenerateResponse), result
    assert result.done and result.response and result.eval_count
    assert served.supervisor.model_id == "beta"
    loaded = httpx.post(f"{served.url}/api/generate", json={"model": "beta", "stream": False}, timeout=120).json()
    assert loaded["done"] is True and loaded["done_reason"] == "load" and loaded["response"] == ""
    expires = httpx.get(f"{served.url}/api/ps", timeout=30).json()["models"][0]["expires_at"]
    assert expires.endswith("Z") and not expires.startswith("2318")  # keep_alive "5m": not forever
    # Ollama's unload request (``ollama stop``): the model's server stops, and /api/ps says so.
    stop = httpx.post(f"{served.url}/api/generate", json={"model": "beta", "keep_alive": 0}, timeout=30)
    assert stop.status_code == 200 and stop.json()["done_reason"] == "unload"
    qtbot.waitUntil(lambda: served.supervisor.state is ServerState.STOPPED, timeout=LONG_MS)
    # The endpoint hears of it one loop turn after the window does.
    qtbot.waitUntil(lambda: not served.server.ask(served.server.scheduler.residents), timeout=LONG_MS)
    assert httpx.get(f"{served.url}/api/ps", timeout=30).json()["models"] == []
    # Greedy decoding, so the streamed answer can be compared with the whole one (a random tiny model
    # sometimes samples only end-of-text or half a UTF-8 character, which streams as no text at all).
    greedy = {"num_predict": 5, "temperature": 0, "seed": 7}
    reloaded = in_thread(lambda: httpx.post(f"{served.url}/api/generate", timeout=120, json={
        "model": "beta", "prompt": "hi", "raw": True, "stream": False, "options": greedy}).json())
    qtbot.waitUntil(lambda: reloaded() is not None, timeout=LONG_MS)  # the Qt loop turns for the reload
    raw = reloaded()
    assert raw["done"] is True and raw["response"] and raw["eval_count"] > 0
    with httpx.stream("POST", f"{served.url}/api/generate", timeout=120,
                      json={"model": "beta", "prompt": "hi", "raw": True, "options": greedy}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[-1]["done"] is True and lines[-1]["eval_count"] > 0 and not lines[0].get("message")
    assert "".join(line["response"] for line in lines[:-1]) == raw["response"]


def test_embed_returns_one_vector_per_input(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint, extra_args="--embeddings --pooling mean")
    served.start(qtbot, "beta")
    result = ollama_client(served).embed(model="beta", input=["hello", "world"])
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) > 0
    legacy = ollama_client(served).embeddings(model="beta", prompt="hello")
    assert len(legacy.embedding) == len(result.embeddings[0])
    short = ollama_client(served).embed(model="beta", input="hello", dimensions=8).embeddings
    assert len(short) == 1 and len(short[0]) == 8
    assert sum(value * value for value in short[0]) == pytest.approx(1.0, rel=1e-4)  # scaled back to unit length
    assert ollama_client(served).embed(model="beta", input=[]).embeddings == []  # a preload, as in Ollama
    # An input longer than the model takes at once (a RAG chunk): cut to fit, as Ollama's truncate (on by
    # default) does; with truncate=False it is the client's error (400), not a server fault.
    long = ["hello " * 600, "short"]
    cut = ollama_client(served).embed(model="beta", input=long).embeddings
    assert len(cut) == 2 and len(cut[0]) == len(result.embeddings[0])
    assert cut[1] == ollama_client(served).embed(model="beta", input="short").embeddings[0]  # untouched
    with pytest.raises(ollama.ResponseError) as refused:
        ollama_client(served).embed(model="beta", input=long, truncate=False)
    assert refused.value.status_code == 400 and "context length" in refused.value.error


def test_unknown_models_and_bad_requests_get_ollamas_errors(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint)
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    with pytest.raises(ollama.ResponseError) as caught:
        api.chat(model="nope:7b", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and caught.value.error == "model 'nope:7b' not found"
    response = httpx.post(f"{served.url}/api/show", json={"model": "x"}, timeout=30)
    assert response.status_code == 404 and response.json() == {"error": "model 'x' not found"}
    response = httpx.post(f"{served.url}/api/generate", timeout=30,
                          json={"model": "alpha", "prompt": "hi", "keep_alive": "soon"})
    assert response.status_code == 400 and "keep_alive" in response.json()["error"]
    assert served.loads == 1  # none of these loaded anything


def test_the_api_key_guards_the_ollama_routes_too(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    served = served_with_facts(serve_endpoint, api_key="secret")
    served.start(qtbot, "alpha")
    assert httpx.get(f"{served.url}/api/tags", timeout=30).status_code == 401
    foreign = httpx.get(f"{served.url}/api/tags", headers={"Origin": "https://evil.example",
                                                            "Authorization": "Bearer secret"}, timeout=30)
    assert foreign.status_code == 403  # the CORS rule holds here as on /v1
    local = httpx.get(f"{served.url}/api/tags", headers={"Origin": "http://localhost:3000",
                                                          "Authorization": "Bearer secret"}, timeout=30)
    assert local.status_code == 200 and local.headers["access-control-allow-origin"] == "http://localhost:3000"
    response = httpx.post(f"{served.url}/api/chat", timeout=30,
                          json={"model": "beta", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    with ollama.Client(host=served.url, timeout=120, headers={"Authorization": "Bearer secret"}) as api:
        answer = api.chat(model="alpha", messages=[{"role": "user", "content": "hi"}], stream=False,
                          options={"num_predict": 3, "temperature": 0})  # the key reaches llama-server too
    assert answer.done and answer.message.content
    assert served.loads == 1  # the refused request for beta loaded nothing


def test_ollama_and_openai_requests_interleave_on_one_port(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    """llama-server closes its connection after a streamed answer: a pooled one it dropped is sent again."""
    served = served_with_facts(serve_endpoint)
    served.start(qtbot, "alpha")
    v1 = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    api = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}], "options": {"num_predict": 4}}
    with httpx.Client(timeout=60) as http:
        for _ in range(10):
            assert http.post(f"{served.url}/v1/chat/completions", json=v1).status_code == 200
            assert http.post(f"{served.url}/api/chat", json={**api, "stream": False}).json()["done"] is True
            with http.stream("POST", f"{served.url}/v1/chat/completions", json={**v1, "stream": True}) as response:
                assert response.status_code == 200 and list(response.iter_lines())
            with http.stream("POST", f"{served.url}/api/chat", json=api) as response:
                lines = [json.loads(line) for line in response.iter_lines() if line]
            assert response.status_code == 200 and lines[-1]["done"] is True
    assert served.loads == 1


# A chat template that, like Qwen 3's, reads ``enable_thinking``: the prompt grows by a marker when it is off.
THINKING_TEMPLATE = ("{%- for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}"
                     "{%- if enable_thinking is defined and not enable_thinking %}no thinking today, please\n"
                     "{% endif %}assistant:")


def test_think_reaches_the_chat_template(qtbot: QtBot, serve_endpoint: ServeEndpoint, tmp_path: Path,
                                         ollama_client: Callable[[Served], ollama.Client]) -> None:
    """Ollama's ``think: false`` (``ollama run --think=false``, the client's ``think=False``) turns a thinking
    model's reasoning off: the model's chat template is told so, as llama-server's ``enable_thinking``."""
    template = tmp_path / "thinking.jinja"
    template.write_text(THINKING_TEMPLATE, encoding="utf-8")
    served = served_with_facts(serve_endpoint, extra_args=f"--chat-template-file {template}")
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    greedy = {"num_predict": 1, "temperature": 0}
    messages = [{"role": "user", "content": "hi"}]

    def prompt_tokens(**think: Any) -> int:
        answer = api.chat(model="alpha", messages=messages, stream=False, options=greedy, **think)
        assert answer.prompt_eval_count is not None
        return answer.prompt_eval_count

    thinking, not_thinking = prompt_tokens(think=True), prompt_tokens(think=False)
    assert thinking < not_thinking  # (without think, llama-server decides from the template)
    for think, expected in ((False, not_thinking), (True, thinking)):  # a one-turn chat, same template
        generated = api.generate(model="alpha", prompt="hi", stream=False, options=greedy, think=think)
        assert generated.prompt_eval_count == expected
    bad = httpx.post(f"{served.url}/api/chat", json={"model": "alpha", "messages": messages, "think": 3}, timeout=30)
    assert bad.status_code == 400 and "think" in bad.json()["error"]


def test_a_model_served_from_a_file_outside_the_library_is_an_ollama_model_too(
        qtbot: QtBot, serve_endpoint: ServeEndpoint, ollama_client: Callable[[Served], ollama.Client]) -> None:
    """``llama-wrangler serve ./x.gguf`` with a file the library does not hold: OpenAI clients could use it
    (it is listed by /v1/models); Ollama clients saw it in /api/ps only, and got 404 for everything else."""
    served = serve_endpoint()
    served.service.set_catalog(["beta"])  # alpha is not in the library
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    assert "alpha:latest" in {model.model for model in api.list().models}
    assert api.show("alpha").details is not None
    answer = api.chat(model="alpha", messages=[{"role": "user", "content": "hi"}], stream=False,
                      options={"num_predict": 2, "temperature": 0})
    assert answer.done and answer.model == "alpha"
    assert served.loads == 1


def test_two_clients_stream_from_two_models_at_once(qtbot: QtBot, serve_endpoint: ServeEndpoint) -> None:
    """Two models that fit side by side: one client streams from the loaded one while another's request
    loads the second; both streams are whole NDJSON answers from their own model, and both stay loaded."""
    served = served_with_facts(serve_endpoint, max_models=2)
    served.start(qtbot, "alpha")

    def stream(model: str) -> list[dict[str, Any]]:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
                "options": {"num_predict": 24, "temperature": 0}}
        with httpx.stream("POST", f"{served.url}/api/chat", json=body, timeout=120) as response:
            assert response.status_code == 200, response.read()
            return [json.loads(line) for line in response.iter_lines() if line]

    answers = {model: in_thread(lambda model=model: stream(model)) for model in ("alpha", "beta", "alpha:latest")}
    qtbot.waitUntil(lambda: all(answer() is not None for answer in answers.values()), timeout=LONG_MS)
    for model, answer in answers.items():
        lines = answer()
        assert isinstance(lines, list), lines
        assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
        assert {line["model"] for line in lines} == {model}
    running = httpx.get(f"{served.url}/api/ps", timeout=30).json()["models"]
    assert sorted(entry["name"] for entry in running) == ["alpha:latest", "beta:latest"]
    assert served.server.ask(lambda: served.server.scheduler.in_flight) == 0


def test_a_long_embed_input_is_cut_to_a_slots_context_too(
        qtbot: QtBot, serve_endpoint: ServeEndpoint, ollama_client: Callable[[Served], ollama.Client]) -> None:
    """With 4 slots of 256 tokens and a 512-token batch, llama-server refuses a long input twice over (the
    batch, then the slot's context): it is cut to the smaller of the two."""
    served = served_with_facts(serve_endpoint, extra_args="--embeddings --pooling mean", context_size=1024,
                               parallel=4)
    served.start(qtbot, "alpha")
    v1 = httpx.post(f"{served.url}/v1/embeddings", json={"model": "alpha", "input": "hello " * 70}, timeout=60)
    assert v1.status_code == 400  # the slot's context (the setup this test means)
    vectors = ollama_client(served).embed(model="alpha", input=["hello " * 70, "hello " * 600]).embeddings
    assert len(vectors) == 2 and all(vector for vector in vectors)


def test_fill_in_the_middle_reaches_llama_servers_infill(qtbot: QtBot, serve_endpoint: ServeEndpoint,
        ollama_client: Callable[[Served], ollama.Client], tmp_path: Path) -> None:
    """``/api/generate`` with a ``suffix`` (code completion: Continue, Twinny) is llama-server's ``/infill``
    (its OpenAI route refuses ``suffix``); a model without fill-in-the-middle tokens gets Ollama's 400."""
    served = serve_endpoint(max_models=2)
    served.models["coder"] = write_tiny_llama_gguf(tmp_path / "coder.gguf", name="coder", seed=3,
                                                  n_ctx_train=4096, fim=True)
    served.service.set_catalog(["alpha", "beta", "coder"])
    served.start(qtbot, "coder")
    api = ollama_client(served)
    greedy = {"num_predict": 4, "temperature": 0, "seed": 7}
    prefix, suffix = "def add(a, b):\n    total = ", "\n    return total\n"
    whole = api.generate(model="coder", prompt=prefix, suffix=suffix, options=greedy)
    assert whole.done and whole.eval_count and whole.done_reason in ("stop", "length")
    plain = api.generate(model="coder", prompt=prefix, raw=True, options=greedy)
    assert whole.prompt_eval_count > plain.prompt_eval_count  # the suffix and the FIM tokens reached it
    parts = list(api.generate(model="coder", prompt=prefix, suffix=suffix, options=greedy, stream=True))
    assert parts[-1].done and not any(part.done for part in parts[:-1])
    streamed = "".join(part.response for part in parts[:-1])
    # the same text, but for half a UTF-8 character at the very end, which a stream holds back (a random
    # tiny model emits byte tokens) and a whole answer shows as U+FFFD
    assert streamed and streamed == whole.response.rstrip("\ufffd")

    refused = in_thread(lambda: httpx.post(f"{served.url}/api/generate", timeout=120, json={
        "model": "alpha", "prompt": prefix, "suffix": suffix, "stream": False}))
    qtbot.waitUntil(lambda: refused() is not None, timeout=LONG_MS)  # alpha loads beside coder first
    assert refused().status_code == 400 and "does not support insert" in refused().json()["error"]


def test_a_chat_longer_than_the_context_loses_its_oldest_messages_as_in_ollama(
        qtbot: QtBot, serve_endpoint: ServeEndpoint, ollama_client: Callable[[Served], ollama.Client]) -> None:
    served = served_with_facts(serve_endpoint)  # 256 tokens of context
    served.start(qtbot, "alpha")
    api = ollama_client(served)
    words = "the quick brown fox jumps over the lazy dog again and again"
    history = [{"role": "user" if turn % 2 == 0 else "assistant", "content": f"{turn} {words}"} for turn in range(12)]
    messages = [{"role": "system", "content": "be brief"}, *history, {"role": "user", "content": "and now?"}]
    whole = httpx.post(f"{served.url}/v1/chat/completions", timeout=120,
                       json={"model": "alpha", "messages": messages, "max_tokens": 2})
    assert whole.status_code == 400, whole.text  # llama-server itself refuses it: it is over the context
    answer = api.chat(model="alpha", messages=messages, options={"num_predict": 2, "temperature": 0})
    assert answer.done and answer.prompt_eval_count is not None and 0 < answer.prompt_eval_count < 256
    parts = list(api.chat(model="alpha", messages=messages, stream=True, options={"num_predict": 2}))
    assert parts[-1].done and parts[-1].prompt_eval_count is not None and parts[-1].prompt_eval_count < 256
    # Nothing can go when the latest message alone is too long: Ollama's error, with llama-server's reason.
    with pytest.raises(ollama.ResponseError) as refused:
        api.chat(model="alpha", messages=[{"role": "user", "content": " ".join([words] * 12)}])
    assert refused.value.status_code == 400 and "context" in refused.value.error
