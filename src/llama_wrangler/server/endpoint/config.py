"""What the stable endpoint runs with: the user's settings plus the connection limits we choose.

One frozen object, replaced whole when the settings change (a reference swap: the event-loop thread
reads it without a lock and never sees half an update).
"""

from __future__ import annotations

from dataclasses import dataclass

from llama_wrangler.server.endpoint.wire import parse_origins
from llama_wrangler.settings import ServerSettings, WhileLoading

MAX_BODY_BYTES = 64 * 1024 * 1024  # prompts with images are big, but not this big
PARSE_ON_LOOP_BYTES = 256 * 1024  # json.loads of a bigger body runs off the loop (it would stall every stream)
MAX_CONNECTIONS = 4096  # far above what a desktop's clients open; below the usual fd limits
IDLE_TIMEOUT_S = 75.0  # a keep-alive connection with no request for this long is closed
HEADER_TIMEOUT_S = 15.0  # a request's head must arrive whole this soon after its first byte
# A client that accepts not one byte of an answer for this long is dropped (and its model's lease given
# back): llama-server's own write timeout is 600 s; a client that reads at all never comes near this.
WRITE_TIMEOUT_S = 300.0
# How long the served model stays after its last request before another model's waiting requests get
# it: a client sending one request after another is back within milliseconds, and a swap costs seconds.
IDLE_LINGER_S = 0.3
RETRY_AFTER_S = 5  # what a 503 during a load suggests (tiny models load in under a second)


@dataclass(frozen=True)
class EndpointConfig:
    api_key: str = ""
    cors_origins: tuple[str, ...] = ()  # () loopback pages only; ("*",) any page
    wait_s: float = 780.0  # how long a request may wait for its model (drain + load)
    retry_later: bool = False  # 503 + Retry-After instead of waiting while a model loads
    load_on_request: bool = True
    fairness_s: float = 30.0
    max_models: int = 4  # models loaded at once (0: no count cap, memory only)
    memory_limit_bytes: int = 0  # the most our models together may take (0: what the machine has free)
    idle_ttl_s: float = 3600.0  # models loaded by a request are unloaded after this long unused (0: never)
    idle_linger_s: float = IDLE_LINGER_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    header_timeout_s: float = HEADER_TIMEOUT_S
    write_timeout_s: float = WRITE_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> EndpointConfig:
        """The endpoint's config for ``settings`` (tests shorten the limits with ``dataclasses.replace``)."""
        return cls(api_key=settings.api_key, cors_origins=parse_origins(settings.cors_origins),
                   wait_s=settings.drain_timeout_s + settings.health_timeout_s + settings.swap_fairness_s,
                   retry_later=settings.while_loading is WhileLoading.RETRY_LATER,
                   load_on_request=settings.load_on_request, fairness_s=settings.swap_fairness_s,
                   max_models=settings.max_models, memory_limit_bytes=int(settings.memory_limit_gb * 1e9),
                   idle_ttl_s=settings.idle_unload_min * 60.0)
