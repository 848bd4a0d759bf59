"""The Ollama <-> OpenAI translation, without a server."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import pytest

from llama_wrangler.server.endpoint import ollama_embed as embed
from llama_wrangler.server.endpoint import ollama_wire as wire
from llama_wrangler.server.endpoint.lease import ResidentView
from llama_wrangler.server.endpoint.ollama_wire import ModelFacts, OllamaRequestError


@pytest.mark.parametrize(("value", "seconds"), [
    (None, None), ("", None), (0, 0.0), ("0", 0.0), (300, 300.0), ("5m", 300.0), ("1h30m", 5400.0),
    ("90s", 90.0), ("-1", -1.0), ("-1m", -60.0), ("1.5h", 5400.0), (2.5, 2.5), ("250ms", 0.25),
])
def test_keep_alive_is_read_as_ollama_reads_it(value: object, seconds: float | None) -> None:
    assert wire.parse_keep_alive(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5 minutes", "m5", "5m x", True, [1], {"m": 5}])
def test_a_bad_keep_alive_is_refused_with_its_name(value: object) -> None:
    with pytest.raises(OllamaRequestError, match="keep_alive"):
        wire.parse_keep_alive(value)


def test_ollama_names_map_to_library_ids_through_ids_aliases_and_latest() -> None:
    catalog, aliases = ["llama-1b", "qwen:7b"], {"Llama 1B": "llama-1b"}
    assert wire.resolve_name("llama-1b", catalog, aliases) == "llama-1b"
    assert wire.resolve_name("llama-1b:latest", catalog, aliases) == "llama-1b"
    assert wire.resolve_name("Llama 1B:latest", catalog, aliases) == "llama-1b"
    assert wire.resolve_name("qwen:7b", catalog, aliases) == "qwen:7b"
    assert wire.resolve_name("qwen", catalog, aliases) is None
    assert wire.resolve_name("llama-1b:8b", catalog, aliases) is None
    assert wire.ollama_name("llama-1b") == "llama-1b:latest" and wire.ollama_name("qwen:7b") == "qwen:7b"


def test_chat_requests_become_openai_bodies_with_sampling_images_and_tools() -> None:
    request = {"model": "m:latest", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is this?", "images": ["iVBORw0KGgo=", "/9j/4AAQ"]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
    ], "options": {"temperature": 0.2, "num_predict": 16, "top_k": 5, "num_ctx": 4096, "stop": ["\n"]},
        "format": "json", "tools": [{"type": "function", "function": {"name": "f"}}]}
    body = wire.chat_body(request, "m")
    assert body["model"] == "m" and body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2 and body["max_tokens"] == 16 and body["top_k"] == 5 and body["stop"] == ["\n"]
    assert "num_ctx" not in body  # a load setting, fixed when llama-server starts
    assert body["response_format"] == {"type": "json_object"}
    assert body["tools"] == request["tools"]
    user = body["messages"][1]["content"]
    assert user[0] == {"type": "text", "text": "what is this?"}
    assert user[1]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert user[2]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    call = body["messages"][2]["tool_calls"][0]
    assert call["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert "stream" not in wire.chat_body({**request, "stream": False}, "m")
    schema = {"type": "object"}
    assert wire.chat_body({**request, "format": schema}, "m")["response_format"]["json_schema"]["schema"] == schema
    assert "chat_template_kwargs" not in body  # no think: the server's own default
    assert wire.chat_body({**request, "think": False}, "m")["chat_template_kwargs"] == {"enable_thinking": False}
    assert wire.chat_body({**request, "think": "high"}, "m")["chat_template_kwargs"] == {"reasoning_effort": "high"}
    with pytest.raises(OllamaRequestError, match="think"):
        wire.chat_body({**request, "think": "very"}, "m")


def test_generate_is_a_one_turn_chat_unless_raw_or_suffixed() -> None:
    path, body = wire.generate_body({"prompt": "hi", "system": "sys", "stream": False}, "m")
    assert path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    path, body = wire.generate_body({"prompt": "def f(", "suffix": "return 1", "options": {"num_predict": -1}}, "m")
    assert path == "/infill" and body["input_prefix"] == "def f(" and body["input_suffix"] == "return 1"
    assert "n_predict" not in body and body["stream"] is True  # -1: no limit, as in Ollama
    _path, body = wire.generate_body({"prompt": "a", "suffix": "b", "stream": False,
                                      "options": {"num_predict": 8, "temperature": 0, "seed": 3}}, "m")
    assert body == {"input_prefix": "a", "input_suffix": "b", "n_predict": 8, "temperature": 0, "seed": 3,
                    "stream": False}
    with pytest.raises(OllamaRequestError):
        wire.generate_body({"prompt": "a", "suffix": ["b"]}, "m")
    path, _body = wire.generate_body({"prompt": "x", "raw": True}, "m")
    assert path == "/v1/completions"
    with pytest.raises(OllamaRequestError):
        wire.generate_body({"prompt": ["x"]}, "m")


def test_embed_accepts_a_string_or_a_list_and_the_legacy_prompt() -> None:
    assert embed.embed_body({"input": "a"}, "m") == {"model": "m", "input": ["a"]}
    assert embed.embed_body({"input": ["a", "b"]}, "m")["input"] == ["a", "b"]
    assert embed.embed_body({"prompt": "a"}, "m", legacy=True)["input"] == ["a"]
    with pytest.raises(OllamaRequestError):
        embed.embed_body({"input": [1]}, "m")
    assert embed.embed_body({}, "m")["input"] == [] and embed.embed_body({"input": ""}, "m")["input"] == []
    answer = {"data": [{"index": 1, "embedding": [0.0, 2.0]}, {"index": 0, "embedding": [3.0, 4.0]}],
              "usage": {"prompt_tokens": 3}}
    doc = json.loads(embed.embed_answer(answer, "m:latest", legacy=False, started_ns=time.monotonic_ns(), load_ns=0))
    assert doc["embeddings"] == [[0.6, 0.8], [0.0, 1.0]]  # in input order, of unit length as Ollama's are
    assert doc["prompt_eval_count"] == 3 and doc["model"] == "m:latest"
    legacy = json.loads(embed.embed_answer(answer, "m", legacy=True, started_ns=0, load_ns=0))
    assert legacy == {"embedding": [3.0, 4.0]}


def test_a_long_embedding_input_is_cut_to_the_servers_batch_keeping_its_end_token() -> None:
    refusal = "input (3602 tokens) is too large to process. increase the physical batch size (current batch size: 256)"
    assert embed.batch_limit(refusal) == 256 and embed.batch_limit("something else") is None
    slot = "input (422 tokens) is larger than the max context size (256 tokens). skipping"
    assert embed.batch_limit(slot) == 256
    assert embed.cut_tokens([1, 5, 6, 7, 2], [5, 6, 7], 3) == [1, 5, 2]  # begin and end tokens stay
    assert embed.cut_tokens([1, 5, 6, 7], [5, 6, 7], 3) == [1, 5, 6]  # no end token: just the first ones
    assert embed.cut_tokens([1, 5], [5], 3) == [1, 5]  # short enough: as it is
    assert embed.truncates({}) and embed.truncates({"truncate": True}) and not embed.truncates({"truncate": False})


def test_a_whole_answer_carries_the_counts_in_nanoseconds() -> None:
    answer = {"choices": [{"message": {"role": "assistant", "content": "hello",
                                       "tool_calls": [{"function": {"name": "f", "arguments": '{"x": 2}'}}]},
                           "finish_reason": "length"}],
              "usage": {"prompt_tokens": 4, "completion_tokens": 7},
              "timings": {"prompt_ms": 1.5, "predicted_ms": 20.0}}
    doc = json.loads(wire.whole_answer(answer, "m", chat=True, started_ns=time.monotonic_ns(), load_ns=5))
    assert doc["message"]["content"] == "hello" and doc["done"] is True and doc["done_reason"] == "length"
    assert doc["message"]["tool_calls"] == [{"function": {"name": "f", "arguments": {"x": 2}}}]
    assert doc["prompt_eval_count"] == 4 and doc["eval_count"] == 7
    assert doc["prompt_eval_duration"] == 1_500_000 and doc["eval_duration"] == 20_000_000
    assert doc["load_duration"] == 5 and doc["total_duration"] >= 0
    completion = {"choices": [{"text": "abc", "finish_reason": "stop"}]}
    doc = json.loads(wire.whole_answer(completion, "m", chat=False, started_ns=0, load_ns=0))
    assert doc["response"] == "abc" and "message" not in doc and doc["done_reason"] == "stop"


def test_server_sent_events_are_cut_whole_and_a_partial_one_waits() -> None:
    buffer = bytearray(b'data: {"a": 1}\n\n: comment\ndata: [DONE]\n\ndata: {"b"')
    assert wire.sse_events(buffer) == [{"a": 1}, None]
    assert bytes(buffer) == b'data: {"b"'
    buffer.extend(b': 2}\n')
    assert wire.sse_events(buffer) == [{"b": 2}] and not buffer


def test_the_final_stream_line_is_one_json_object_marked_done() -> None:
    line = wire.final_chunk("m", chat=True, finish="stop", stats={"eval_count": 3})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = json.loads(line)
    assert doc["done"] is True and doc["message"] == {"role": "assistant", "content": ""} and doc["eval_count"] == 3


def test_tags_show_and_ps_documents_have_ollamas_fields() -> None:
    facts = {"a": ModelFacts(size_bytes=10, digest="sha256:x", modified_at="2026-01-01T00:00:00Z", family="llama",
                             parameter_size="1B", quantization_level="Q4_K_M", context_length=4096, vision=True)}
    tags = json.loads(wire.tags_doc(["a", "b"], facts))["models"]
    assert tags[0]["name"] == tags[0]["model"] == "a:latest" and tags[0]["size"] == 10
    assert tags[0]["details"]["format"] == "gguf" and tags[0]["details"]["quantization_level"] == "Q4_K_M"
    assert tags[1]["name"] == "b:latest" and tags[1]["modified_at"]  # no facts: still listed
    # Ollama's digest is bare hex; its CLI (ollama ls / ps) prints digest[:12] and fails on a shorter one.
    assert tags[0]["digest"] == "x"
    assert re.fullmatch(r"[0-9a-f]{64}", tags[1]["digest"])  # no file hash known: one made from the id
    assert tags[1]["digest"] == json.loads(wire.tags_doc(["b"], {}))["models"][0]["digest"]  # the same each time
    shown = json.loads(wire.show_doc("a", facts["a"]))
    assert shown["model_info"]["llama.context_length"] == 4096 and shown["capabilities"] == ["completion", "vision"]
    assert json.loads(wire.ps_doc([], facts, 0.0)) == {"models": []}
    view = ResidentView(model="a", slot="primary", state="ready", pid=1, in_flight=0, queued=0, idle_s=60.0,
                        ttl_s=300.0, pinned=False, by_user=False, ram_bytes=7, vram_bytes=2)
    now = 1767225600.0  # 2026-01-01T00:00:00Z
    running = json.loads(wire.ps_doc([view], facts, now))["models"][0]
    assert running["model"] == "a:latest" and running["expires_at"] == "2026-01-01T00:04:00Z"
    assert running["size"] == 9 and running["size_vram"] == 2  # the estimate, not the file size
    kept = json.loads(wire.ps_doc([replace(view, ttl_s=None)], facts, now))["models"][0]
    assert kept["expires_at"].startswith("2318")


def test_errors_are_ollama_shaped() -> None:
    assert json.loads(wire.not_found("x")) == {"error": "model 'x' not found"}
    assert wire.upstream_error(400, b'{"error": {"message": "bad", "type": "x"}}') == "bad"
    assert "500" in wire.upstream_error(500, b"boom")
