"""Searching the Hub for GGUF models (``/api/models?search=…&filter=gguf``), and the fit of each of a repo's
quants on this machine — LM Studio's Discover, for the Add-model dialog and ``llama-wrangler search``.

The search itself goes through huggingface_hub's ``HfApi.list_models`` (the endpoint, token and offline rule
of :class:`~llama_wrangler.sources.hf_hub.HubAccess`); a repo's quants and sizes come from the same
:func:`~llama_wrangler.sources.hf_repo.inspect_repo` a pull uses, so what a search shows is what a pull gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from llama_wrangler.errors import InputParseError
from llama_wrangler.sources.hf_errors import hub_errors
from llama_wrangler.sources.hf_hub import HubAccess
from llama_wrangler.sources.hf_repo import QuantChoice, RepoListing
from llama_wrangler.sources.machine import Fit, MachineResources, estimate_memory

MAX_RESULTS = 100
MAX_QUERY = 200


class SearchSort(StrEnum):
    DOWNLOADS = "downloads"
    TRENDING = "trending"


_API_SORT: dict[SearchSort, Literal["downloads", "trending_score"]] = {
    SearchSort.DOWNLOADS: "downloads", SearchSort.TRENDING: "trending_score"}


@dataclass(frozen=True)
class SearchHit:
    """One repo the Hub found: its id and popularity."""

    repo_id: str
    downloads: int = 0
    likes: int = 0


@dataclass(frozen=True)
class QuantFit:
    """One of a repo's quants, with its size and where it would run here."""

    choice: QuantChoice
    fit: Fit

    @property
    def size(self) -> int:
        return self.choice.size


def checked_query(text: str) -> str:
    query = " ".join(text.split())
    if not query:
        raise InputParseError("Type something to search for (a model name such as tinyllama).")
    if len(query) > MAX_QUERY:
        raise InputParseError(f"That search is too long (at most {MAX_QUERY} characters).")
    return query


def search_hub(access: HubAccess, text: str, *, sort: SearchSort = SearchSort.DOWNLOADS,
               limit: int = 20) -> list[SearchHit]:
    """GGUF repos matching ``text``, most downloaded (or trending) first."""
    query = checked_query(text)
    api = access.api()
    with hub_errors(f"the search for {query!r}"):
        found = list(api.list_models(search=query, filter="gguf", sort=_API_SORT[sort],
                                     limit=max(1, min(limit, MAX_RESULTS))))
    return [SearchHit(info.id, int(info.downloads or 0), int(info.likes or 0)) for info in found]


def quant_fits(listing: RepoListing, machine: MachineResources, context: int) -> list[QuantFit]:
    """Each GGUF choice of ``listing`` (smallest first) with its badge: fits in VRAM, in RAM, or too large."""
    return [QuantFit(choice, machine.fit(estimate_memory(choice.size, context))) for choice in listing.choices]


def looks_like_search(text: str) -> bool:
    """Words rather than a model reference: no ``org/repo`` slash, no ``hf:``/``NAME:TAG`` colon, no link, not
    empty (Ollama names are told apart before this is asked)."""
    stripped = text.strip()
    return bool(stripped) and "/" not in stripped and ":" not in stripped and len(stripped) <= MAX_QUERY
