"""What a user types for an Ollama model, parsed into a request (or refused with a clear message)."""

from __future__ import annotations

import pytest

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.ollama_input import OllamaRequest, looks_like_ollama, parse_ollama_input

ACCEPTED = [
    ("ollama:llama3.2", OllamaRequest("llama3.2", "latest", "library")),
    ("ollama:llama3.2:1b", OllamaRequest("llama3.2", "1b", "library")),
    ("OLLAMA:llama3.2:1b", OllamaRequest("llama3.2", "1b", "library")),
    ("ollama:huihui_ai/deepseek-r1:8b", OllamaRequest("deepseek-r1", "8b", "huihui_ai")),
    ("ollama:ns/model", OllamaRequest("model", "latest", "ns")),
    ("llama3.2:1b", OllamaRequest("llama3.2", "1b", "library")),
    ("qwen2.5:0.5b-instruct-q4_K_M", OllamaRequest("qwen2.5", "0.5b-instruct-q4_K_M", "library")),
    ("ns/model:tag", OllamaRequest("model", "tag", "ns")),
    ("https://ollama.com/library/llama3.2", OllamaRequest("llama3.2", "latest", "library")),
    ("https://ollama.com/library/llama3.2:1b", OllamaRequest("llama3.2", "1b", "library")),
    ("https://ollama.com/library/llama3.2:1b/", OllamaRequest("llama3.2", "1b", "library")),
    ("https://www.ollama.com/jmorgan/tiny", OllamaRequest("tiny", "latest", "jmorgan")),
    ("ollama.com/jmorgan/tiny:v1", OllamaRequest("tiny", "v1", "jmorgan")),
    ("registry.ollama.ai/library/gemma3:270m", OllamaRequest("gemma3", "270m", "library")),
    ("https://registry.ollama.ai/library/gemma3:270m", OllamaRequest("gemma3", "270m", "library")),
    ("  ollama:phi3:mini  ", OllamaRequest("phi3", "mini", "library")),
    ("ollama:model:_underscore-tag", OllamaRequest("model", "_underscore-tag", "library")),
]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("ollama:llama 3", "contains spaces"),
    ("llama3", "not an Ollama model reference"),  # bare word: no tag, no prefix
    ("ollama:", "not a valid Ollama model name"),
    ("ollama:llama3:", "empty tag"),
    ("ollama:../etc:passwd", "not a valid Ollama model name"),
    ("ollama:a/b/c:tag", "not a valid Ollama model name"),
    ("ollama:.hidden:tag", "not a valid Ollama model name"),
    ("ollama:model:../../x", "invalid tag"),
    ("ollama:model:a/b", "invalid tag"),
    ("ollama:model:tag:extra", "invalid tag"),
    ("ollama:model%2f..:x", "not a valid Ollama model name"),
    ("ollama:" + "m" * 81 + ":tag", "not a valid Ollama model name"),
    ("https://ollama.com/llama3.2", "does not name a model"),
    ("https://ollama.com/library/llama3.2/blobs/x", "does not name a model"),
    ("https://ollama.com/library/llama3.2?x=1", "no query"),
    ("https://example.com/library/llama3.2", "not an ollama.com or registry"),
    ("ftp://ollama.com/library/llama3.2", "not an ollama.com or registry"),
    ("registry.ollama.ai/library/../x:y", "does not name a model"),
    ("registry.ollama.ai/../x:y", "not a valid Ollama model name"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted_forms(text: str, expected: OllamaRequest) -> None:
    assert parse_ollama_input(text) == expected


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[t or "<empty>" for t, _ in REFUSED])
def test_refused_forms_say_why(text: str, message: str) -> None:
    with pytest.raises(InputParseError) as caught:
        parse_ollama_input(text)
    assert message in str(caught.value)
    assert "ollama:llama3.2:1b" in str(caught.value)  # the hint shows a form that works


@pytest.mark.parametrize(("request_", "display"), [
    (OllamaRequest("llama3.2", "1b"), "ollama:llama3.2:1b"),
    (OllamaRequest("tiny", "latest", "jmorgan"), "ollama:jmorgan/tiny:latest"),
])
def test_display_parses_back_to_the_same_request(request_: OllamaRequest, display: str) -> None:
    assert request_.display == display
    assert parse_ollama_input(display) == request_


@pytest.mark.parametrize(("text", "explicit"), [
    ("ollama:llama3.2", True),
    ("https://ollama.com/library/llama3.2", True),
    ("registry.ollama.ai/library/llama3.2:1b", True),
    ("llama3.2:1b", False),  # could be either; the CLI decides
    ("org/repo:Q4_K_M", False),
    ("hf:org/repo", False),
    ("https://huggingface.co/org/repo", False),
])
def test_only_unambiguous_forms_look_like_ollama(text: str, explicit: bool) -> None:
    assert looks_like_ollama(text) is explicit
