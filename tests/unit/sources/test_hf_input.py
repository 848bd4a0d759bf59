"""Table-driven: every accepted form of a Hugging Face reference, and the ones we refuse."""

from __future__ import annotations

import pytest

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.hf_input import HfRequest, parse_hf_input

ACCEPTED = [
    ("org/repo", HfRequest("org/repo")),
    ("  TheBloke/Llama-2-7B-GGUF  ", HfRequest("TheBloke/Llama-2-7B-GGUF")),
    ("https://huggingface.co/org/repo", HfRequest("org/repo")),
    ("https://huggingface.co/org/repo/", HfRequest("org/repo")),
    ("http://www.huggingface.co/org/repo", HfRequest("org/repo")),
    ("huggingface.co/org/repo", HfRequest("org/repo")),
    ("https://huggingface.co/org/repo/blob/main/x.Q4_K_M.gguf",
     HfRequest("org/repo", "main", file="x.Q4_K_M.gguf")),
    ("https://huggingface.co/org/repo/resolve/abc123/sub/x.gguf?download=true",
     HfRequest("org/repo", "abc123", file="sub/x.gguf")),
    ("https://huggingface.co/org/repo/tree/v1.0", HfRequest("org/repo", "v1.0")),
    ("https://huggingface.co/org/repo/tree/main/Q4_K_M", HfRequest("org/repo", folder="Q4_K_M")),
    ("https://huggingface.co/org/repo/tree/refs%2Fpr%2F3", HfRequest("org/repo", "refs/pr/3")),
    ("hf.co/org/repo:Q4_K_M", HfRequest("org/repo", quant="Q4_K_M")),
    ("https://hf.co/org/repo:q8_0", HfRequest("org/repo", quant="Q8_0")),
    ("hf:org/repo", HfRequest("org/repo")),
    ("HF:org/repo:iq2_xxs", HfRequest("org/repo", quant="IQ2_XXS")),
    ("hf:org/repo:UD-Q4_K_XL", HfRequest("org/repo", quant="UD-Q4_K_XL")),
    ("hf:org/repo:BF16", HfRequest("org/repo", quant="BF16")),
    ("hf:org/repo/model-q4_k_m.gguf", HfRequest("org/repo", file="model-q4_k_m.gguf")),
    ("hf:org/repo/Q4/model-00001-of-00002.gguf", HfRequest("org/repo", file="Q4/model-00001-of-00002.gguf")),
    ("org/repo:Q5_K_M", HfRequest("org/repo", quant="Q5_K_M")),
    ("hf:org/repo@v2:Q4_K_M", HfRequest("org/repo", "v2", quant="Q4_K_M")),
    ("hf:org/repo@0123abcd/sub/x.gguf", HfRequest("org/repo", "0123abcd", file="sub/x.gguf")),
    ("https://huggingface.co/org/repo/discussions/4", HfRequest("org/repo")),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted(text: str, expected: HfRequest) -> None:
    assert parse_hf_input(text) == expected


REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("llama3", "not a model reference"),
    ("org/repo/extra", "not a model reference"),
    ("hf:justone", "org/repo"),
    ("hf:org/re po", "spaces"),
    ("https://example.com/org/repo", "not a Hugging Face link"),
    ("https://huggingface.co/", "does not point at a model repo"),
    ("https://huggingface.co/datasets/org/data", "not a model repo link"),
    ("https://huggingface.co/org/repo/blob/main", "names no file"),
    ("https://huggingface.co/org/repo/tree", "names no revision"),
    ("https://huggingface.co/org/repo/wiki/x", "do not understand"),
    ("hf:org/repo/../../etc/passwd", "not a valid file path"),
    ("https://huggingface.co/org/repo/resolve/main/a/%2E%2E/b.gguf", "not a valid file path"),
    ("hf:org/repo:not-a-quant!", "not a quant name"),
    ("hf:-org/repo", "not a valid Hugging Face user or repo name"),
    ("hf:org/re--po", "not a valid Hugging Face user or repo name"),
    ("hf:org/repo/x.gguf:Q4_K_M", "both a file and a quant"),
    ("https://huggingface.co/org/repo/tree/..", "not a valid revision"),
    ("hf:org/repo@..:Q4_K_M", "not a valid revision"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[t or "<empty>" for t, _ in REFUSED])
def test_refused_with_clear_message(text: str, message: str) -> None:
    with pytest.raises(InputParseError, match=message):
        parse_hf_input(text)


def test_display_round_trips() -> None:
    for text in ("hf:org/repo:Q4_K_M", "hf:org/repo/a/b.gguf", "hf:org/repo", "hf:org/repo@dev:Q8_0",
                 "hf:org/repo@abc/x.gguf"):
        assert parse_hf_input(parse_hf_input(text).display) == parse_hf_input(text)
