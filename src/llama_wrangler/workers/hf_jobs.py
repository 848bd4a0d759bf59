"""Jobs for Hugging Face downloads, conversions and re-quantizations (the GUI's side of ``sources/`` and
``convert/``); a pull of an Ollama name is handed to :mod:`llama_wrangler.workers.ollama_jobs`.
Each job runs one Qt-free core function on a worker thread; its ``persist`` description
lets :func:`job_from_persisted` re-create it when the app starts again after an interruption."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llama_wrangler.convert.hf_snapshot import convert_repo
from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder, requantize
from llama_wrangler.errors import WranglerError
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.runtime.locate import LlamaRuntime, locate_runtime
from llama_wrangler.settings import Settings
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import parse_hf_input
from llama_wrangler.sources.hf_pull import PullOptions, pull
from llama_wrangler.sources.pull_input import ollama_request_for
from llama_wrangler.workers.jobs import Job
from llama_wrangler.workers.ollama_jobs import PERSIST_TYPE as OLLAMA_PULL
from llama_wrangler.workers.ollama_jobs import ollama_pull_job

DOWNLOAD = "download"
CONVERT = "convert"  # conversions and re-quantizations share one queue: both are CPU/disk heavy

RuntimeFactory = Callable[[], LlamaRuntime]


class HfJobs:
    """Builds jobs with the app's paths, settings and library (wired once in ``app.py``)."""

    def __init__(self, paths: AppPaths, settings: Settings, library: Library, *,
                 runtime: RuntimeFactory | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self.library = library
        self._runtime = runtime or (lambda: locate_runtime(self.settings, self.paths))

    def _access(self) -> HubAccess:
        # Read at run time, so a token saved in Settings while the job waited is used.
        return HubAccess.from_settings(self.settings.downloads)

    def pull(self, text: str) -> Job:
        """Download ``text`` (any form :func:`parse_hf_input` accepts: repo, URL, hf:repo:QUANT...; or an
        Ollama name such as ``ollama:llama3.2:1b``)."""
        ollama = ollama_request_for(text)
        if ollama is not None:
            return ollama_pull_job(ollama, paths=self.paths, library=self.library, settings=lambda: self.settings)
        request = parse_hf_input(text)  # bad input fails here, before a job exists

        def work(progress: ProgressCallback, cancel: CancelToken) -> object:
            downloads = self.settings.downloads
            options = PullOptions(self._access(), retries=downloads.retries,
                                  context=self.settings.server.context_size)
            return pull(request, paths=self.paths, library=self.library, options=options,
                        progress=progress, cancel=cancel)

        return Job(DOWNLOAD, f"Download {request.display}", work, persist={"type": "hf-pull", "input": text})

    def convert(self, source: str, *, quant: str | None = None, outtype: str = "f16") -> Job:
        """Convert a local HF folder or a Hub repo to a quantized GGUF."""
        chosen = (quant or self.settings.downloads.default_quant).upper()
        folder = Path(source).expanduser()
        local = folder.is_dir()
        request = None if local else parse_hf_input(source)

        def work(progress: ProgressCallback, cancel: CancelToken) -> object:
            options = ConvertOptions(self._runtime(), chosen, outtype)
            if request is None:
                return convert_folder(folder, options=options, paths=self.paths, library=self.library,
                                      progress=progress, cancel=cancel)
            return convert_repo(request, access=self._access(), options=options, paths=self.paths,
                                library=self.library, retries=self.settings.downloads.retries,
                                progress=progress, cancel=cancel)

        name = folder.name if local else request.repo_id if request else source
        return Job(CONVERT, f"Convert {name} to {chosen}", work,
                   persist={"type": "hf-convert", "source": source, "quant": chosen, "outtype": outtype})

    def quantize(self, model: Path, quant: str) -> Job:
        """Make ``quant`` from an F16/BF16 GGUF."""

        def work(progress: ProgressCallback, cancel: CancelToken) -> object:
            return requantize(model, quant, runtime=self._runtime(), paths=self.paths, library=self.library,
                              progress=progress, cancel=cancel)

        return Job(CONVERT, f"Quantize {model.name} to {quant.upper()}", work,
                   persist={"type": "quantize", "model": str(model), "quant": quant})

    def from_persisted(self, entry: Mapping[str, Any]) -> Job | None:
        """Re-create a job from a :meth:`JobManager.interrupted` entry; None for what we do not know."""
        spec = entry.get("persist") or {}
        kind = spec.get("type")
        try:
            if kind in ("hf-pull", OLLAMA_PULL):
                return self.pull(str(spec["input"]))
            if kind == "hf-convert":
                return self.convert(str(spec["source"]), quant=str(spec["quant"]),
                                    outtype=str(spec.get("outtype", "f16")))
            if kind == "quantize":
                return self.quantize(Path(str(spec["model"])), str(spec["quant"]))
        except (KeyError, ValueError, TypeError, WranglerError):
            return None  # a stale entry (input we no longer accept) is dropped, not a crash at start-up
        return None
