"""Files of a Hub repo as the transfer layer fetches them (Qt-free).

huggingface_hub gives us a file's URL and metadata (``get_hf_file_metadata``: size, LFS sha256, commit);
:mod:`llama_wrangler.sources.transfer` moves the bytes with ranged GETs because huggingface_hub's own download
cannot resume across app restarts. The token goes to the Hub's endpoint only, never to the CDN it redirects to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import get_hf_file_metadata, hf_hub_url

from llama_wrangler.errors import DownloadError
from llama_wrangler.paths import confined
from llama_wrangler.progress import CancelToken, ProgressCallback, ignore_progress
from llama_wrangler.sources.hf_errors import HubWording, hub_errors
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.transfer import (
    DownloadsFolder,
    FetchItem,
    FileDownloader,
    RangedParts,
    RemoteFile,
    RetryPolicy,
    fetch_files,
    open_client,
)
from llama_wrangler.sources.transfer.verify import is_sha256_hex


@dataclass(frozen=True)
class HubFile:
    """A file of ``repo_id`` at ``commit`` (the user asked for ``revision``) and where its bytes are."""

    access: HubAccess = field(repr=False)  # holds the token
    repo_id: str
    revision: str  # what the user asked for (branch, tag, commit)
    commit: str
    path: str  # path inside the repo
    etag: str | None
    remote: RemoteFile

    def describe(self) -> dict[str, object]:
        """What the partial's sidecar records (see :func:`~llama_wrangler.sources.partials.list_partials`)."""
        return {"repo_id": self.repo_id, "revision": self.revision, "commit": self.commit, "file": self.path,
                "etag": self.etag}

    def item(self, target: Path, extra: Mapping[str, object] | None = None) -> FetchItem:
        """This file as one item of :func:`~llama_wrangler.sources.transfer.fetch_files`; an expired CDN
        link is re-asked from the Hub at the same commit."""
        return FetchItem(self.remote, target, HubWording(self.repo_id, file=self.path, revision=self.revision),
                         describe={**self.describe(), **(extra or {})}, refresh=self._refreshed)

    def _refreshed(self) -> RemoteFile:
        return resolve_hub_file(self.access, self.repo_id, self.path, revision=self.revision,
                                commit=self.commit, expected_sha256=self.remote.sha256).remote


def resolve_hub_file(access: HubAccess, repo_id: str, path: str, *, revision: str, commit: str | None = None,
                     expected_sha256: str | None = None) -> HubFile:
    """Ask the Hub (through huggingface_hub) where ``path`` is and what it should hash to."""
    pinned = commit or revision
    access.check_online()
    url = hf_hub_url(repo_id, path, revision=pinned, endpoint=access.endpoint)
    with hub_errors(repo_id, file=path, revision=revision):
        meta = get_hf_file_metadata(url, token=access.token or False, endpoint=access.endpoint,
                                    retry_on_errors=True)
    etag = (meta.etag or "").strip('"') or None
    sha256 = expected_sha256
    if sha256 is None and is_sha256_hex(etag):
        sha256 = etag  # an LFS file's etag is its sha256
    if meta.size is None:
        raise DownloadError(f"The Hub did not say how big {path} is; cannot download it safely.")
    resolved = meta.commit_hash or pinned
    # The partial's identity: the same bytes of the same file, whatever revision named them.
    key = f"{repo_id}\n{path}\n{sha256 or etag or resolved}"
    remote = RemoteFile(url=meta.location, size=meta.size, name=path, sha256=sha256,
                        git_blob=None if sha256 else etag, auth_origin=access.endpoint, key=key)
    return HubFile(access, repo_id, revision, resolved, path, etag, remote)


def fetch_hub_files(access: HubAccess, items: Sequence[FetchItem], place: DownloadsFolder, *, retry: RetryPolicy,
                    ranged: RangedParts, label: str, progress: ProgressCallback = ignore_progress,
                    cancel: CancelToken | None = None) -> None:
    """Download ``items`` (from :meth:`HubFile.item`) into their targets over one client; the access's token
    goes to the Hub's endpoint only."""
    with open_client() as client:
        downloader = FileDownloader(place, token=access.token, client=client, retry=retry, ranged=ranged)
        fetch_files(downloader, items, label=label, progress=progress, cancel=cancel)


def target_path(models_dir: Path, repo_id: str, file: str) -> Path:
    """Where a repo file lands: ``models/<org>/<repo>/<path in repo>``; hostile names are refused."""
    return confined(models_dir, f"{repo_id}/{file}")
