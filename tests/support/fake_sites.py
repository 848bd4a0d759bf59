"""Web pages shaped like Hugging Face's and Ollama's, for the browser tabs' tests, screenshots and the
start-up benchmark. They carry what our page script relies on — page URLs and link targets (``/blob/``,
``/resolve/``, ``.gguf`` hrefs, ``ollama run NAME:TAG`` text, ``/library/NAME:TAG`` links) — under made-up
CSS class names (the script must never depend on those), plus the hostile bits the security tests need:
a page script that tries to reach the bridge, an off-site link, a ``target=_blank`` link, and the "Use this
model" links for LM Studio and Jan.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from typing import Self

from tests.support.loopback import QuietHandler

STYLE = """
body{font:14px/1.5 system-ui,sans-serif;margin:0;color:#111827;background:#fff}
.x1{display:flex;gap:16px;align-items:center;padding:10px 24px;border-bottom:1px solid #e5e7eb}
.x2{font-weight:700;font-size:16px} .x3{max-width:980px;margin:24px auto;padding:0 24px}
h1{font-size:22px;margin:6px 0} .x4{color:#6b7280} .x5{border:1px solid #e5e7eb;border-radius:10px}
.x6{display:flex;justify-content:space-between;padding:8px 14px;border-top:1px solid #f3f4f6}
.x6:first-child{border-top:0} code,pre{background:#f3f4f6;border-radius:6px;padding:2px 6px}
pre{padding:10px 14px} a{color:#2563eb;text-decoration:none}
"""

# The page's own script, in the main world: it must not see qt.webChannelTransport or our objects.
PROBE = """
<script>
window.pageProbe = {
  qt: typeof qt,
  wrangler: typeof window.__llamaWrangler,
};
</script>
"""


def _page(title: str, site: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><div class='x1'><span class='x2'>{site}</span>"
            f"<a href='/models'>Models</a><a href='https://elsewhere.example/docs'>Docs</a></div>"
            f"<main class='x3'>{body}</main>{PROBE}</body></html>")


def hf_model_page(repo: str, files: Iterable[str], *, extra: str = "") -> str:
    rows = "".join(f"<div class='x6'><a href='/{repo}/blob/main/{f}'>{html.escape(f)}</a>"
                   f"<a href='/{repo}/resolve/main/{f}?download=true' class='q9'>⬇</a></div>" for f in files)
    body = (f"<h1>{html.escape(repo)}</h1><p class='x4'>Text Generation · GGUF · llama</p>"
            f"<div class='z7'><a id='lmstudio' href='lmstudio://open_from_hf?model={repo}'>LM Studio</a> · "
            f"<a id='jan' href='jan://models/huggingface/{repo}'>Jan</a></div>"
            f"<h3>Files</h3><div class='x5'>{rows}</div>"
            f"<p><a id='offsite' href='http://127.0.0.1:9/elsewhere'>A link to another site</a> · "
            f"<a id='blank' target='_blank' href='http://127.0.0.1:9/blank'>A new window</a></p>{extra}")
    return _page(repo, "🤗 Hugging Face", body)


def hf_tree_page(repo: str, revision: str, files: Iterable[str]) -> str:
    rows = "".join(f"<div class='x6'><a href='/{repo}/blob/{revision}/{f}'>{html.escape(f)}</a>"
                   f"<a href='/{repo}/resolve/{revision}/{f}?download=true'>download</a></div>" for f in files)
    return _page(f"{repo} files", "🤗 Hugging Face",
                 f"<h1>{html.escape(repo)}</h1><p class='x4'>Files and versions · {revision}</p>"
                 f"<div class='x5'>{rows}</div>")


def hf_blob_page(repo: str, revision: str, path: str) -> str:
    return _page(path, "🤗 Hugging Face",
                 f"<h1>{html.escape(repo)}</h1><p class='x4'>{html.escape(path)} · revision {revision}</p>"
                 f"<p><a id='download' href='/{repo}/resolve/{revision}/{path}?download=true'>download</a></p>"
                 "<pre>GGUF · 2 tensors · general.architecture = llama</pre>")


def ollama_library_page(name: str, tags: Iterable[str]) -> str:
    links = "".join(f"<div class='x6'><a href='/library/{name}:{t}'>{name}:{t}</a><span>1.3GB</span></div>"
                    for t in tags)
    return _page(name, "🦙 Ollama",
                 f"<h1>{html.escape(name)}</h1><p class='x4'>A tiny model for tests.</p>"
                 f"<pre><span>ollama run {name}:{next(iter(tags), 'latest')}</span></pre>"
                 f"<h3>Tags</h3><div class='x5'>{links}</div>")


def ollama_tag_page(name: str, tag: str) -> str:
    return _page(f"{name}:{tag}", "🦙 Ollama",
                 f"<h1>{html.escape(name)}:{html.escape(tag)}</h1><p class='x4'>model · 1.3GB</p>"
                 f"<input readonly value='ollama run {name}:{tag}'>")


class _PageHandler(QuietHandler):
    def _dispatch(self, *, head: bool) -> None:
        pages: dict[str, str] = self.server.pages  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        body = pages.get(path)
        status = 200 if body is not None else 404
        data = (body or "<h1>Not found</h1>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.requested.append(path)  # type: ignore[attr-defined]


class PageServer:
    """A loopback web site: ``pages`` maps a path to HTML; ``requested`` lists the paths asked for."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self._server.daemon_threads = True
        self._server.pages = {}  # type: ignore[attr-defined]
        self._server.requested = []  # type: ignore[attr-defined]
        self._server.lock = threading.Lock()  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-site", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def pages(self) -> dict[str, str]:
        return self._server.pages  # type: ignore[attr-defined, no-any-return]

    @property
    def requested(self) -> list[str]:
        with self._server.lock:  # type: ignore[attr-defined]
            return list(self._server.requested)  # type: ignore[attr-defined]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
