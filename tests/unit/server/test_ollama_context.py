"""Which messages a chat over the context loses (Ollama's rule: the oldest, never a system message nor the
latest one), and reading llama-server's refusal."""

from __future__ import annotations

import json

from llama_wrangler.server.endpoint.ollama_context import fewer_messages, overflow, weight


def chat(turns: int) -> list[dict[str, object]]:
    history = [{"role": "user" if turn % 2 == 0 else "assistant", "content": f"turn {turn} " + "x" * 40}
               for turn in range(turns)]
    return [{"role": "system", "content": "be brief"}, *history, {"role": "user", "content": "latest"}]


def test_the_oldest_messages_go_first_and_the_system_and_latest_ones_stay() -> None:
    messages = chat(10)
    kept = fewer_messages(messages, prompt_tokens=1000, context=600)
    assert kept is not None and kept[0] == messages[0] and kept[-1] == messages[-1]
    assert 2 < len(kept) < len(messages)
    assert kept[1:-1] == messages[len(messages) - len(kept) + 1:-1]  # a tail of the history, in order


def test_far_over_the_context_leaves_only_the_system_and_latest_messages() -> None:
    messages = chat(10)
    assert fewer_messages(messages, prompt_tokens=100_000, context=100) == [messages[0], messages[-1]]


def test_nothing_left_to_drop_is_none() -> None:
    assert fewer_messages([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], 500, 100) is None
    assert fewer_messages([{"role": "user", "content": "u"}], 500, 100) is None


def test_images_are_weighed_as_a_fixed_size_not_by_their_base64() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 500_000}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "look"}, image]},
                *chat(4)[1:]]
    kept = fewer_messages(messages, prompt_tokens=2000, context=1500)
    assert kept is not None and kept[0] is not messages[0]  # the old image message went first


def test_only_llama_servers_context_refusal_is_an_overflow() -> None:
    refusal = {"error": {"code": 400, "message": "request (1138 tokens) exceeds the available context size",
                         "type": "exceed_context_size_error", "n_prompt_tokens": 1138, "n_ctx": 256}}
    assert overflow(json.dumps(refusal).encode()) == (1138, 256)
    other = {"error": {"code": 400, "message": "bad", "type": "invalid_request_error"}}
    assert overflow(json.dumps(other).encode()) is None
    assert overflow(b"not json") is None and overflow(b"[1]") is None


def tries_to_fit(messages: list[dict[str, object]], fixed: int, per_char: float, context: int) -> int | None:
    """How many refusals a chat meets before it fits, with a prompt of ``fixed`` tokens (tool definitions)
    plus ``per_char`` tokens per character of its messages, as the retry in ollama_api does it."""
    previous, current = None, messages
    for tries in range(20):
        tokens = int(fixed + per_char * weight(current))
        if tokens < context:
            return tries
        fewer = fewer_messages(current, tokens, context, previous)
        if fewer is None:
            return None
        previous, current = (tokens, weight(current)), fewer
    return None


def test_big_tool_definitions_are_learned_from_the_second_refusal() -> None:
    # 3,500 tokens of tools in a 4,096-token context and a long history: one refusal alone reads the tools
    # as message text and cuts too little, again and again; two refusals give the fixed part.
    tries = tries_to_fit(chat(200), fixed=3500, per_char=0.3, context=4096)
    assert tries is not None and tries <= 3
