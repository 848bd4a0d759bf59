"""Parse what a user types or pastes into a typed Ollama registry request (no network here).

Accepted forms (``NS`` defaults to ``library``, ``TAG`` to ``latest``)::

    ollama:NAME[:TAG]          ollama:NS/NAME[:TAG]
    NAME:TAG                   NS/NAME:TAG              (bare; the CLI tries Hugging Face first for NS/NAME)
    https://ollama.com/library/NAME[:TAG]               https://ollama.com/NS/NAME[:TAG]
    registry.ollama.ai/NS/NAME[:TAG]                    (with or without https://)

Names are checked against the characters Ollama allows, so a name can never carry a path separator, a
``..`` or a URL piece into the registry request or the file name it becomes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from llama_wrangler.errors import InputParseError

DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
PREFIX = "ollama:"

# Ollama's own rules (types/model/name.go): a namespace or model starts with a letter or digit, a tag may
# also start with '_'; then letters, digits, '.', '_', '-'. Never '/', ':' or '..' inside one part.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,79}$")
_WEB_HOSTS = frozenset({"ollama.com", "www.ollama.com"})
_REGISTRY_HOSTS = frozenset({"registry.ollama.ai"})

EXPECTED = ("Expected an Ollama model like ollama:llama3.2:1b, ollama:namespace/model:tag or an ollama.com "
            "link.")


@dataclass(frozen=True)
class OllamaRequest:
    """One model tag in an Ollama registry."""

    model: str
    tag: str = DEFAULT_TAG
    namespace: str = DEFAULT_NAMESPACE

    @property
    def display(self) -> str:
        """The shortest text that names it again (what ``pull`` accepts)."""
        name = self.model if self.namespace == DEFAULT_NAMESPACE else f"{self.namespace}/{self.model}"
        return f"{PREFIX}{name}:{self.tag}"


def looks_like_ollama(text: str) -> bool:
    """True for the forms that can only mean Ollama (the prefix, an ollama.com or registry link); bare
    ``name:tag`` is ambiguous with Hugging Face's ``org/repo:QUANT`` and is left to the caller."""
    raw = text.strip().lower()
    if raw.startswith(PREFIX):
        return True
    host = urlsplit(raw if "://" in raw else f"https://{raw}").hostname or ""
    return host in _WEB_HOSTS | _REGISTRY_HOSTS


def parse_ollama_input(text: str) -> OllamaRequest:
    """The request ``text`` names, or :class:`InputParseError` saying what was expected."""
    raw = text.strip()
    if not raw:
        raise InputParseError("Nothing to download: the model reference is empty.", hint=EXPECTED)
    if any(ch.isspace() for ch in raw):
        raise InputParseError(f"{raw!r} is not an Ollama model (it contains spaces).", hint=EXPECTED)
    if raw.lower().startswith(PREFIX):
        return _parse_name(raw[len(PREFIX):], raw)
    if "://" in raw or raw.lower().split("/", 1)[0] in _WEB_HOSTS | _REGISTRY_HOSTS:
        return _parse_url(raw if "://" in raw else f"https://{raw}", raw)
    if ":" not in raw:
        # A bare word could be anything (a library id, a file); only the prefixed form may omit the tag.
        raise InputParseError(f"{raw!r} is not an Ollama model reference.", hint=EXPECTED)
    return _parse_name(raw, raw)


def _parse_url(url: str, original: str) -> OllamaRequest:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in _WEB_HOSTS | _REGISTRY_HOSTS:
        raise InputParseError(f"{original!r} is not an ollama.com or registry.ollama.ai link.", hint=EXPECTED)
    if parts.query or parts.fragment:
        raise InputParseError(f"{original!r}: an Ollama link has no query or fragment.", hint=EXPECTED)
    path = parts.path.strip("/")
    if path.count("/") != 1:
        raise InputParseError(f"{original!r} does not name a model (expected .../namespace/model[:tag]).",
                              hint=EXPECTED)
    return _parse_name(path, original)


def _parse_name(body: str, original: str) -> OllamaRequest:
    name, _sep, tag = body.partition(":")
    if _sep and not tag:
        raise InputParseError(f"{original!r} has an empty tag after ':'.", hint=EXPECTED)
    namespace, _slash, model = name.rpartition("/")
    namespace = namespace or DEFAULT_NAMESPACE
    tag = tag or DEFAULT_TAG
    if not _PART.match(namespace) or not _PART.match(model):
        raise InputParseError(f"{original!r} is not a valid Ollama model name.", hint=EXPECTED)
    if not _TAG.match(tag):
        raise InputParseError(f"{original!r} has an invalid tag {tag!r}.", hint=EXPECTED)
    return OllamaRequest(model=model, tag=tag, namespace=namespace)
