"""The loopback hub's search API (``GET /api/models``), as huggingface_hub's ``HfApi.list_models`` calls it:
``search`` (case-insensitive substring of the repo id), ``filter`` (``gguf``: repos with a .gguf file),
``sort`` (``downloads``, ``likes`` or ``trendingScore``, descending), ``limit``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.fake_hub import HubRepo


def search_models(repos: Mapping[str, HubRepo], query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    text = query.get("search", [""])[0].lower()
    filters = set(query.get("filter", []))
    sort = query.get("sort", [""])[0]
    limit = int(query.get("limit", ["1000"])[0])
    found = [repo for repo in repos.values()
             if not repo.private and text in repo.repo_id.lower()
             and ("gguf" not in filters or any(path.endswith(".gguf") for path in repo.files))]
    keys = {"downloads": lambda r: r.downloads, "likes": lambda r: r.likes,
            "trendingScore": lambda r: r.trending}
    if sort in keys:
        found.sort(key=keys[sort], reverse=True)
    return [{"_id": hashlib.md5(repo.repo_id.encode(), usedforsecurity=False).hexdigest()[:24],
             "id": repo.repo_id, "modelId": repo.repo_id, "downloads": repo.downloads, "likes": repo.likes,
             "trendingScore": repo.trending, "private": False, "gated": "manual" if repo.gated else False,
             "tags": ["gguf"] if any(path.endswith(".gguf") for path in repo.files) else [],
             "createdAt": "2024-01-01T00:00:00.000Z"}
            for repo in found[:limit]]
