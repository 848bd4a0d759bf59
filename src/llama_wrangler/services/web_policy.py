"""Where the in-app browser may go, decided in one place (Qt-free, so it is tested without a web engine).

Every navigation of the Hugging Face and Ollama tabs — a click, a typed address, a redirect, a
``target=_blank`` window, a URL handed over by ``llama-wrangler open`` — gets one :class:`Decision`:

- the configured Hugging Face endpoint and the Ollama site are *trusted*: they load, with our bridge;
- Hugging Face's download CDN hosts are *allowed*: they load, without the bridge;
- a ``/resolve/`` link to a ``.gguf`` file on the hub is *captured*: it becomes our resumable, verified
  download instead of the browser's;
- ``lmstudio://`` and ``jan://`` links (Hugging Face's "Use this model" menu) are *app links*: also our
  download, and never handed to the desktop (Qt would open an unknown scheme with the OS handler);
- any other http(s) page opens in the system browser; everything else (``file:``, ``javascript:``...)
  is refused.

The endpoints come from the settings, so tests point the tabs at loopback servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

from llama_wrangler.errors import InputParseError
from llama_wrangler.settings import Settings
from llama_wrangler.settings_env import hf_endpoint
from llama_wrangler.sources.hf_input import HUB_LINK

APP_SCHEME = "llama-wrangler"
# Hugging Face serves large files from these (cdn-lfs.huggingface.co, cas-bridge.xethub.hf.co...).
HF_CDN_SUFFIXES = (".huggingface.co", ".hf.co")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# First path segments of huggingface.co that are not ORG/REPO model pages.
HF_RESERVED = frozenset({"datasets", "spaces", "docs", "api", "settings", "models", "collections", "login",
                         "join", "pricing", "organizations", "papers", "blog", "learn", "tasks", "chat",
                         "enterprise", "new", "new-dataset", "new-space", "notifications", "posts"})


class Site(StrEnum):
    HF = "hf"
    OLLAMA = "ollama"


class Verdict(StrEnum):
    TRUSTED = "trusted"  # load, with the bridge
    ALLOWED = "allowed"  # load, without the bridge
    CAPTURE = "capture"  # a model file: our download job instead of the browser's
    APP_LINK = "app-link"  # lmstudio:// or jan://: our download, never the OS
    EXTERNAL = "external"  # the system browser
    REFUSED = "refused"  # nothing at all


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    site: Site | None = None  # the trusted site (TRUSTED), or the one a download belongs to
    reference: str | None = None  # CAPTURE / APP_LINK: what to hand to the pull parsers
    reason: str = ""


@dataclass(frozen=True)
class WebOrigin:
    """Scheme, host and port: what "same origin" compares."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> WebOrigin | None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        return cls(scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80))

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def is_loopback(self) -> bool:
        return self.host in _LOOPBACK


