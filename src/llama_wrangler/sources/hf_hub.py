"""How we talk to the Hub: endpoint and token from settings, an ``HfApi`` built from them.

Token order for ``token_source = auto``: the token in Settings, then ``HF_TOKEN``, then huggingface_hub's
stored login (``hf auth login``). The other sources use only the one they name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from huggingface_hub import HfApi, get_token

from llama_wrangler.settings import DownloadSettings, TokenSource


@dataclass(frozen=True)
class HubAccess:
    """Endpoint + token for one set of Hub calls. ``token`` None means anonymous."""

    endpoint: str
    token: str | None = None

    @classmethod
    def from_settings(cls, settings: DownloadSettings, environ: Mapping[str, str] | None = None) -> HubAccess:
        return cls(endpoint=settings.hf_endpoint.rstrip("/"), token=resolve_token(settings, environ))

    def api(self) -> HfApi:
        # token=False, not None: None would let huggingface_hub pick up a login we were told not to use.
        return HfApi(endpoint=self.endpoint, token=self.token or False)


def resolve_token(settings: DownloadSettings, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    source = settings.token_source
    if source in (TokenSource.AUTO, TokenSource.SETTINGS) and settings.hf_token.strip():
        return settings.hf_token.strip()
    if source in (TokenSource.AUTO, TokenSource.ENVIRONMENT):
        value = (env.get("HF_TOKEN") or "").strip()
        if value:
            return value
    if source in (TokenSource.AUTO, TokenSource.HF_LOGIN):
        # get_token() also reads HF_TOKEN; with ENVIRONMENT excluded above that is still the user's login.
        return get_token() or None
    return None
