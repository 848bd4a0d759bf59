"""Get a GGUF from the Hub into the library: pick the choice, check disk, fetch every file, verify,
register once (Qt-free; the GUI runs it in a job, the CLI in the foreground)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llama_wrangler.errors import InputParseError, SourceError
from llama_wrangler.library.origins import HfOrigin, ModelSource
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.hf_files import fetch_hub_files, resolve_hub_file, target_path
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HfRequest
from llama_wrangler.sources.hf_repo import QuantChoice, RepoEntry, RepoListing, inspect_repo
from llama_wrangler.sources.machine import MachineResources
from llama_wrangler.sources.transfer import (
    DEFAULT_PARTS,
    DEFAULT_STALL_S,
    DownloadsFolder,
    RangedParts,
    RetryPolicy,
    forget_done,
)
from llama_wrangler.units import human_bytes


@dataclass(frozen=True)
class PullOptions:
    access: HubAccess
    retries: int = 5
    context: int = 4096  # for the "fits this machine" estimate
    backoff_base_s: float = 0.5
    connections: int = DEFAULT_PARTS  # per file (settings ``downloads.connections``)
    stall_s: float = DEFAULT_STALL_S
    with_projector: bool = True  # a vision model's mmproj comes with it


def choose(listing: RepoListing, request: HfRequest) -> QuantChoice:
    """The choice a request names: a file (any shard picks its set), a quant, or the recommended one."""
    if request.file:
        return listing.file_choice(request.file)
    if request.quant:
        return listing.choice(request.quant)
    if not listing.choices:
        if listing.convertible:
            raise SourceError(f"{listing.repo_id} has no GGUF files, but it is a safetensors model.",
                              hint=f"Convert it instead: llama-wrangler convert {listing.repo_id}")
        raise SourceError(f"{listing.repo_id} has no GGUF files and nothing we can convert.")
    if listing.recommended is None:
        smallest = listing.choices[0]
        raise SourceError(f"None of {listing.repo_id}'s quants fits this machine's memory "
                          f"(the smallest, {smallest.quant}, is {human_bytes(smallest.size)}).",
                          hint=f"Name one to download it anyway, e.g. hf:{listing.repo_id}:{smallest.quant}")
    return listing.recommended


def pull(request: HfRequest, *, paths: AppPaths, library: Library, options: PullOptions,
         progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None,
         machine: MachineResources | None = None) -> ModelRecord:
    """Inspect the repo, pick the choice the request names, download and register it."""
    listing = inspect_repo(request, options.access, machine=machine, context=options.context)
    if request.folder and not request.file and not request.quant:
        in_folder = [c for c in listing.choices if c.files[0].path.startswith(request.folder + "/")]
        if len(in_folder) == 1:
            return pull_choice(listing, in_folder[0], paths=paths, library=library, options=options,
                               progress=progress, cancel=cancel)
    return pull_choice(listing, choose(listing, request), paths=paths, library=library, options=options,
                       progress=progress, cancel=cancel)


def pull_choice(listing: RepoListing, choice: QuantChoice, *, paths: AppPaths, library: Library,
                options: PullOptions, progress: ProgressCallback = ignore_progress,
                cancel: CancelToken | None = None) -> ModelRecord:
    """Download every file of ``choice`` (all shards) and register the model once."""
    cancel = cancel or CancelToken()
    if not choice.files:
        raise InputParseError("Nothing to download.")
    targets = [target_path(library.models_dir, listing.repo_id, f.path) for f in choice.files]
    origin = HfOrigin(repo=listing.repo_id, revision=listing.commit, files=tuple(f.path for f in choice.files),
                      quant=choice.quant)
    projector = listing.projector_for(choice) if options.with_projector else None
    files = [*choice.files, *(projector.files if projector is not None else ())]
    if projector is not None:  # a vision model: its projector comes with it, beside it
        targets.append(target_path(library.models_dir, listing.repo_id, projector.files[0].path))
    mmproj = targets[len(choice.files)] if projector is not None else None
    if _already_have(library, targets, files, choice, listing.commit):
        # Already downloaded (a previous pull): registering again returns the existing record.
        return _register(library, targets[:len(choice.files)], choice, origin, mmproj)
    group = [f.path for f in choice.files]
    items = [resolve_hub_file(options.access, listing.repo_id, f.path, revision=listing.revision,
                              commit=listing.commit, expected_sha256=f.sha256)
             .item(target, {"quant": choice.quant, "group": group})
             for f, target in zip(files, targets, strict=True)]
    place = DownloadsFolder(paths)
    fetch_hub_files(options.access, items, place, retry=RetryPolicy(options.retries, options.backoff_base_s),
                    ranged=RangedParts(options.connections, options.stall_s), label=choice.name,
                    progress=progress, cancel=cancel)
    record = _register(library, targets[:len(choice.files)], choice, origin, mmproj)
    forget_done(place, items)
    return record


def _already_have(library: Library, targets: list[Path], files: list[RepoEntry], choice: QuantChoice,
                  commit: str) -> bool:
    """The files are in place from an earlier pull of the same content: same sizes, and the library
    knows them with the Hub's sha256 or from the same commit. A same-named file of another revision is
    downloaded again (it replaces the old one only once verified)."""
    if not all(t.is_file() and t.stat().st_size == f.size for t, f in zip(targets, files, strict=True)):
        return False
    record = library.find_by_path(targets[0])
    if record is None:
        return False
    expected = choice.files[0].sha256
    same_commit = isinstance(record.origin, HfOrigin) and record.origin.revision == commit
    return same_commit or (expected is not None and record.sha256 == expected)


def _register(library: Library, targets: list[Path], choice: QuantChoice, origin: HfOrigin,
              mmproj: Path | None) -> ModelRecord:
    sha = choice.files[0].sha256 if len(targets) == 1 else None
    return library.register(targets, source=ModelSource.HF, owned=True, origin=origin, sha256=sha,
                            mmproj=mmproj)