class BrowsePolicy:
    """The rules for the Hugging Face and Ollama tabs."""

    def __init__(self, hf_endpoint: str, ollama_site: str) -> None:
        hf = WebOrigin.of(hf_endpoint)
        ollama = WebOrigin.of(ollama_site)
        if hf is None or ollama is None:
            raise InputParseError(f"{hf_endpoint!r} or {ollama_site!r} is not an http(s) address.")
        self.hf = hf
        self.ollama = ollama
        # The real hub's CDN; a loopback hub in tests serves everything from its own origin.
        self._cdn = hf.host in ("huggingface.co", "hf.co") and hf.scheme == "https"

    @classmethod
    def from_settings(cls, settings: Settings) -> BrowsePolicy:
        # The Hub the app downloads from: our setting, else HF_ENDPOINT, else huggingface.co.
        return cls(hf_endpoint(settings.downloads).value, settings.downloads.ollama_site or "https://ollama.com")

    def home(self, site: Site) -> str:
        return (self.hf if site == Site.HF else self.ollama).url + ("/models?library=gguf" if site == Site.HF
                                                                    else "/library")

    def trusted_site(self, url: str) -> Site | None:
        """The site whose origin ``url`` is exactly on (the bridge's test), or None."""
        origin = WebOrigin.of(url)
        if origin == self.hf:
            return Site.HF
        if origin is not None and (origin == self.ollama or self._is_www(origin, self.ollama)):
            return Site.OLLAMA
        return None

    def decide(self, url: str, *, main_frame: bool = True) -> Decision:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("lmstudio", "jan"):
            return self._app_link(url)
        if scheme in ("about", "data", "blob") and not main_frame:
            return Decision(Verdict.ALLOWED, reason="an inline frame of the page")
        if scheme not in ("http", "https"):
            return Decision(Verdict.REFUSED, reason=f"{scheme or 'this'}: links do not open here")
        site = self.trusted_site(url)
        if site == Site.HF:
            reference = hf_file_link(self.hf, url)
            if reference is not None:
                return Decision(Verdict.CAPTURE, Site.HF, reference)
            if main_frame and _is_resolve(url):
                # Any other raw file would be the browser's own download, which we never keep.
                return Decision(Verdict.REFUSED, Site.HF, reason="only model files (.gguf) are downloaded here")
            return Decision(Verdict.TRUSTED, Site.HF)
        if site == Site.OLLAMA:
            return Decision(Verdict.TRUSTED, Site.OLLAMA)
        origin = WebOrigin.of(url)
        if origin is not None and self._cdn and origin.scheme == "https" and origin.host.endswith(HF_CDN_SUFFIXES):
            return Decision(Verdict.ALLOWED, Site.HF, reason="Hugging Face's download servers")
        if not main_frame:
            return Decision(Verdict.REFUSED, reason="frames from other sites are not loaded")
        return Decision(Verdict.EXTERNAL, reason="not Hugging Face or Ollama")

    def _app_link(self, url: str) -> Decision:
        reference = app_link_reference(url)
        if reference is None:
            return Decision(Verdict.REFUSED, reason="a link for another app that names no model")
        return Decision(Verdict.APP_LINK, Site.HF, reference)

    @staticmethod
    def _is_www(origin: WebOrigin, site: WebOrigin) -> bool:
        return origin.scheme == site.scheme and origin.port == site.port and origin.host == f"www.{site.host}"

    def open_target(self, text: str) -> str:
        """The page ``llama-wrangler open`` (or a ``llama-wrangler://`` link) asks for, as a URL on a trusted
        site; :class:`InputParseError` for anything else."""
        raw = text.strip()
        parts = urlsplit(raw)
        if parts.scheme.lower() == APP_SCHEME:
            raw = self._from_app_scheme(raw)
        decision = self.decide(raw)
        if decision.verdict in (Verdict.TRUSTED, Verdict.CAPTURE):
            return raw
        raise InputParseError(f"{text!r} is not a Hugging Face or Ollama page, so it is not opened here.",
                              hint=f"Pages under {self.hf.url} and {self.ollama.url} open in the app.")

    def _from_app_scheme(self, url: str) -> str:
        """``llama-wrangler://open?url=URL``, ``llama-wrangler://hf/ORG/REPO...`` or
        ``llama-wrangler://ollama/library/NAME...``."""
        parts = urlsplit(url)
        where = (parts.hostname or "").lower()
        if where == "open":
            values = parse_qs(parts.query).get("url") or [""]
            return values[0]
        base = {"hf": self.hf.url, "ollama": self.ollama.url}.get(where)
        if base is None:
            raise InputParseError(f"{url!r}: expected llama-wrangler://hf/..., llama-wrangler://ollama/... or "
                                  "llama-wrangler://open?url=...")
        return base + (parts.path or "/")


class ChatPolicy:
    """The Chat page: only the stable endpoint on a loopback address; other links go to the system browser."""

    def __init__(self, endpoint_url: str) -> None:
        origin = WebOrigin.of(endpoint_url)
        self.origin = origin if origin is not None and origin.is_loopback else None

    def decide(self, url: str, *, main_frame: bool = True) -> Decision:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("about", "data", "blob") and not main_frame:
            return Decision(Verdict.ALLOWED, reason="an inline frame of the page")
        if self.origin is not None and WebOrigin.of(url) == self.origin:
            return Decision(Verdict.TRUSTED)
        if scheme in ("http", "https") and main_frame:
            return Decision(Verdict.EXTERNAL, reason="not the local endpoint")
        return Decision(Verdict.REFUSED, reason="only the local endpoint loads in the Chat page")


def hf_file_link(hub: WebOrigin, url: str) -> str | None:
    """The pull reference of a ``/ORG/REPO/resolve/REV/PATH.gguf`` link on the hub (``?download=true``
    or not), as a huggingface.co link the strict parser reads; None for any other URL."""
    parts = urlsplit(url)
    if WebOrigin.of(url) != hub:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) < 5 or segments[2] != "resolve" or not segments[-1].lower().endswith(".gguf"):
        return None
    return f"{HUB_LINK}/{parts.path.lstrip('/')}"


def _is_resolve(url: str) -> bool:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return len(segments) >= 5 and segments[2] == "resolve"


def app_link_reference(url: str) -> str | None:
    """``lmstudio://open_from_hf?model=ORG/REPO[&file=PATH]`` or ``jan://models/huggingface/ORG/REPO``
    as an ``hf:`` reference (still unchecked: the caller parses it strictly); None when it names no model."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "lmstudio":
        query = parse_qs(parts.query)
        model = (query.get("model") or [""])[0]
        file = (query.get("file") or [""])[0]
        if not model:
            return None
        return f"hf:{model}/{file}" if file else f"hf:{model}"
    if scheme == "jan":
        segments = [unquote(s) for s in ((parts.hostname or "") + parts.path).split("/") if s]
        if len(segments) >= 4 and segments[:2] == ["models", "huggingface"]:
            return "hf:" + "/".join(segments[2:4])
        return None
    return None

