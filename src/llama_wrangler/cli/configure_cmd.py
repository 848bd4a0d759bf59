"""``configure MODEL``: show or change how one model is loaded (its own context, slots, template...)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from llama_wrangler.cli.context import CliContext, open_library
from llama_wrangler.errors import SettingsError
from llama_wrangler.library.load_settings import LoadSettings, idle_words, is_template_file, parse_idle_ttl
from llama_wrangler.library.registry import ModelRecord
from llama_wrangler.server.argv import ALL_GPU_LAYERS
from llama_wrangler.settings import ServerSettings

_T = TypeVar("_T")
DEFAULT = "default"
# option dest -> LoadSettings field
_NUMBERS = {"context": "context_size", "gpu_layers": "gpu_layers", "threads": "threads", "parallel": "parallel"}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommand."""
    p = subparsers.add_parser(
        "configure", help="show or change a model's own load settings (context, slots, template...)",
        description="Without options: print MODEL's stored load settings and the settings a load of it "
        "uses. With options: store them; every way of loading the model uses them (the window, the tray, "
        "`serve`, and an API request naming it). `default` as a value clears that setting (the global "
        "server setting applies). Extra args that start with a dash need `=`: --extra-args=\"--no-mmap\".")
    p.add_argument("model", metavar="MODEL", help="model id, name, unique id prefix, or file path")
    p.add_argument("--context", metavar="N", help="context size in tokens (0 = the model's own)")
    p.add_argument("--gpu-layers", metavar="N", dest="gpu_layers", help="layers to offload to the GPU (-1 = all)")
    p.add_argument("--threads", metavar="N", help="CPU threads (0 = llama-server decides)")
    p.add_argument("--parallel", metavar="N", help="parallel request slots (the context is shared among them)")
    p.add_argument("--chat-template", metavar="NAME|FILE", dest="chat_template",
                   help="a llama.cpp built-in template (chatml, llama3...) or a .jinja file")
    p.add_argument("--extra-args", metavar="ARGS", dest="extra_args",
                   help="llama-server arguments used instead of the global extra args ('' = none)")
    p.add_argument("--idle-ttl", metavar="TIME", dest="idle_ttl",
                   help="unload after this long idle: 10m, 90s, 2h, or never")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--pin", action="store_true", help="keep it loaded (never unloaded to make room or for idling)")
    pin.add_argument("--unpin", action="store_true", help="let it be unloaded again")
    p.add_argument("--reset", action="store_true", help="clear every setting first (the global ones apply)")
    p.add_argument("--json", action="store_true", help="print the stored and effective settings as JSON")
    p.set_defaults(handler=cmd_configure)


def changed_settings(args: argparse.Namespace, current: LoadSettings) -> LoadSettings | None:
    """The settings after this command's options, or None when it gives none. Raises SettingsError."""
    changes: dict[str, Any] = {}
    for option, name in _NUMBERS.items():
        value = getattr(args, option)
        if value is not None:
            changes[name] = _number(option, value)
    if args.chat_template is not None:
        changes["chat_template"] = _template(args.chat_template)
    if args.extra_args is not None:
        changes["extra_args"] = None if args.extra_args == DEFAULT else args.extra_args
    if args.idle_ttl is not None:
        changes["idle_ttl_s"] = None if args.idle_ttl == DEFAULT else _checked("idle-ttl", parse_idle_ttl,
                                                                               args.idle_ttl)
    if args.pin or args.unpin:
        changes["pinned"] = bool(args.pin)
    if not changes and not args.reset:
        return None
    base = LoadSettings() if args.reset else current
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise SettingsError(f"Invalid option: {exc}.") from None


def _number(option: str, text: str) -> int | None:
    if text == DEFAULT:
        return None
    return _checked(option.replace("_", "-"), int, text)


def _template(text: str) -> str | None:
    if text == DEFAULT:
        return None
    if not is_template_file(text):
        return text
    path = Path(text).expanduser().absolute()
    if not path.is_file():
        raise SettingsError(f"Invalid option: chat-template: {path} is not an existing file.")
    return str(path)


def _checked(option: str, parse: Callable[[str], _T], text: str) -> _T:
    try:
        return parse(text)
    except ValueError as exc:
        detail = str(exc) if parse is not int else f"“{text}” is not a whole number or `{DEFAULT}`"
        raise SettingsError(f"Invalid option: {option}: {detail}.") from None


def cmd_configure(args: argparse.Namespace, context: CliContext) -> int:
    library = open_library(context)
    record = library.get(args.model)
    wanted = changed_settings(args, record.load)
    if wanted is not None and wanted != record.load:
        record = library.set_load_settings(record.id, wanted)
        print(f"Saved the load settings of {record.id}; its next load uses them.")
    elif wanted is not None:
        print(f"The load settings of {record.id} were already so.")
    server = context.settings.server
    if args.json:
        effective = record.load.apply(server)
        print(json.dumps({"model": record.id, "stored": record.load.to_dict(), "effective": {
            "context_size": effective.context_size, "gpu_layers": effective.gpu_layers,
            "threads": effective.threads, "parallel": effective.parallel,
            "chat_template": record.load.chat_template, "extra_args": effective.extra_args,
            "idle_ttl_s": record.load.idle_ttl_s, "pinned": record.load.pinned}}, indent=2))
        return 0
    print(describe(record, server))
    return 0


def describe(record: ModelRecord, server: ServerSettings) -> str:
    """A table: each setting, what this model stores, what a load of it uses."""
    load, effective = record.load, record.load.apply(server)

    def stored(value: object, words: str | None = None) -> str:
        return DEFAULT if value is None else (words or str(value))

    rows = [
        ("context", stored(load.context_size), _context(effective.context_size)),
        ("gpu layers", stored(load.gpu_layers),
         f"all ({ALL_GPU_LAYERS})" if effective.gpu_layers < 0 else str(effective.gpu_layers)),
        ("threads", stored(load.threads), "automatic" if effective.threads == 0 else str(effective.threads)),
        ("parallel slots", stored(load.parallel), str(effective.parallel)),
        ("chat template", stored(load.chat_template), load.chat_template or "the model's own"),
        ("extra args", stored(load.extra_args, repr(load.extra_args)), effective.extra_args or "(none)"),
        ("idle unload", stored(load.idle_ttl_s, _idle(load.idle_ttl_s)),
         _idle(load.idle_ttl_s) if load.idle_ttl_s is not None else "the app's default"),
        ("keep loaded", "yes" if load.pinned else "no", "yes" if load.pinned else "no"),
    ]
    width = max(len(row[0]) for row in rows)
    middle = max(len("this model"), *(len(row[1]) for row in rows))
    lines = [f"{record.id} — load settings ({DEFAULT} = the server settings)",
             f"  {'setting'.ljust(width)}  {'this model'.ljust(middle)}  in effect"]
    lines += [f"  {a.ljust(width)}  {b.ljust(middle)}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def _context(tokens: int) -> str:
    return "the model's own" if tokens == 0 else f"{tokens} tokens"


def _idle(seconds: float | None) -> str:
    return "never" if seconds == 0 else f"after {idle_words(seconds or 0)}"
