"""The one place HTTP clients for transfers are made (Hub files, Ollama blobs and manifests, llama.cpp
releases and sources).

:func:`open_client` also raises httpcore's read size, once, when the first client is made: httpcore reads a
response 64 KiB at a time, and every read goes through h11's parser and a few copies, which caps a loopback
transfer at about a third of curl's speed; 1 MiB reads reach curl's (``bench/download.py``). It is a class
attribute, so it applies to every httpx client in the process from then on; for small responses it changes
nothing (a read returns what has arrived).
"""

from __future__ import annotations

import httpcore
import httpx

READ_SIZE = 1 << 20
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 60.0
USER_AGENT = "llama-wrangler"


def open_client(*, read_timeout_s: float = READ_TIMEOUT_S, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                follow_redirects: bool = True) -> httpx.Client:
    """An httpx client for transfers. The caller closes it (``with open_client() as client:``).

    Redirects are followed for plain GETs that carry no credentials (manifests, JSON, small layers);
    :class:`~llama_wrangler.sources.transfer.downloader.FileDownloader` follows them itself, so that
    :func:`~llama_wrangler.sources.transfer.auth.may_see_token` decides at every hop who sees a token.
    """
    tune_reads()
    return httpx.Client(follow_redirects=follow_redirects, headers={"User-Agent": USER_AGENT},
                        timeout=httpx.Timeout(read_timeout_s, connect=min(connect_timeout_s, read_timeout_s)))


def tune_reads() -> None:
    """Raise httpcore's read size to :data:`READ_SIZE` (idempotent; see the module docstring)."""
    if getattr(httpcore.HTTP11Connection, "READ_NUM_BYTES", 0) < READ_SIZE:
        httpcore.HTTP11Connection.READ_NUM_BYTES = READ_SIZE
