"""Binding the stable endpoint on the user's address, and the settings llama-server then runs with.

:func:`open_endpoint` binds the user's host:port (a busy port is refused or replaced as ``port_conflict``
says, exactly as for llama-server itself), and :func:`backend_settings` is the copy of the settings
llama-server runs with behind it: loopback, on a free port of its own.
"""

from __future__ import annotations

from llama_wrangler.errors import ServerError
from llama_wrangler.server.endpoint.config import EndpointConfig
from llama_wrangler.server.endpoint.server import EndpointServer
from llama_wrangler.server.ports import LOOPBACK, choose_port, pick_free_port
from llama_wrangler.settings import PortConflict, ServerSettings


def backend_settings(settings: ServerSettings) -> ServerSettings:
    """The user's server settings with llama-server moved to a free loopback port: only the endpoint is
    reached from outside, and the user's port stays the endpoint's across swaps."""
    return settings.model_copy(update={"host": LOOPBACK, "port": pick_free_port(LOOPBACK),
                                       "port_conflict": PortConflict.PICK_FREE})


def open_endpoint(settings: ServerSettings, config: EndpointConfig | None = None) -> EndpointServer:
    """Bind the stable endpoint on the user's host:port (not serving yet: call ``start()``)."""
    port = choose_port(settings.host, settings.port, settings.port_conflict)
    try:
        return EndpointServer(settings.host, port, config or EndpointConfig.from_settings(settings),
                              on_load=lambda _model, _victims: None)
    except OSError as exc:  # taken between the check and the bind
        raise ServerError(f"Port {port} on {settings.host} is already in use by another program "
                          f"({exc.strerror or exc}).",
                          hint="Choose another port in the settings.") from exc
