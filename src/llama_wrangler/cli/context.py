"""What every CLI handler gets: the app's paths and settings, loaded once."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property

from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import Settings, load_settings


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
