"""Convert a safetensors repo from the Hub: fetch only what the converter needs, then the pipeline."""

from __future__ import annotations

import uuid

from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder, work_dir
from llama_wrangler.errors import ConversionError
from llama_wrangler.library.origins import ConvertOrigin
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths, confined
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.disk import check_disk_space
from llama_wrangler.sources.hf_files import fetch_hub_files, resolve_hub_file
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HfRequest
from llama_wrangler.sources.hf_repo import inspect_repo
from llama_wrangler.sources.machine import MachineResources
from llama_wrangler.sources.partials import discard_partial
from llama_wrangler.sources.transfer import (
    DownloadsFolder,
    FetchItem,
    RangedParts,
    RetryPolicy,
    forget_done,
)


def convert_repo(request: HfRequest, *, access: HubAccess, options: ConvertOptions, paths: AppPaths,
                 library: Library, retries: int = 5, backoff_base_s: float = 0.5,
                 ranged: RangedParts | None = None, progress: ProgressCallback = ignore_progress,
                 cancel: CancelToken | None = None,
                 machine: MachineResources | None = None) -> ModelRecord:
    """Download config, tokenizer and weights of ``request``'s repo into a scratch folder, convert and
    quantize them, register the result with the repo, revision and files in its origin."""
    options = options.checked()
    cancel = cancel or CancelToken()
    listing = inspect_repo(request, access, machine=machine or MachineResources(ram_bytes=0))
    if not listing.convertible:
        hint = f"It has GGUF files: llama-wrangler pull hf:{listing.repo_id}" if listing.choices else None
        raise ConversionError(f"{listing.repo_id} has no safetensors weights with a config.json to convert.",
                              hint=hint)
    needed = listing.conversion_files()
    job = uuid.uuid4().hex[:12]
    place = DownloadsFolder(paths)
    items: list[FetchItem] = []
    try:
        with work_dir(paths, job) as work:
            snapshot = work / listing.repo_id.split("/")[1]
            total = sum(f.size for f in needed)
            check_disk_space(work, 3 * total)  # snapshot + f16 intermediate + output
            for entry in needed:
                hub_file = resolve_hub_file(access, listing.repo_id, entry.path, revision=listing.revision,
                                            commit=listing.commit, expected_sha256=entry.sha256)
                items.append(hub_file.item(confined(snapshot, entry.path)))
            fetch_hub_files(access, items, place, retry=RetryPolicy(retries, backoff_base_s),
                            ranged=ranged or RangedParts(), label=f"{listing.repo_id} (for conversion)",
                            progress=progress, cancel=cancel)
            origin = ConvertOrigin(repo=listing.repo_id, revision=listing.commit,
                                   files=tuple(f.path for f in needed if f.path.endswith(".safetensors")))
            return convert_folder(snapshot, options=options, paths=paths, library=library,
                                  name=listing.repo_id.split("/")[1], origin=origin,
                                  destination=listing.repo_id, progress=progress, cancel=cancel,
                                  job_id=f"{job}-build")
    finally:
        # Conversion inputs are intermediates: no half-downloaded weights (nor set markers) stay behind.
        forget_done(place, items)
        for item in items:
            discard_partial(paths, item.remote.download_id)
