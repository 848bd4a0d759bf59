"""Get a GGUF from the Hub into the library: pick the choice, check disk, fetch every file, verify,
register once (Qt-free; the GUI runs it in a job, the CLI in the foreground)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from llama_wrangler.errors import InputParseError, SourceError
from llama_wrangler.library.origins import HfOrigin, ModelSource
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.disk import check_disk_space, same_filesystem
from llama_wrangler.sources.hf_download import (
    ByteMeter,
    FileDownloader,
    RemoteFile,
    resolve_remote_file,
    target_path,
)
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_input import HfRequest
from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing, inspect_repo
from llama_wrangler.sources.machine import MachineResources
from llama_wrangler.sources.partials import partial_size


@dataclass(frozen=True)
class PullOptions:
    access: HubAccess
    retries: int = 5
    context: int = 4096  # for the "fits this machine" estimate
    backoff_base_s: float = 0.5


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
                          f"(the smallest, {smallest.quant}, is {smallest.size / 1024**3:.1f} GiB).",
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
    if _already_have(library, targets, choice, listing.commit):
        # Already downloaded (a previous pull): registering again returns the existing record.
        return _register(library, targets, choice, origin)
    remotes = [resolve_remote_file(options.access, listing.repo_id, f.path, revision=listing.revision,
                                   commit=listing.commit, expected_sha256=f.sha256)
               for f in choice.files]
    on_disk = sum(partial_size(paths, r.download_id, r.size) for r in remotes)
    done_files = sum(r.size for r, t in zip(remotes, targets, strict=True) if _complete(paths, t, r))
    remaining = choice.size - on_disk - done_files
    check_disk_space(paths.downloads_dir, remaining)
    if not same_filesystem(paths.downloads_dir, library.models_dir):
        check_disk_space(library.models_dir, remaining + on_disk)  # the finished files are copied there
    downloader = FileDownloader(paths, options.access, retries=options.retries,
                                backoff_base_s=options.backoff_base_s)
    meter = ByteMeter(progress, choice.size, done_files, choice.name)
    group = tuple(f.path for f in choice.files)
    try:
        for remote, target in zip(remotes, targets, strict=True):
            if _complete(paths, target, remote):
                continue
            cancel.raise_if_cancelled()
            downloader.fetch(
                remote, target, meter=meter, cancel=cancel,
                sidecar={"quant": choice.quant, "group": list(group)},
                refresh=partial(resolve_remote_file, options.access, remote.repo_id, remote.path,
                                revision=remote.revision, commit=remote.commit,
                                expected_sha256=remote.sha256),
            )
            if len(remotes) > 1:
                _done_marker(paths, remote).write_text(str(target), encoding="utf-8")
    finally:
        downloader.close()
    record = _register(library, targets, choice, origin)
    for remote in remotes:
        _done_marker(paths, remote).unlink(missing_ok=True)
    return record


def _already_have(library: Library, targets: list[Path], choice: QuantChoice, commit: str) -> bool:
    """The files are in place from an earlier pull of the same content: same sizes, and the library
    knows them with the Hub's sha256 or from the same commit. A same-named file of another revision is
    downloaded again (it replaces the old one only once verified)."""
    if not all(t.is_file() and t.stat().st_size == f.size for t, f in zip(targets, choice.files, strict=True)):
        return False
    record = library.find_by_path(targets[0])
    if record is None:
        return False
    expected = choice.files[0].sha256
    same_commit = isinstance(record.origin, HfOrigin) and record.origin.revision == commit
    return same_commit or (expected is not None and record.sha256 == expected)


def _register(library: Library, targets: list[Path], choice: QuantChoice,
              origin: HfOrigin) -> ModelRecord:
    sha = choice.files[0].sha256 if len(targets) == 1 else None
    return library.register(targets, source=ModelSource.HF, owned=True, origin=origin, sha256=sha)


def _done_marker(paths: AppPaths, remote: RemoteFile) -> Path:
    return paths.downloads_dir / f"{remote.download_id}.done"


def _complete(paths: AppPaths, target: Path, remote: RemoteFile) -> bool:
    """A shard of a split set that an interrupted pull already fetched and verified (its marker names
    these exact bytes); any other file at the target is downloaded again."""
    marker = _done_marker(paths, remote)
    try:
        return (marker.read_text(encoding="utf-8") == str(target) and target.is_file()
                and target.stat().st_size == remote.size)
    except OSError:
        return False
