"""Which source a typed reference goes to: Hugging Face keeps its forms, Ollama gets the rest it can read."""

from __future__ import annotations

import pytest

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.pull_input import ollama_request_for


@pytest.mark.parametrize(("text", "expected"), [
    ("ollama:llama3.2:1b", OllamaRequest("llama3.2", "1b")),
    ("llama3.2:1b", OllamaRequest("llama3.2", "1b")),
    ("huihui_ai/deepseek-r1:8b", OllamaRequest("deepseek-r1", "8b", "huihui_ai")),
    ("https://ollama.com/library/gemma3", OllamaRequest("gemma3")),
    ("org/repo:Q4_K_M", None),  # a Hugging Face quant
    ("org/repo", None),
    ("hf:org/repo", None),
    ("https://huggingface.co/org/repo", None),
    ("not a model", None),  # neither: the Hugging Face parse reports it
])
def test_routing(text: str, expected: OllamaRequest | None) -> None:
    assert ollama_request_for(text) == expected


def test_an_explicit_ollama_reference_reports_its_own_error() -> None:
    with pytest.raises(InputParseError, match="Ollama"):
        ollama_request_for("ollama:bad/name/here:x")
