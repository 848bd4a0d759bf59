"""One transfer layer for every download (Hub files, Ollama blobs, conversion snapshots, llama.cpp runtime
archives), source-neutral and Qt-free.

- :mod:`.remote`: :class:`RemoteFile` (URL, size, digest, auth origin) and where partials wait;
- :mod:`.auth`: the one rule for which origins see a token;
- :mod:`.status`: the one HTTP-status -> error mapping, in words each source supplies;
- :mod:`.client`: the one factory for HTTP clients (:func:`open_client`);
- :mod:`.downloader`: one file — partial, resume, retry, verify, rename; :mod:`.stream` moves its bytes over
  one connection, :mod:`.ranged` over several (pieces in :mod:`.pieces`, sha256 in :mod:`.prefix_hash`);
- :mod:`.files`: a set of files, with the free-disk check first.
"""

from llama_wrangler.sources.transfer.auth import may_see_token, token_headers
from llama_wrangler.sources.transfer.client import open_client
from llama_wrangler.sources.transfer.downloader import FileDownloader
from llama_wrangler.sources.transfer.files import FetchItem, fetch_files, forget_done
from llama_wrangler.sources.transfer.meter import ByteMeter
from llama_wrangler.sources.transfer.ranged import DEFAULT_PARTS, DEFAULT_STALL_S, MAX_PARTS, RangedParts
from llama_wrangler.sources.transfer.remote import BesideTarget, DownloadsFolder, PartialPlace, RemoteFile
from llama_wrangler.sources.transfer.retry import RetryPolicy
from llama_wrangler.sources.transfer.status import SourceWording, TransientError, status_error

__all__ = ["DEFAULT_PARTS", "DEFAULT_STALL_S", "MAX_PARTS", "BesideTarget", "ByteMeter", "DownloadsFolder",
           "FetchItem", "FileDownloader", "PartialPlace", "RangedParts", "RemoteFile", "RetryPolicy",
           "SourceWording", "TransientError", "fetch_files", "forget_done", "may_see_token", "open_client",
           "status_error", "token_headers"]
