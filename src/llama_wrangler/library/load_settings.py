"""How one model is loaded: its own context, GPU layers, threads, slots, chat template and extra arguments,
stored with the model in the registry (Qt-free).

Every field is optional: None means "the global server setting". :meth:`LoadSettings.apply` gives the
settings a start of this model really uses, so the window, the tray, ``serve`` and a load an API request
triggers all build the same command line. ``idle_ttl_s`` and ``pinned`` are kept here for the residency
code (how long an idle model stays loaded; never unload it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from llama_wrangler.settings import MIN_CONTEXT, ServerSettings, extra_arg_list
from llama_wrangler.units import human_duration

# llama.cpp's built-in chat templates (``llama-server --help``, b11312): offered in the window; other
# names are accepted too, since a newer llama-server may know more.
BUILTIN_TEMPLATES = (
    "chatml", "llama3", "llama4", "llama2", "llama2-sys", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
    "mistral-v7", "mistral-v7-tekken", "gemma", "phi3", "phi4", "deepseek", "deepseek2", "deepseek3",
    "command-r", "chatglm3", "chatglm4", "falcon3", "granite", "gpt-oss", "kimi-k2", "zephyr", "vicuna",
    "openchat", "monarch", "orion", "minicpm", "exaone3", "exaone4", "megrez", "smolvlm", "seed_oss",
)
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_IDLE_TTL_S = 30 * 86_400.0
# name -> (lowest, highest) as ServerSettings allows them
_RANGES = {"context_size": (0, 10_000_000), "gpu_layers": (-1, 10_000), "threads": (0, 1024),
           "parallel": (1, 256)}


def check_template(value: str) -> str:
    """A built-in template name, or an absolute path to a ``.jinja`` file. Raises ValueError."""
    text = value.strip()
    if _TEMPLATE_NAME.match(text) and not text.lower().endswith(".jinja"):
        return text
    is_absolute = PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()
    if is_absolute and text.lower().endswith(".jinja"):
        return text
    raise ValueError(f"“{value}” is neither a template name (letters, digits, - _ .) nor the absolute path "
                     "of a .jinja file")


def is_template_file(value: str) -> bool:
    return value.lower().endswith(".jinja")


@dataclass(frozen=True)
class LoadSettings:
    """One model's load settings; None = the global server setting. Raises ValueError (naming the field)
    when a value is out of range."""

    context_size: int | None = None
    gpu_layers: int | None = None
    threads: int | None = None
    parallel: int | None = None
    chat_template: str | None = None
    extra_args: str | None = None  # replaces the global extra args ("" = none for this model)
    idle_ttl_s: float | None = None  # unload after this long idle; 0 = never by idle time
    pinned: bool = False  # keep loaded: never evicted, never unloaded for idling

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name}: must be a whole number")
            if not low <= value <= high:
                raise ValueError(f"{name}: must be between {low} and {high}")
        if self.context_size is not None and 0 < self.context_size < MIN_CONTEXT:
            raise ValueError(f"context_size: must be 0 (the model's own) or at least {MIN_CONTEXT} tokens")
        if self.chat_template is not None:
            if not isinstance(self.chat_template, str):
                raise ValueError("chat_template: must be text")
            try:
                object.__setattr__(self, "chat_template", check_template(self.chat_template))
            except ValueError as exc:
                raise ValueError(f"chat_template: {exc}") from None
        if self.extra_args is not None:
            if not isinstance(self.extra_args, str):
                raise ValueError("extra_args: must be text")
            try:
                extra_arg_list(self.extra_args)
            except ValueError as exc:
                raise ValueError(f"extra_args: {exc}") from None
        ttl = self.idle_ttl_s
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
                raise ValueError("idle_ttl_s: must be a number of seconds")
            if not 0 <= ttl <= MAX_IDLE_TTL_S:
                raise ValueError(f"idle_ttl_s: must be between 0 and {MAX_IDLE_TTL_S:g} seconds")
            object.__setattr__(self, "idle_ttl_s", float(ttl))
        if not isinstance(self.pinned, bool):
            raise ValueError("pinned: must be true or false")

    # ---- storage ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Only the fields that are set (registry.json stays small and readable)."""
        return {key: value for key, value in asdict(self).items()
                if value is not None and not (key == "pinned" and value is False)}

    @classmethod
    def from_dict(cls, data: object) -> LoadSettings:
        """Raises ValueError naming the bad field (or the unknown key)."""
        if not isinstance(data, Mapping):
            raise ValueError("load settings are not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(f"{unknown[0]}: not a load setting")
        return cls(**{str(key): value for key, value in data.items()})

    @property
    def is_default(self) -> bool:
        return self == LoadSettings()

    # ---- use ----------------------------------------------------------------------------------------
    def apply(self, server: ServerSettings) -> ServerSettings:
        """The settings a start of this model uses: ours where set, the global ones elsewhere."""
        update: dict[str, Any] = {name: getattr(self, name) for name in (*_RANGES, "extra_args")
                                  if getattr(self, name) is not None}
        return server.model_copy(update=update) if update else server

    def template_argv(self) -> list[str]:
        """``--chat-template NAME`` or ``--chat-template-file PATH`` (nothing when unset)."""
        if self.chat_template is None:
            return []
        if is_template_file(self.chat_template):
            return ["--chat-template-file", self.chat_template]
        return ["--chat-template", self.chat_template]

    def overridden_by(self, other: LoadSettings) -> LoadSettings:
        """These settings with every field ``other`` sets taken from it (``serve``'s options)."""
        changes = {key: value for key, value in asdict(other).items() if value is not None and key != "pinned"}
        if other.pinned:
            changes["pinned"] = True
        return replace(self, **changes)

    def summary(self) -> str:
        """The set fields in a few words, e.g. ``ctx 8192 · 2 slots · pinned`` ('' when default)."""
        parts = []
        if self.context_size is not None:
            parts.append("ctx model's own" if self.context_size == 0 else f"ctx {self.context_size}")
        if self.gpu_layers is not None:
            parts.append("all GPU layers" if self.gpu_layers < 0 else f"{self.gpu_layers} GPU layers")
        if self.threads is not None:
            parts.append("auto threads" if self.threads == 0 else f"{self.threads} threads")
        if self.parallel is not None:
            parts.append(f"{self.parallel} slot{'s' if self.parallel != 1 else ''}")
        if self.chat_template is not None:
            name = PurePosixPath(self.chat_template).name if is_template_file(self.chat_template) \
                else self.chat_template
            parts.append(f"template {name}")
        if self.extra_args is not None:
            parts.append(f"args “{self.extra_args}”" if self.extra_args else "no extra args")
        if self.idle_ttl_s is not None:
            parts.append("never idles out" if self.idle_ttl_s == 0 else f"unload after {idle_words(self.idle_ttl_s)}")
        if self.pinned:
            parts.append("pinned")
        return " · ".join(parts)


def idle_words(seconds: float) -> str:
    """``45 s``, ``10 min``, ``1 h 30 min``: an idle time as people say it."""
    total = round(seconds)
    if total < 60 or total % 60:
        return f"{total} s" if total < 60 else human_duration(total)
    hours, minutes = divmod(total // 60, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86_400}


def parse_idle_ttl(text: str) -> float:
    """``10m``, ``90s``, ``2h``, ``1d``, a bare number of minutes, or ``never`` (0). Raises ValueError."""
    if text.strip().lower() in {"never", "0"}:
        return 0.0
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"“{text}” is not a duration (e.g. 10m, 90s, 2h, never)")
    unit = (match.group(2) or "m").lower()
    seconds = float(match.group(1)) * _UNIT_SECONDS[unit]
    if seconds > MAX_IDLE_TTL_S:
        raise ValueError(f"“{text}” is longer than {MAX_IDLE_TTL_S / 86_400:g} days")
    return seconds
