"""The GUI's job for an Ollama registry pull (the Qt-free work is
:func:`llama_wrangler.sources.ollama_pull.pull`). Its ``persist`` description lets an interrupted pull be
queued again on the next start; the partial file makes it a resume."""

from __future__ import annotations

from collections.abc import Callable

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback
from llama_wrangler.settings import Settings
from llama_wrangler.sources.ollama_input import OllamaRequest
from llama_wrangler.sources.ollama_pull import OllamaOptions, pull
from llama_wrangler.workers.jobs import Job

DOWNLOAD = "download"  # the same queue as Hugging Face downloads: both are network-bound
PERSIST_TYPE = "ollama-pull"


def ollama_pull_job(request: OllamaRequest, *, paths: AppPaths, library: Library,
                    settings: Callable[[], Settings]) -> Job:
    """A download job for ``request``; ``settings`` is read when it runs, so a registry address changed
    while the job waited is used."""

    def work(progress: ProgressCallback, cancel: CancelToken) -> object:
        downloads = settings().downloads
        options = OllamaOptions(downloads.ollama_registry.rstrip("/"), retries=downloads.retries)
        return pull(request, paths=paths, library=library, options=options, progress=progress, cancel=cancel)

    return Job(DOWNLOAD, f"Download {request.display}", work,
               persist={"type": PERSIST_TYPE, "input": request.display})
