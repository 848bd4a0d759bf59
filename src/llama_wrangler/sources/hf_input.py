"""Parse what a user pastes or types into a typed Hugging Face request.

Accepted forms (``REV`` defaults to ``main``)::

    org/repo
    hf:org/repo            hf:org/repo:Q4_K_M        hf:org/repo/path/file.gguf
    hf:org/repo@REV:Q4_K_M hf:org/repo@REV/file.gguf (a branch, tag or commit)
    hf.co/org/repo:Q4_K_M  huggingface.co/org/repo   (with or without https://, www.)
    https://huggingface.co/org/repo
    https://huggingface.co/org/repo/tree/REV[/folder]
    https://huggingface.co/org/repo/blob/REV/path/file.gguf
    https://huggingface.co/org/repo/resolve/REV/path/file.gguf

Anything else raises :class:`InputParseError` with a message saying what was expected. No network here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from llama_wrangler.errors import InputParseError

DEFAULT_REVISION = "main"
# For links we show and pinned references we persist: parsed, never fetched (requests go to the endpoint in
# the settings).
HUB_LINK = "https://huggingface.co"

# Hub rules for a repo id part: letters, digits, '-', '_', '.'; no leading/trailing '.', no '--' or '..'.
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
# A quant label as people write it: Q4_K_M, q8_0, IQ2_XXS, F16, BF16, UD-Q4_K_XL, Q4_K_M-GGUF...
_QUANT = re.compile(r"^(?:[A-Za-z]+-)?(?:I?Q\d+(?:_[A-Za-z0-9]+)*|[BF]F?\d+|F32|MXFP4)$", re.IGNORECASE)
_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})

EXPECTED = ("Expected a Hugging Face model like org/repo, hf:org/repo:Q4_K_M, hf:org/repo/file.gguf, "
            "or a huggingface.co link.")


@dataclass(frozen=True)
class HfRequest:
    """A request for a model repo on the Hub.

    ``file`` names one file in the repo (a direct link or ``hf:org/repo/file``); ``quant`` names a quant
    to pick among the repo's GGUFs; both None means "show me the choices". ``folder`` is set for
    ``.../tree/REV/folder`` links.
    """

    repo_id: str
    revision: str = DEFAULT_REVISION
    file: str | None = None
    quant: str | None = None
    folder: str | None = None

    @property
    def display(self) -> str:
        text = f"hf:{self.repo_id}"
        if self.revision != DEFAULT_REVISION:
            text += f"@{self.revision}"
        if self.file:
            text += f"/{self.file}"
        elif self.quant:
            text += f":{self.quant}"
        return text


def parse_hf_input(text: str) -> HfRequest:
    """Turn user input into an :class:`HfRequest`; raises :class:`InputParseError` on anything else."""
    raw = text.strip()
    if not raw:
        raise InputParseError("Nothing to download: the model reference is empty.", hint=EXPECTED)
    if any(ch.isspace() for ch in raw):
        raise InputParseError(f"{raw!r} is not a model reference (it contains spaces).", hint=EXPECTED)
    lowered = raw.lower()
    if lowered.startswith("hf:"):
        return _parse_short(raw[3:], raw)
    if lowered.startswith(("http://", "https://")):
        return _parse_url(raw)
    host = lowered.split("/", 1)[0]
    if host in _HOSTS:
        return _parse_url("https://" + raw)
    if raw.count("/") == 1 or ":" in raw:
        return _parse_short(raw, raw)
    raise InputParseError(f"{raw!r} is not a model reference.", hint=EXPECTED)


def _parse_short(body: str, original: str) -> HfRequest:
    """``org/repo``, ``org/repo:QUANT`` or ``org/repo/path/to/file.gguf`` (the part after ``hf:``)."""
    quant: str | None = None
    if ":" in body:
        body, quant = body.split(":", 1)
        quant = _check_quant(quant, original)
    parts = body.strip("/").split("/")
    if len(parts) < 2:
        raise InputParseError(f"{original!r} does not name a repo as org/repo.", hint=EXPECTED)
    name, _, revision = parts[1].partition("@")  # org/repo@REV pins a branch, tag or commit
    repo_id = _check_repo(parts[0], name, original)
    file = _check_file("/".join(parts[2:]), original) if len(parts) > 2 else None
    if file and quant:
        raise InputParseError(f"{original!r} names both a file and a quant; give one of them.")
    return HfRequest(repo_id=repo_id, revision=_check_revision(revision, original) if revision else
                     DEFAULT_REVISION, file=file, quant=quant)


def _parse_url(url: str) -> HfRequest:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in _HOSTS:
        raise InputParseError(f"{url!r} is not a Hugging Face link (expected huggingface.co or hf.co).",
                              hint=EXPECTED)
    quant: str | None = None
    # Unquote per segment: a revision like refs/pr/1 arrives as one segment, refs%2Fpr%2F1.
    segments = [unquote(s) for s in parts.path.split("/") if s]
    # hf.co/org/repo:Q4_K_M (the Ollama / llama.cpp -hf shorthand) puts the quant on the repo name.
    if len(segments) == 2 and ":" in segments[1]:
        name, quant = segments[1].split(":", 1)
        segments[1] = name
        quant = _check_quant(quant, url)
    if len(segments) < 2:
        raise InputParseError(f"{url!r} does not point at a model repo.", hint=EXPECTED)
    if segments[0] in {"datasets", "spaces", "docs", "api", "settings", "models", "collections"}:
        raise InputParseError(f"{url!r} is not a model repo link.", hint=EXPECTED)
    repo_id = _check_repo(segments[0], segments[1], url)
    rest = segments[2:]
    if not rest:
        return HfRequest(repo_id=repo_id, quant=quant)
    kind = rest[0]
    if kind in {"blob", "resolve"}:
        if len(rest) < 3:
            raise InputParseError(f"{url!r} links to a {kind} but names no file.", hint=EXPECTED)
        return HfRequest(repo_id=repo_id, revision=_check_revision(rest[1], url),
                         file=_check_file("/".join(rest[2:]), url))
    if kind == "tree":
        if len(rest) < 2:
            raise InputParseError(f"{url!r} links to a tree but names no revision.", hint=EXPECTED)
        folder = _check_file("/".join(rest[2:]), url) if len(rest) > 2 else None
        return HfRequest(repo_id=repo_id, revision=_check_revision(rest[1], url), folder=folder)
    if kind in {"discussions", "commits", "settings", "edit"}:
        return HfRequest(repo_id=repo_id)
    raise InputParseError(f"{url!r} is a Hugging Face link we do not understand (…/{kind}/…).",
                          hint=EXPECTED)


def _check_repo(org: str, name: str, original: str) -> str:
    for part in (org, name):
        if not _NAME.match(part) or "--" in part or ".." in part:
            raise InputParseError(f"{original!r}: {part!r} is not a valid Hugging Face user or repo name.",
                                  hint=EXPECTED)
    return f"{org}/{name}"


def _check_quant(quant: str, original: str) -> str:
    if not _QUANT.match(quant):
        raise InputParseError(f"{original!r}: {quant!r} is not a quant name (like Q4_K_M, Q8_0 or F16).")
    return quant.upper()


def _check_revision(revision: str, original: str) -> str:
    if not revision or revision in {".", ".."} or not re.match(r"^[A-Za-z0-9._/\-]+$", revision) \
            or ".." in revision.split("/"):
        raise InputParseError(f"{original!r}: {revision!r} is not a valid revision.")
    return revision


def _check_file(path: str, original: str) -> str:
    parts = path.split("/")
    if any(p in {"", ".", ".."} for p in parts) or "\\" in path or "\x00" in path:
        raise InputParseError(f"{original!r}: {path!r} is not a valid file path in a repo.")
    return path
