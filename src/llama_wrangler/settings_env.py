"""The conventions users already set, honoured in one place: ``HF_ENDPOINT``, ``HF_TOKEN``,
``HF_HUB_OFFLINE``, ``HF_HOME`` / ``HF_HUB_CACHE`` and ``OLLAMA_MODELS`` (Qt-free).

Each value is resolved the way huggingface_hub (or Ollama) documents it, unless the user set it in our
settings, which then wins. Every resolution says where its value came from (:class:`Effective`), so the
Settings dialog can show it and a support question ("which mirror am I using?") has an answer.

``downloads.hf_endpoint`` empty means "not set here". Settings files written before this existed hold the
old built-in default (``https://huggingface.co``) in that field: it counts as not set, so ``HF_ENDPOINT``
applies to them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import get_token

from llama_wrangler.settings import DownloadSettings, Settings, TokenSource

HF_DEFAULT_ENDPOINT = "https://huggingface.co"
FROM_SETTINGS = "your settings"
FROM_DEFAULT = "the default"
ANONYMOUS = "anonymous"
_TRUE = frozenset({"1", "on", "yes", "true"})  # huggingface_hub's reading of a boolean variable


@dataclass(frozen=True)
class Effective:
    """A value in force and where it came from (``origin``: "your settings", "HF_ENDPOINT", "the default"...).
    ``shown`` is how to display it (a token is masked)."""

    label: str
    value: str
    origin: str
    shown: str = ""

    def describe(self) -> str:
        where = "default" if self.origin == FROM_DEFAULT else (
            self.origin if self.origin == ANONYMOUS else f"from {self.origin}")
        return f"{self.label}: {self.shown or self.value or 'none'} ({where})"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def endpoint_is_set(downloads: DownloadSettings) -> bool:
    value = downloads.hf_endpoint.strip().rstrip("/")
    return bool(value) and value != HF_DEFAULT_ENDPOINT


def hf_endpoint(downloads: DownloadSettings, environ: Mapping[str, str] | None = None) -> Effective:
    label = "Hugging Face address"
    if endpoint_is_set(downloads):
        return Effective(label, downloads.hf_endpoint.rstrip("/"), FROM_SETTINGS)
    env_value = (_env(environ).get("HF_ENDPOINT") or "").strip().rstrip("/")
    if env_value:
        return Effective(label, env_value, "HF_ENDPOINT")
    return Effective(label, HF_DEFAULT_ENDPOINT, FROM_DEFAULT)


def hf_token(downloads: DownloadSettings, environ: Mapping[str, str] | None = None) -> Effective:
    """The token (``value`` empty: anonymous). ``token_source = auto``: settings, then ``HF_TOKEN``, then
    huggingface_hub's stored login (``hf auth login``); the other sources use only the one they name."""
    label = "Hugging Face token"
    source = downloads.token_source
    if source in (TokenSource.AUTO, TokenSource.SETTINGS) and downloads.hf_token.strip():
        return _token(label, downloads.hf_token.strip(), FROM_SETTINGS)
    if source in (TokenSource.AUTO, TokenSource.ENVIRONMENT):
        value = (_env(environ).get("HF_TOKEN") or "").strip()
        if value:
            return _token(label, value, "HF_TOKEN")
    if source in (TokenSource.AUTO, TokenSource.HF_LOGIN):
        # get_token() also reads HF_TOKEN; with ENVIRONMENT excluded above that is still the user's login.
        login = get_token()
        if login:
            return _token(label, login, "huggingface_hub's login")
    return Effective(label, "", ANONYMOUS, shown="none")


def _token(label: str, value: str, origin: str) -> Effective:
    return Effective(label, value, origin, shown=f"…{value[-4:]}" if len(value) > 8 else "set")


def hub_offline(environ: Mapping[str, str] | None = None) -> bool:
    """``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) set to a true value: never call the Hub."""
    env = _env(environ)
    return any((env.get(name) or "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE",
                                                                           "TRANSFORMERS_OFFLINE"))


def hf_cache(environ: Mapping[str, str] | None = None) -> Effective:
    """The Hugging Face cache to scan: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``."""
    env = _env(environ)
    label = "Hugging Face cache"
    if env.get("HF_HUB_CACHE"):
        return Effective(label, str(Path(env["HF_HUB_CACHE"]).expanduser()), "HF_HUB_CACHE")
    if env.get("HF_HOME"):
        return Effective(label, str(Path(env["HF_HOME"]).expanduser() / "hub"), "HF_HOME")
    if env.get("XDG_CACHE_HOME"):
        return Effective(label, str(Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"),
                         "XDG_CACHE_HOME")
    return Effective(label, str(_home(env) / ".cache" / "huggingface" / "hub"), FROM_DEFAULT)


def ollama_models(environ: Mapping[str, str] | None = None) -> Effective:
    """Ollama's store: ``OLLAMA_MODELS``, else ``~/.ollama/models``."""
    env = _env(environ)
    label = "Ollama models"
    if env.get("OLLAMA_MODELS"):
        return Effective(label, str(Path(env["OLLAMA_MODELS"]).expanduser()), "OLLAMA_MODELS")
    return Effective(label, str(_home(env) / ".ollama" / "models"), FROM_DEFAULT)


def effective_values(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Effective]:
    """Every convention-backed value in force, for the Settings dialog and ``llama-wrangler doctor``-like
    output."""
    offline = hub_offline(environ)
    return [hf_endpoint(settings.downloads, environ), hf_token(settings.downloads, environ),
            Effective("Hub access", "offline" if offline else "online",
                      "HF_HUB_OFFLINE" if offline else FROM_DEFAULT),
            hf_cache(environ), ollama_models(environ)]
