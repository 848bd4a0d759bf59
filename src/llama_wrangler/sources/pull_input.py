"""Which source a pasted or typed model reference is for: Hugging Face or the Ollama registry (no network).

Shared by the CLI's ``pull`` and the Add-model dialog so both read the same text the same way.
"""

from __future__ import annotations

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.hf_input import parse_hf_input
from llama_wrangler.sources.ollama_input import OllamaRequest, looks_like_ollama, parse_ollama_input


def ollama_request_for(text: str) -> OllamaRequest | None:
    """The Ollama request ``text`` names, or None when it is for Hugging Face (or for neither: then the
    caller's Hugging Face parse raises the error the user sees). Unambiguous Ollama forms (``ollama:``,
    ollama.com and registry links) win, and may raise their own parse error; otherwise Hugging Face's
    reading wins (``org/repo:Q4_K_M``) and Ollama gets what it refuses (``llama3.2:1b``)."""
    if looks_like_ollama(text):
        return parse_ollama_input(text)
    try:
        parse_hf_input(text)
        return None
    except InputParseError:
        try:
            return parse_ollama_input(text)
        except InputParseError:
            return None
