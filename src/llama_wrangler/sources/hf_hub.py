"""How we talk to the Hub: endpoint and token as :mod:`llama_wrangler.settings_env` resolves them (our
settings first, then ``HF_ENDPOINT`` / ``HF_TOKEN`` / huggingface_hub's login), an ``HfApi`` built from them,
and ``HF_HUB_OFFLINE`` honoured before any call is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from huggingface_hub import HfApi

from llama_wrangler.errors import SourceError
from llama_wrangler.settings import DownloadSettings
from llama_wrangler.settings_env import hf_endpoint, hf_token, hub_offline

OFFLINE_MESSAGE = "Hugging Face access is switched off: HF_HUB_OFFLINE is set."
OFFLINE_HINT = "Unset HF_HUB_OFFLINE to download or search; models already in the library still work."


@dataclass(frozen=True)
class HubAccess:
    """Endpoint + token for one set of Hub calls. ``token`` None means anonymous; ``offline``: every call
    is refused in plain words (``HF_HUB_OFFLINE``)."""

    endpoint: str
    token: str | None = None
    offline: bool = False

    @classmethod
    def from_settings(cls, settings: DownloadSettings, environ: Mapping[str, str] | None = None) -> HubAccess:
        return cls(endpoint=hf_endpoint(settings, environ).value, token=resolve_token(settings, environ),
                   offline=hub_offline(environ))

    @property
    def host(self) -> str:
        return self.endpoint.split("://", 1)[-1].split("/", 1)[0]

    def check_online(self) -> None:
        if self.offline:
            raise SourceError(OFFLINE_MESSAGE, hint=OFFLINE_HINT)

    def api(self) -> HfApi:
        self.check_online()
        # token=False, not None: None would let huggingface_hub pick up a login we were told not to use.
        return HfApi(endpoint=self.endpoint, token=self.token or False)


def resolve_token(settings: DownloadSettings, environ: Mapping[str, str] | None = None) -> str | None:
    return hf_token(settings, environ).value or None
