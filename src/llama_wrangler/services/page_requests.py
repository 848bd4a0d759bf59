"""What a web page may ask of us, checked again in Python (Qt-free).

The bridge script runs inside pages we do not control, so nothing it sends is believed: each argument must
be a plain string of sane length, and is parsed by the same strict parsers the command line uses
(``sources/hf_input.py``, ``ollama_input.py``, ``pull_input.py``) — ``../``, absolute paths, odd characters
and anything the parser would have to rewrite are refused. A page can only *propose* a download (the user
confirms it in a native dialog) or ask what the library already has; there is no file or process call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.hf_input import HUB_LINK, HfRequest, parse_hf_input
from llama_wrangler.sources.ollama_input import OllamaRequest, parse_ollama_input
from llama_wrangler.sources.pull_input import ollama_request_for

MAX_ARGUMENT = 300  # longer than any real repo id, revision or file path the pages show
MAX_PAYLOAD = 2000


@dataclass(frozen=True)
class RepoProposal:
    """Open the quant picker on a repo (the recommended quant marked)."""

    request: HfRequest

    @property
    def reference(self) -> str:
        return f"hf:{self.request.repo_id}"

    @property
    def key(self) -> str:
        return f"hf-repo:{self.request.repo_id}"


@dataclass(frozen=True)
class FileProposal:
    """Download exactly this file of a repo at this revision (its split set as one model)."""

    request: HfRequest

    @property
    def reference(self) -> str:
        # The link form: a revision such as refs/pr/1 survives it, quoted as one segment.
        request = self.request
        return f"{HUB_LINK}/{request.repo_id}/blob/{quote(request.revision, safe='')}/{request.file}"

    @property
    def key(self) -> str:
        return f"hf:{self.request.repo_id}/{self.request.file}"


@dataclass(frozen=True)
class OllamaProposal:
    request: OllamaRequest

    @property
    def reference(self) -> str:
        return self.request.display

    @property
    def key(self) -> str:
        return ollama_key(self.request)


Proposal = RepoProposal | FileProposal | OllamaProposal


def ollama_key(request: OllamaRequest) -> str:
    return f"ollama:{request.namespace}/{request.model}:{request.tag}"


def _text(payload: dict[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_ARGUMENT:
        raise InputParseError(f"The page sent no usable {name}.")
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in value):
        raise InputParseError(f"The page sent a {name} with control characters or backslashes: {value!r}.")
    return value


def parse_proposal(kind: object, payload_json: object) -> Proposal:
    """The proposal a page's call describes; :class:`InputParseError` for anything we would not download."""
    if not isinstance(kind, str) or not isinstance(payload_json, str) or len(payload_json) > MAX_PAYLOAD:
        raise InputParseError("The page sent a malformed request.")
    try:
        payload = json.loads(payload_json)
    except ValueError:
        raise InputParseError("The page sent a malformed request.") from None
    if not isinstance(payload, dict):
        raise InputParseError("The page sent a malformed request.")
    if kind == "hf-repo":
        return repo_proposal(_text(payload, "repo"))
    if kind == "hf-file":
        return file_proposal(_text(payload, "repo"), _text(payload, "revision"), _text(payload, "path"))
    if kind == "ollama":
        return ollama_proposal(_text(payload, "name"))
    raise InputParseError(f"The page asked for something we do not do ({kind[:40]!r}).")


def repo_proposal(repo: str) -> RepoProposal:
    request = parse_hf_input(f"hf:{repo}")
    if request.repo_id != repo or request.file or request.quant or request.revision != "main":
        raise InputParseError(f"{repo!r} is not a plain org/repo id.")
    return RepoProposal(request)


def file_proposal(repo: str, revision: str, path: str) -> FileProposal:
    if path.startswith("/") or revision.startswith("/"):
        raise InputParseError(f"{path!r} at {revision!r} is not a file path in a repo.")
    if "%" in path or "?" in path or "#" in path:
        raise InputParseError(f"{path!r} is not a plain file path in a repo.")
    request = parse_hf_input(f"{HUB_LINK}/{repo}/blob/{quote(revision, safe='')}/{path}")
    # Round trip: anything the parser had to read differently is refused, not guessed at.
    if (request.repo_id, request.revision, request.file) != (repo, revision, path):
        raise InputParseError(f"{repo}/{path} at {revision!r} is not a valid file reference.")
    if not path.lower().endswith(".gguf"):
        raise InputParseError(f"{path!r} is not a GGUF file.")
    return FileProposal(request)


def ollama_proposal(name: str) -> OllamaProposal:
    request = parse_ollama_input(f"ollama:{name}")
    plain = f"{request.model}:{request.tag}"
    if name not in (plain, f"{request.namespace}/{plain}"):
        raise InputParseError(f"{name!r} is not an Ollama model name with a tag.")
    return OllamaProposal(request)


def proposal_for_reference(reference: str) -> Proposal:
    """A captured link (a ``/resolve/`` click, an ``lmstudio://`` or ``jan://`` link) as a proposal."""
    ollama = ollama_request_for(reference)
    if ollama is not None:
        return OllamaProposal(ollama)
    request = parse_hf_input(reference)
    if request.file:
        return file_proposal(request.repo_id, request.revision, request.file)
    return repo_proposal(request.repo_id)
