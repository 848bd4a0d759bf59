"""The browser's navigation rule and the bridge's argument checks (Qt-free)."""

from __future__ import annotations

import json

import pytest

from llama_wrangler.errors import InputParseError
from llama_wrangler.services.page_requests import FileProposal, OllamaProposal, RepoProposal, parse_proposal
from llama_wrangler.services.web_policy import BrowsePolicy, ChatPolicy, Site, Verdict, app_link_reference
from llama_wrangler.services.web_state import download_key

REAL = BrowsePolicy("https://huggingface.co", "https://ollama.com")
LOOPBACK = BrowsePolicy("http://127.0.0.1:8001", "http://127.0.0.1:8002")


@pytest.mark.parametrize(("url", "verdict", "site"), [
    ("https://huggingface.co/org/repo", Verdict.TRUSTED, Site.HF),
    ("https://huggingface.co/org/repo/tree/main", Verdict.TRUSTED, Site.HF),
    ("https://ollama.com/library/llama3.2:1b", Verdict.TRUSTED, Site.OLLAMA),
    ("https://www.ollama.com/library", Verdict.TRUSTED, Site.OLLAMA),
    ("https://cdn-lfs.huggingface.co/repos/x", Verdict.ALLOWED, Site.HF),
    ("https://cas-bridge.xethub.hf.co/x", Verdict.ALLOWED, Site.HF),
    ("http://huggingface.co/org/repo", Verdict.EXTERNAL, None),  # another scheme is another origin
    ("https://huggingface.co.evil.example/org/repo", Verdict.EXTERNAL, None),
    ("https://evilhuggingface.co/x", Verdict.EXTERNAL, None),
    ("https://github.com/ggml-org/llama.cpp", Verdict.EXTERNAL, None),
    ("file:///etc/passwd", Verdict.REFUSED, None),
    ("javascript:alert(1)", Verdict.REFUSED, None),
    ("https://huggingface.co/org/repo/resolve/main/README.md", Verdict.REFUSED, Site.HF),
])
def test_decisions_on_the_real_sites(url: str, verdict: Verdict, site: Site | None) -> None:
    decision = REAL.decide(url)
    assert (decision.verdict, decision.site) == (verdict, site)


def test_gguf_resolve_links_are_captured_as_hub_references() -> None:
    decision = LOOPBACK.decide("http://127.0.0.1:8001/org/repo/resolve/main/sub/m-Q4_K_M.gguf?download=true")
    assert decision.verdict == Verdict.CAPTURE
    assert decision.reference == "https://huggingface.co/org/repo/resolve/main/sub/m-Q4_K_M.gguf"
    # The CDN of a loopback hub is not trusted or allowed: only the real hub has one.
    assert LOOPBACK.decide("https://cdn-lfs.huggingface.co/x").verdict == Verdict.EXTERNAL
    assert LOOPBACK.decide("http://127.0.0.1:8003/org/repo").verdict == Verdict.EXTERNAL


def test_other_apps_links() -> None:
    assert app_link_reference("lmstudio://open_from_hf?model=org/repo") == "hf:org/repo"
    assert app_link_reference("lmstudio://open_from_hf?model=org/repo&file=m-Q4_K_M.gguf") == \
        "hf:org/repo/m-Q4_K_M.gguf"
    assert app_link_reference("jan://models/huggingface/org/repo") == "hf:org/repo"
    assert app_link_reference("lmstudio://open_from_hf") is None
    assert REAL.decide("jan://settings").verdict == Verdict.REFUSED


def test_subframes_never_open_the_system_browser() -> None:
    assert REAL.decide("https://ads.example/frame", main_frame=False).verdict == Verdict.REFUSED
    assert REAL.decide("about:blank", main_frame=False).verdict == Verdict.ALLOWED


