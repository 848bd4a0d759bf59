"""Downloads, conversions and re-quantizations as :class:`~llama_wrangler.work.Work` — built once, run in
the foreground by ``llama-wrangler pull / convert / quantize`` and as background jobs by the window
(:class:`~llama_wrangler.services.hub_actions.HubActions`). Qt-free.

Each piece of work reads the settings when it *runs*, so a token or registry saved while a job waited is
used; its ``persist`` description lets :meth:`HubWork.from_persisted` build it again after a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from llama_wrangler.convert.hf_snapshot import convert_repo
from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder, requantize
from llama_wrangler.errors import WranglerError
from llama_wrangler.library.origins import ConvertOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.runtime.locate import locate_runtime
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.settings import Settings
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HUB_LINK, parse_hf_input
from llama_wrangler.sources.hf_pull import PullOptions, pull, pull_choice
from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_pull import OllamaOptions
from llama_wrangler.sources.ollama_pull import pull as ollama_pull
from llama_wrangler.sources.ollama_registry import Manifest
from llama_wrangler.sources.pull_input import ollama_request_for
from llama_wrangler.sources.transfer import RangedParts
from llama_wrangler.work import JobKind, Work


class PersistType(StrEnum):
    """What a persisted job was, in ``jobs.json`` (the strings are on disk: never change them)."""

    HF_PULL = "hf-pull"
    OLLAMA_PULL = "ollama-pull"
    HF_CONVERT = "hf-convert"
    QUANTIZE = "quantize"


RuntimeFactory = Callable[[], LlamaRuntime]


class HubWork:
    """Builds the work with the session's paths, settings and library."""

    def __init__(self, paths: AppPaths, settings: Callable[[], Settings], library: Library, *,
                 runtime: RuntimeFactory | None = None) -> None:
        self.paths = paths
        self._settings = settings
        self.library = library
        self._runtime = runtime or (lambda: locate_runtime(self._settings(), self.paths))

    def access(self) -> HubAccess:
        return HubAccess.from_settings(self._settings().downloads)

    def pull_options(self) -> PullOptions:
        settings = self._settings()
        return PullOptions(self.access(), retries=settings.downloads.retries,
                           context=settings.server.context_size, connections=settings.downloads.connections,
                           stall_s=settings.downloads.stall_s)

    def ranged(self) -> RangedParts:
        """Parallel parts per file as the settings say (``downloads.connections``, ``stall_s``)."""
        downloads = self._settings().downloads
        return RangedParts(downloads.connections, downloads.stall_s)

    def ollama_options(self) -> OllamaOptions:
        downloads = self._settings().downloads
        return OllamaOptions(downloads.ollama_registry.rstrip("/"), retries=downloads.retries,
                             connections=downloads.connections, stall_s=downloads.stall_s)

    # -- downloads -------------------------------------------------------------------------------------
    def pull(self, text: str) -> Work[ModelRecord]:
        """Download ``text``: anything :func:`parse_hf_input` accepts (repo, URL, ``hf:repo:QUANT``...) or an
        Ollama name such as ``ollama:llama3.2:1b``. Bad input raises here, before any work exists."""
        ollama = ollama_request_for(text)
        if ollama is not None:
            return self.pull_ollama(ollama)
        request = parse_hf_input(text)

        def run(progress: ProgressCallback, cancel: CancelToken) -> ModelRecord:
            return pull(request, paths=self.paths, library=self.library, options=self.pull_options(),
                        progress=progress, cancel=cancel)

        return Work(JobKind.DOWNLOAD, f"Download {request.display}", run,
                    persist={"type": PersistType.HF_PULL.value, "input": text})

    def download(self, listing: RepoListing, choice: QuantChoice) -> Work[ModelRecord]:
        """Download ``choice`` from a listing already looked up, pinned to the commit the listing saw."""
        pinned = f"{HUB_LINK}/{listing.repo_id}/blob/{listing.commit}/{choice.files[0].path}"

        def run(progress: ProgressCallback, cancel: CancelToken) -> ModelRecord:
            return pull_choice(listing, choice, paths=self.paths, library=self.library,
                               options=self.pull_options(), progress=progress, cancel=cancel)

        return Work(JobKind.DOWNLOAD, f"{listing.repo_id} · {choice.quant}", run,
                    persist={"type": PersistType.HF_PULL.value, "input": pinned})

    def pull_ollama(self, request: OllamaRequest, *, manifest: Manifest | None = None) -> Work[ModelRecord]:
        """Download an Ollama model (``manifest`` when the caller has fetched it already)."""

        def run(progress: ProgressCallback, cancel: CancelToken) -> ModelRecord:
            return ollama_pull(request, paths=self.paths, library=self.library, options=self.ollama_options(),
                               progress=progress, cancel=cancel, manifest=manifest)

        return Work(JobKind.DOWNLOAD, f"Download {request.display}", run,
                    persist={"type": PersistType.OLLAMA_PULL.value, "input": request.display})

    # -- conversions -----------------------------------------------------------------------------------
    def convert(self, source: str, *, quant: str | None = None, outtype: str = "f16") -> Work[ModelRecord]:
        """Convert a local HF folder or a Hub repo to a quantized GGUF."""
        settings = self._settings()
        chosen = (quant or settings.downloads.default_quant).upper()
        folder = Path(source).expanduser()
        request = None if folder.is_dir() else parse_hf_input(source)

        def run(progress: ProgressCallback, cancel: CancelToken) -> ModelRecord:
            options = ConvertOptions(self._runtime(), chosen, outtype)
            if request is None:
                return convert_folder(folder, options=options, paths=self.paths, library=self.library,
                                      progress=progress, cancel=cancel)
            return convert_repo(request, access=self.access(), options=options, paths=self.paths,
                                library=self.library, retries=self._settings().downloads.retries,
                                ranged=self.ranged(), progress=progress, cancel=cancel)

        name = folder.name if request is None else request.repo_id
        return Work(JobKind.CONVERT, f"Convert {name} to {chosen}", run,
                    persist={"type": PersistType.HF_CONVERT.value, "source": source, "quant": chosen,
                             "outtype": outtype})

    def quantize(self, model: Path, quant: str, *, origin: ConvertOrigin | None = None,
                 title: str | None = None) -> Work[ModelRecord]:
        """Make ``quant`` from an F16/BF16 GGUF."""

        def run(progress: ProgressCallback, cancel: CancelToken) -> ModelRecord:
            return requantize(model, quant, runtime=self._runtime(), paths=self.paths, library=self.library,
                              origin=origin, progress=progress, cancel=cancel)

        return Work(JobKind.CONVERT, title or f"Quantize {model.name} to {quant.upper()}", run,
                    persist={"type": PersistType.QUANTIZE.value, "model": str(model), "quant": quant})

    # -- after a restart -------------------------------------------------------------------------------
    def from_persisted(self, entry: Mapping[str, Any]) -> Work[ModelRecord] | None:
        """The work a persisted job described; None for what we do not (or no longer) accept."""
        spec = entry.get("persist") or {}
        kind = spec.get("type")
        try:
            if kind in (PersistType.HF_PULL, PersistType.OLLAMA_PULL):
                return self.pull(str(spec["input"]))
            if kind == PersistType.HF_CONVERT:
                return self.convert(str(spec["source"]), quant=str(spec["quant"]),
                                    outtype=str(spec.get("outtype", "f16")))
            if kind == PersistType.QUANTIZE:
                return self.quantize(Path(str(spec["model"])), str(spec["quant"]))
        except (KeyError, ValueError, TypeError, WranglerError):
            return None  # a stale entry (input we no longer accept) is dropped, not a crash at start-up
        return None
