"""A loopback Hugging Face Hub that speaks enough of the real protocol for ``huggingface_hub`` and our
downloader, and can misbehave on demand.

Endpoints (see docs/TESTING.md "Loopback servers"):

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` -> ``id``, ``sha``, ``siblings``;
- ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=true`` -> files and directories;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` -> ``X-Repo-Commit``, ``ETag``, ``Content-Length``; LFS
  files answer 302 to a "CDN" path on the same server with ``X-Linked-Size``/``X-Linked-Etag``, like the
  real hub; ``GET /cdn/...`` honours ``Range`` (206 + ``Content-Range``).
- ``GET /api/models?search=…&filter=gguf&sort=downloads|trendingScore&limit=N`` -> matching public repos
  (:mod:`tests.support.fake_hub_search`; popularity set with :meth:`FakeHub.set_stats`);
- errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``).

Faults are queued per file path with :meth:`FakeHub.add_fault` and consumed one per GET of that file:
``Fault.cut(n)`` sends ``n`` bytes then drops the connection, ``Fault.corrupt()`` flips bytes,
``Fault.status(500|429, retry_after=...)`` answers with an error, ``Fault.slow(bytes_per_s)`` throttles,
``Fault.stall(n, seconds)`` sends ``n`` bytes then goes quiet. ``hub.state.ignore_range`` makes it a server
without ``Range`` (every GET gets the whole file).
Big files can be served from disk (``Path`` contents) with ``os.sendfile`` so the server is never the
bottleneck of a benchmark.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.support.fake_hub_search import search_models
from tests.support.loopback import Fault, FaultState, LoopbackServers, QuietHandler

LFS_THRESHOLD = 1024  # files at least this big are "LFS" files (sha256 published, CDN redirect)
CHUNK = 1 << 20


@dataclass
class HubFile:
    path: str
    size: int
    sha256: str
    git_oid: str
    data: bytes | None = None
    source: Path | None = None

    @property
    def is_lfs(self) -> bool:
        return self.size >= LFS_THRESHOLD

    @property
    def etag(self) -> str:
        return self.sha256 if self.is_lfs else self.git_oid


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, HubFile]
    sha: str
    refs: dict[str, str]
    gated: bool = False
    private: bool = False
    downloads: int = 0
    likes: int = 0
    trending: float = 0.0


@dataclass
class RequestRecord:
    method: str
    path: str
    range: str | None
    status: int
    authorization: str | None


@dataclass
class _State(FaultState):
    repos: dict[str, HubRepo] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    requests: list[RequestRecord] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cdn_base: str = ""
    pages: dict[str, bytes] = field(default_factory=dict)  # path -> HTML (browser tab tests)
    ignore_range: bool = False  # answer every GET with the whole file (a server without Range)
    connection_cap: int = 0  # bytes/s per connection for files served by sendfile (0: no cap), like a CDN


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK * 4):
            digest.update(chunk)
    return digest.hexdigest()


class FakeHub(LoopbackServers):
    """Start with ``with FakeHub() as hub:``; ``hub.endpoint`` is the base URL to give huggingface_hub."""

    state: _State

    def __init__(self) -> None:
        # Two origins, like the real hub and its CDN: huggingface_hub follows same-origin redirects but
        # stops at a foreign one and reads the file metadata from the redirect itself.
        super().__init__(_Handler, _State(), ("hub", "cdn"), "fake-hub")
        for kind in ("hub", "cdn"):
            # Large socket buffers so a local benchmark measures the client, not this server.
            self._server(kind).socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.state.cdn_base = self._url("cdn")

    @property
    def endpoint(self) -> str:
        return self._url("hub")

    # -- content -----------------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: Mapping[str, bytes | Path], *, gated: bool = False,
                 private: bool = False, sha256: Mapping[str, str] | None = None,
                 refs: Mapping[str, str] | None = None) -> HubRepo:
        """Publish a repo. ``files`` maps repo paths to bytes or to a file on disk (served by sendfile).
        ``sha256`` lets a caller publish a precomputed (or deliberately wrong) LFS checksum."""
        entries: dict[str, HubFile] = {}
        for path, content in files.items():
            if isinstance(content, Path):
                size = content.stat().st_size
                digest = (sha256 or {}).get(path) or _sha256_file(content)
                # Small files are plain git files: their etag is the real git blob id.
                oid = (_git_oid(content.read_bytes()) if size < LFS_THRESHOLD else
                       hashlib.sha1(f"{path}:{digest}".encode(), usedforsecurity=False).hexdigest())
                entries[path] = HubFile(path, size, digest, oid, source=content)
            else:
                digest = (sha256 or {}).get(path) or hashlib.sha256(content).hexdigest()
                entries[path] = HubFile(path, len(content), digest, _git_oid(content), data=content)
        content_ids = sorted((path, entry.sha256) for path, entry in entries.items())
        commit = hashlib.sha1(repo_id.encode() + json.dumps(content_ids).encode(),
                              usedforsecurity=False).hexdigest()
        repo = HubRepo(repo_id, entries, commit, {"main": commit, **(refs or {})}, gated, private)
        with self.state.lock:
            self.state.repos[repo_id] = repo
        return repo

    def set_stats(self, repo_id: str, *, downloads: int = 0, likes: int = 0, trending: float = 0.0) -> None:
        """Popularity the search API reports and sorts by."""
        with self.state.lock:
            repo = self.state.repos[repo_id]
            repo.downloads, repo.likes, repo.trending = downloads, likes, trending

    def add_token(self, token: str) -> None:
        """A token that may read gated and private repos."""
        self.state.tokens.add(token)

    def bytes_sent(self, path: str) -> int:
        """Body bytes sent for GETs of ``path`` (a repo file path) so far."""
        with self.state.lock:
            return self.state.bytes_sent[path]

    def requests(self, method: str | None = None) -> list[RequestRecord]:
        with self.state.lock:
            return [r for r in self.state.requests if method is None or r.method == method]

    def add_page(self, path: str, html: str) -> None:
        """Serve ``html`` at ``path`` (a web page shaped like the hub's, for the browser tab's tests)."""
        with self.state.lock:
            self.state.pages[path] = html.encode()

    def reset_counters(self) -> None:
        with self.state.lock:
            self.state.requests.clear()
            self.state.bytes_sent.clear()


class _Handler(QuietHandler):
    server_version = "FakeHub/1.0"

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined, no-any-return]

    # -- routing -----------------------------------------------------------------------------------------
    def _dispatch(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        segments = [unquote(s) for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        try:
            if segments == ["api", "models"]:
                self._json(search_models(self.state.repos, query))
            elif segments[:2] == ["api", "models"] and len(segments) >= 4:
                self._api(segments[2:], query)
            elif segments and segments[0] == "cdn" and len(segments) >= 4:
                self._cdn(segments[1:], head=head)
            elif len(segments) >= 5 and segments[2] == "resolve":
                self._resolve(segments, head=head)
            elif url.path in self.state.pages:
                self._page(self.state.pages[url.path], head=head)
            else:
                self._error(404, "EntryNotFound", "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _record(self, status: int) -> None:
        with self.state.lock:
            self.state.requests.append(RequestRecord(self.command, self.path, self.headers.get("Range"),
                                                     status, self.headers.get("Authorization")))

    def _authorised(self, repo: HubRepo) -> bool | None:
        """True: token accepted; False: a token that is not allowed; None: no token."""
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            return None
        return header[len("Bearer "):] in self.state.tokens

    def _repo(self, org: str, name: str) -> HubRepo | None:
        repo = self.state.repos.get(f"{org}/{name}")
        if repo is None or (repo.private and not self._authorised(repo)):
            self._error(401 if repo is not None or self.headers.get("Authorization") is None else 404,
                        "RepoNotFound", "Repository not found")
            return None
        return repo

    def _revision(self, repo: HubRepo, revision: str) -> str | None:
        if revision in repo.refs:
            return repo.refs[revision]
        if revision in repo.refs.values():
            return revision
        self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return None

    def _api(self, segments: list[str], query: dict[str, list[str]]) -> None:
        repo = self._repo(segments[0], segments[1])
        if repo is None:
            return
        rest = segments[2:]
        if not rest or rest[0] == "revision":
            sha = self._revision(repo, rest[1] if len(rest) > 1 else "main")
            if sha is not None:
                self._json(self._model_info(repo, sha))
            return
        if rest[0] == "tree" and len(rest) >= 2:
            sha = self._revision(repo, rest[1])
            if sha is None:
                return
            prefix = "/".join(rest[2:])
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            self._json(self._tree(repo, prefix, recursive=recursive))
            return
        self._error(404, "EntryNotFound", "Not found")

    def _model_info(self, repo: HubRepo, sha: str) -> dict[str, Any]:
        return {
            "_id": hashlib.md5(repo.repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
            "id": repo.repo_id, "modelId": repo.repo_id, "sha": sha, "private": repo.private,
            "gated": "manual" if repo.gated else False, "disabled": False, "tags": ["gguf"],
            "siblings": [{"rfilename": f.path, "size": f.size,
                          **({"lfs": {"sha256": f.sha256, "size": f.size, "pointerSize": 134}}
                             if f.is_lfs else {})}
                         for f in repo.files.values()],
        }

    def _tree(self, repo: HubRepo, prefix: str, *, recursive: bool) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        folders: set[str] = set()
        base = f"{prefix}/" if prefix else ""
        for hub_file in sorted(repo.files.values(), key=lambda f: f.path):
            if not hub_file.path.startswith(base):
                continue
            relative = hub_file.path[len(base):]
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                folder = base + "/".join(parts[:depth])
                if (recursive or depth == 1) and folder not in folders:
                    folders.add(folder)
                    entries.append({"type": "directory", "path": folder,
                                    "oid": hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()})
            if len(parts) > 1 and not recursive:
                continue
            entry: dict[str, Any] = {"type": "file", "path": hub_file.path, "size": hub_file.size,
                                     "oid": hub_file.git_oid}
            if hub_file.is_lfs:
                entry["lfs"] = {"oid": hub_file.sha256, "size": hub_file.size, "pointerSize": 134}
            entries.append(entry)
        return entries

    def _resolve(self, segments: list[str], *, head: bool) -> None:
        repo = self._repo(segments[0], segments[1])
        if repo is None:
            return
        sha = self._revision(repo, segments[3])
        if sha is None:
            return
        if repo.gated:
            allowed = self._authorised(repo)
            if not allowed:
                self._error(401 if allowed is None else 403, "GatedRepo",
                            "Access to this model is restricted: you must accept its conditions.")
                return
        path = "/".join(segments[4:])
        hub_file = repo.files.get(path)
        if hub_file is None:
            self._error(404, "EntryNotFound", f"{path} does not exist on {segments[3]}")
            return
        common = {"X-Repo-Commit": sha, "ETag": f'"{hub_file.etag}"', "Accept-Ranges": "bytes"}
        if hub_file.is_lfs:
            # Like the real hub: an absolute redirect to the CDN, with the linked size and etag.
            location = f"{self.state.cdn_base}/cdn/{quote(repo.repo_id)}/{hub_file.sha256}/{quote(path)}"
            headers = {**common, "Location": location, "X-Linked-Size": str(hub_file.size),
                       "X-Linked-Etag": f'"{hub_file.sha256}"', "Content-Length": "0"}
            self._send(302, headers)
            return
        self._serve(repo, hub_file, head=head, extra=common)

    def _cdn(self, segments: list[str], *, head: bool) -> None:
        repo = self.state.repos.get(f"{segments[0]}/{segments[1]}")
        path = "/".join(segments[3:])
        hub_file = repo.files.get(path) if repo else None
        if repo is None or hub_file is None or hub_file.sha256 != segments[2]:
            self._error(404, "EntryNotFound", "No such blob")
            return
        self._serve(repo, hub_file, head=head, extra={"ETag": f'"{hub_file.sha256}"'})

    # -- bodies ------------------------------------------------------------------------------------------
    def _serve(self, repo: HubRepo, hub_file: HubFile, *, head: bool, extra: Mapping[str, str]) -> None:
        fault = None if head else self.state.next_fault(hub_file.path)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._error(fault.value, "", f"Injected {fault.value}", headers=headers)
            return
        start, end = 0, hub_file.size - 1
        status = 200
        range_header = None if self.state.ignore_range else self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            first, _, last = range_header[len("bytes="):].partition("-")
            start = int(first) if first else 0
            end = min(int(last), hub_file.size - 1) if last else hub_file.size - 1
            if start >= hub_file.size:
                self._send(416, {"Content-Range": f"bytes */{hub_file.size}", "Content-Length": "0"})
                return
            status = 206
        length = end - start + 1
        headers = {**extra, "Content-Length": str(length), "Content-Type": "application/octet-stream"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{hub_file.size}"
        self._send(status, headers)
        if head:
            return
        limit = length if fault is None or fault.kind not in ("cut", "stall") else min(length, fault.value)
        sent = 0
        try:
            for chunk in self._chunks(hub_file, start, limit, fault):
                self.wfile.write(chunk)
                sent += len(chunk)
            if hub_file.source is not None and fault is None:
                sent += self._sendfile(hub_file.source, start, limit)
        finally:
            with self.state.lock:
                self.state.bytes_sent[hub_file.path] += sent
        if fault is not None and fault.kind == "stall":
            self.wfile.flush()
            time.sleep(fault.seconds)
        if fault is not None and fault.kind in ("cut", "stall"):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def _chunks(self, hub_file: HubFile, start: int, length: int, fault: Fault | None) -> Iterator[bytes]:
        if hub_file.source is not None and fault is None:
            return  # served by sendfile
        step = CHUNK if fault is None or fault.kind != "slow" else max(1, fault.value // 20)
        position, end = start, start + length
        with (hub_file.source.open("rb") if hub_file.source else _NullContext()) as handle:
            while position < end:
                size = min(step, end - position)
                if hub_file.data is not None:
                    chunk = hub_file.data[position:position + size]
                else:
                    handle.seek(position)
                    chunk = handle.read(size)
                if fault is not None and fault.kind == "corrupt":
                    chunk = bytes(b ^ 0x5A for b in chunk)
                if fault is not None and fault.kind == "slow":
                    time.sleep(size / fault.value)
                yield chunk
                position += size

    def _sendfile(self, source: Path, start: int, length: int) -> int:
        self.wfile.flush()
        sent = 0
        cap = self.state.connection_cap
        began = time.monotonic()
        with source.open("rb") as handle:
            while sent < length:
                step = length - sent if not cap else min(length - sent, max(1, cap // 50))
                count = os.sendfile(self.connection.fileno(), handle.fileno(), start + sent, step)
                if count == 0:
                    break
                sent += count
                if cap:  # pace this connection: it may not run ahead of cap bytes per second
                    ahead = began + sent / cap - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
        return sent

    def _page(self, body: bytes, *, head: bool) -> None:
        self._send(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))})
        if not head:
            self.wfile.write(body)

    def _json(self, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, code: int, error_code: str, message: str,
               headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                       "X-Error-Message": message, **(headers or {})}
        if error_code:
            all_headers["X-Error-Code"] = error_code
        self._send(code, all_headers)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send(self, code: int, headers: Mapping[str, str]) -> None:
        self._record(code)
        self.send_response(code, HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