def test_open_targets() -> None:
    assert REAL.open_target("https://huggingface.co/org/repo") == "https://huggingface.co/org/repo"
    assert REAL.open_target("llama-wrangler://hf/org/repo") == "https://huggingface.co/org/repo"
    assert REAL.open_target("llama-wrangler://ollama/library/qwen3") == "https://ollama.com/library/qwen3"
    assert REAL.open_target("llama-wrangler://open?url=https%3A%2F%2Follama.com%2Flibrary") == \
        "https://ollama.com/library"
    for bad in ("https://evil.example/", "llama-wrangler://open?url=file:///etc/passwd", "llama-wrangler://x/y",
                "file:///etc/passwd"):
        with pytest.raises(InputParseError):
            REAL.open_target(bad)


def test_chat_policy_allows_only_the_loopback_endpoint() -> None:
    chat = ChatPolicy("http://127.0.0.1:8080")
    assert chat.decide("http://127.0.0.1:8080/").verdict == Verdict.TRUSTED
    assert chat.decide("http://127.0.0.1:8081/").verdict == Verdict.EXTERNAL
    assert chat.decide("file:///etc/passwd").verdict == Verdict.REFUSED
    assert ChatPolicy("http://192.168.1.5:8080").origin is None
    assert ChatPolicy("http://192.168.1.5:8080").decide("http://192.168.1.5:8080/").verdict == Verdict.EXTERNAL


def test_proposals_parse_like_the_cli() -> None:
    repo = parse_proposal("hf-repo", json.dumps({"repo": "org/repo"}))
    assert isinstance(repo, RepoProposal) and repo.reference == "hf:org/repo"
    file = parse_proposal("hf-file", json.dumps({"repo": "org/repo", "revision": "refs/pr/1", "path": "a/m.gguf"}))
    assert isinstance(file, FileProposal)
    assert file.reference == "https://huggingface.co/org/repo/blob/refs%2Fpr%2F1/a/m.gguf"
    assert download_key(file.reference) == file.key == "hf:org/repo/a/m.gguf"
    ollama = parse_proposal("ollama", json.dumps({"name": "tinyllama:1.1b"}))
    assert isinstance(ollama, OllamaProposal) and ollama.reference == "ollama:tinyllama:1.1b"
    assert download_key(ollama.reference) == ollama.key == "ollama:library/tinyllama:1.1b"


@pytest.mark.parametrize(("kind", "payload"), [
    ("hf-file", {"repo": "org/repo", "revision": "main", "path": "../x.gguf"}),
    ("hf-file", {"repo": "org/repo", "revision": "main", "path": "a/./x.gguf"}),
    ("hf-file", {"repo": "org/repo", "revision": "main", "path": "x.gguf?y=1"}),
    ("hf-file", {"repo": "org/repo", "revision": "main", "path": "x\x00.gguf"}),
    ("hf-file", {"repo": "org/repo", "revision": "ma in", "path": "x.gguf"}),
    ("hf-file", {"repo": "org/repo", "revision": "main", "path": "x" * 400 + ".gguf"}),
    ("hf-file", {"repo": "org/repo", "revision": ["main"], "path": "x.gguf"}),
    ("hf-repo", {"repo": "org"}),
    ("hf-repo", {"repo": "org/repo@dev"}),
    ("hf-repo", {"repo": "-org/repo"}),
    ("ollama", {"name": "tinyllama"}),  # no tag: the page always knows one
    ("ollama", {"name": "a/b/c:d"}),
    ("ollama", {"name": "tinyllama:../x"}),
    ("download", {"url": "https://evil.example/x.gguf"}),
])
def test_hostile_proposals_are_refused(kind: str, payload: dict[str, object]) -> None:
    with pytest.raises(InputParseError):
        parse_proposal(kind, json.dumps(payload))


def test_malformed_calls_are_refused() -> None:
    for kind, payload in (("hf-repo", "{"), ("hf-repo", "[]"), (5, "{}"), ("hf-repo", None),
                          ("hf-repo", "x" * 5000)):
        with pytest.raises(InputParseError):
            parse_proposal(kind, payload)
