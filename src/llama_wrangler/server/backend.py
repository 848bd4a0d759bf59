"""What differs between the servers the supervisor can run: llama.cpp's ``llama-server``, or the
llama-cpp-python fallback (``python -m llama_cpp.server``, see :mod:`llama_wrangler.runtime.pyserver`).

Each backend knows its command line and how to tell that it is ready; the supervisor drives both alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llama_wrangler.errors import ServerError
from llama_wrangler.runtime import pyserver
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.server.argv import RpcPlan, build_server_argv
from llama_wrangler.settings import ServerSettings


class ServerBackend(Protocol):
    @property
    def program(self) -> Path:
        """The executable the command line starts with."""

    @property
    def ready_path(self) -> str:
        """URL path that answers 200 once the model is loaded."""

    @property
    def reads_props(self) -> bool:
        """Whether ``/props`` exists (read once ready, for the real context size and model path)."""

    def argv(self, settings: ServerSettings, model_path: Path, model_id: str, port: int, *,
             mmproj: Path | None = None, template: Sequence[str] = ()) -> list[str]:
        """The command line serving ``model_path`` (with its vision projector ``mmproj`` and chat template
        flags ``template``) as ``model_id`` on ``settings.host:port``."""


@dataclass(frozen=True)
class LlamaServerBackend:
    """llama.cpp's ``llama-server``: ``/health`` says 503 while loading and 200 when ready."""

    program: Path
    ready_path: str = pyserver.LLAMA_SERVER_READY_PATH
    reads_props: bool = True
    rpc: RpcPlan | None = None  # a worker pool to split the model across

    def argv(self, settings: ServerSettings, model_path: Path, model_id: str, port: int, *,
             mmproj: Path | None = None, template: Sequence[str] = ()) -> list[str]:
        return build_server_argv(self.program, settings, model_path, model_id, port, mmproj=mmproj, rpc=self.rpc,
                                 template=template)


@dataclass(frozen=True)
class PyServerBackend:
    """llama-cpp-python's server, run by the Python interpreter ``program``: no ``/health`` and no
    ``/props``; it loads the model before it listens, so ``/v1/models`` answering means ready."""

    program: Path
    ready_path: str = pyserver.PYSERVER_READY_PATH
    reads_props: bool = False

    def argv(self, settings: ServerSettings, model_path: Path, model_id: str, port: int, *,
             mmproj: Path | None = None, template: Sequence[str] = ()) -> list[str]:
        # The fallback serves text only: llama-cpp-python's vision needs a chat handler per model family;
        # its chat formats are not llama.cpp's template names, so a model's template is not passed either.
        return pyserver.pyserver_argv(
            self.program, model_path, host=settings.host, port=port, n_ctx=settings.context_size,
            model_alias=model_id, n_gpu_layers=settings.gpu_layers, n_threads=settings.threads,
            api_key=settings.api_key)


def server_backend(server: Path | LlamaRuntime, *, rpc: RpcPlan | None = None) -> ServerBackend:
    """The backend for a llama-server binary, or for a located runtime (which may be the fallback).
    Raises :class:`ServerError` when a worker pool is asked of the fallback, which cannot use one."""
    if isinstance(server, LlamaRuntime):
        if pyserver.is_pyserver(server):
            if rpc is not None:
                raise ServerError("The llama-cpp-python fallback server cannot split a model across workers.",
                                  hint="Install the llama.cpp runtime (`llama-wrangler runtime install`).")
            return PyServerBackend(server.server)
        return LlamaServerBackend(server.server, rpc=rpc)
    return LlamaServerBackend(Path(server), rpc=rpc)
