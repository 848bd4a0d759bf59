"""What every CLI handler gets: the app's paths and settings, loaded once — and the library and hub work
built on them the same way for every command."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings, load_settings

if TYPE_CHECKING:
    from llama_wrangler.library.registry import Library
    from llama_wrangler.runtime.runtime_info import LlamaRuntime
    from llama_wrangler.services.hub_work import HubWork


@dataclass
class CliContext:
    paths: AppPaths

    @classmethod
    def create(cls) -> CliContext:
        return cls(paths=AppPaths.from_environment())

    @cached_property
    def settings(self) -> Settings:
        loaded = load_settings(self.paths.settings_file)
        if loaded.problem:
            print(f"llama-wrangler: warning: {loaded.problem}", file=sys.stderr)
        return loaded.settings


def open_library(context: CliContext) -> Library:
    """The library every command uses (settings' models folder; no background hashing in a CLI)."""
    from llama_wrangler.library.registry import Library

    library = Library(context.paths, models_dir=context.settings.library.models_dir,
                      hash_in_background=False).load()
    if library.problem:
        print(f"llama-wrangler: warning: {library.problem}", file=sys.stderr)
    return library


def open_hub_work(context: CliContext, *, runtime: LlamaRuntime | None = None) -> HubWork:
    """The same :class:`HubWork` the window's jobs run, on this command's paths, settings and library."""
    from llama_wrangler.services.hub_work import HubWork

    library = open_library(context)
    context.paths.ensure()
    return HubWork(context.paths, lambda: context.settings, library,
                   runtime=(lambda: runtime) if runtime is not None else None)
