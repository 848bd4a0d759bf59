"""The llama-server command line, built from settings as an argv list (never a shell string)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llama_wrangler.settings import ServerSettings

# ``-ngl -1`` means "auto" in current llama.cpp and is rejected by old builds; 999 means "every layer"
# to every llama-server version a user may point us at.
ALL_GPU_LAYERS = "999"


@dataclass(frozen=True)
class RpcPlan:
    """Split the model across llama.cpp RPC workers (``--rpc``), optionally in given shares."""

    workers: tuple[str, ...]
    tensor_split: tuple[float, ...] = ()

    def argv(self) -> list[str]:
        argv = ["--rpc", ",".join(self.workers)]
        if self.tensor_split:
            argv += ["--tensor-split", ",".join(f"{share:g}" for share in self.tensor_split)]
        return argv


def build_server_argv(server: Path, settings: ServerSettings, model_path: Path, model_id: str,
                      port: int, *, mmproj: Path | None = None, rpc: RpcPlan | None = None,
                      template: Sequence[str] = ()) -> list[str]:
    """argv for ``llama-server`` serving ``model_path`` as ``model_id`` on ``settings.host:port``, with its
    vision projector (``--mmproj``) when it has one, split across ``rpc`` workers when given, and its chat
    template flags (``template``: ``--chat-template NAME`` or ``--chat-template-file PATH``).

    Flags the supervisor relies on (host, port, alias...) come first and are reserved: the settings
    refuse extra args that repeat them, so what we poll is what the server binds.
    """
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    argv = [
        str(server),
        "-m", str(model_path),
        "--host", settings.host,
        "--port", str(port),  # always explicit: the default port is changing upstream
        "-c", str(settings.context_size),
        "-ngl", ALL_GPU_LAYERS if settings.gpu_layers < 0 else str(settings.gpu_layers),
        "-np", str(settings.parallel),
        "--alias", model_id,
    ]
    if mmproj is not None:
        argv += ["--mmproj", str(mmproj)]
    if settings.threads > 0:
        argv += ["-t", str(settings.threads)]
    if settings.api_key:
        argv += ["--api-key", settings.api_key]
    if rpc is not None:
        argv += rpc.argv()  # with -ngl, the layers go to the workers' devices
    argv += template
    argv += settings.extra_arg_list()
    return argv
