"""Per-model load settings: validation, storage in registry.json, and the settings a start uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_wrangler.errors import ModelNotFoundError
from llama_wrangler.library.load_settings import LoadSettings, parse_idle_ttl
from llama_wrangler.library.origins import ModelSource
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.settings import ServerSettings
from tests.support.gguf_files import write_gguf

FULL = LoadSettings(context_size=8192, gpu_layers=12, threads=3, parallel=2, chat_template="chatml",
                    extra_args="--no-mmap", idle_ttl_s=600, pinned=True)


def library(paths: AppPaths) -> Library:
    return Library(paths, hash_in_background=False).load()


def owned(paths: AppPaths, lib: Library, name: str = "tiny-Q4_K_M.gguf") -> str:
    return lib.add_owned(write_gguf(paths.models_dir / name), source=ModelSource.LOCAL).id


@pytest.mark.parametrize(("field", "value", "words"), [
    ("context_size", 100, "at least 256"), ("context_size", 20_000_000, "between"),
    ("gpu_layers", -2, "between"), ("threads", 2000, "between"), ("parallel", 0, "between"),
    ("parallel", True, "whole number"), ("context_size", "8192", "whole number"),
    ("chat_template", "../../etc/passwd", "template name"), ("chat_template", "relative/t.jinja", "absolute"),
    ("chat_template", "/abs/template.txt", "template name"), ("extra_args", "--port 9000", "--port"),
    ("extra_args", "--flag 'unclosed", "cannot be parsed"), ("idle_ttl_s", -1, "between"),
    ("idle_ttl_s", float("nan"), "seconds"), ("pinned", "yes", "true or false"),
])
def test_bad_values_are_refused_naming_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(ValueError, match=field) as caught:
        LoadSettings(**{field: value})  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_dict_round_trip_keeps_only_what_is_set() -> None:
    assert LoadSettings().to_dict() == {}
    assert LoadSettings().is_default and not FULL.is_default
    assert LoadSettings.from_dict(FULL.to_dict()) == FULL
    assert LoadSettings(parallel=4).to_dict() == {"parallel": 4}
    assert LoadSettings(extra_args="").to_dict() == {"extra_args": ""}  # "" = none, not "the global ones"


@pytest.mark.parametrize(("data", "field"), [
    ({"parallel": "two"}, "parallel"), ({"ctx": 4096}, "ctx"), ([1, 2], "not a JSON object"),
])
def test_from_dict_names_the_bad_field(data: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LoadSettings.from_dict(data)


def test_apply_overrides_only_what_is_set_and_extra_args_replace() -> None:
    server = ServerSettings(context_size=4096, parallel=1, threads=0, gpu_layers=-1, extra_args="--mlock")
    assert LoadSettings().apply(server) == server
    effective = LoadSettings(context_size=8192, parallel=3).apply(server)
    assert (effective.context_size, effective.parallel, effective.threads) == (8192, 3, 0)
    assert effective.extra_arg_list() == ["--mlock"]  # not set: the global ones
    assert LoadSettings(extra_args="--no-mmap").apply(server).extra_arg_list() == ["--no-mmap"]
    assert LoadSettings(extra_args="").apply(server).extra_arg_list() == []
    assert server.context_size == 4096  # the global settings are untouched


def test_template_argv_names_a_builtin_or_a_file() -> None:
    assert LoadSettings().template_argv() == []
    assert LoadSettings(chat_template="llama3").template_argv() == ["--chat-template", "llama3"]
    assert LoadSettings(chat_template="/t/mine.jinja").template_argv() == ["--chat-template-file", "/t/mine.jinja"]


def test_command_line_options_override_the_stored_ones() -> None:
    stored = LoadSettings(context_size=8192, parallel=2, pinned=True)
    merged = stored.overridden_by(LoadSettings(context_size=2048, threads=2))
    assert merged == LoadSettings(context_size=2048, parallel=2, threads=2, pinned=True)


def test_summary_and_idle_durations() -> None:
    assert LoadSettings().summary() == ""
    assert LoadSettings(context_size=8192, parallel=2, pinned=True).summary() == "ctx 8192 · 2 slots · pinned"
    assert "unload after 1 h 30 min" in LoadSettings(idle_ttl_s=5400).summary()
    assert "never idles out" in LoadSettings(idle_ttl_s=0).summary()
    assert [parse_idle_ttl(t) for t in ("10m", "90s", "2h", "1d", "5", "never")] == [
        600, 90, 7200, 86400, 300, 0]
    for bad in ("soon", "-5m", "40d"):
        with pytest.raises(ValueError):
            parse_idle_ttl(bad)


def test_registry_round_trip(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    model_id = owned(app_paths, lib)
    heard: list[None] = []
    lib.subscribe(lambda: heard.append(None))
    record = lib.set_load_settings(model_id, FULL)
    assert record.load == FULL and heard
    saved = json.loads(app_paths.registry_file.read_text())
    assert saved["models"][0]["load"]["parallel"] == 2
    assert library(app_paths).get(model_id).load == FULL
    # A rescan and a second registration keep them.
    lib.rescan()
    lib.add_owned(record.path, source=ModelSource.LOCAL)
    assert library(app_paths).get(model_id).load == FULL
    lib.set_load_settings(model_id, LoadSettings())
    assert "load" not in json.loads(app_paths.registry_file.read_text())["models"][0]
    with pytest.raises(ModelNotFoundError):
        lib.set_load_settings("no-such-model", FULL)


def test_an_old_registry_without_load_settings_reads_as_defaults(app_paths: AppPaths) -> None:
    lib = library(app_paths)
    model_id = owned(app_paths, lib)
    raw = json.loads(app_paths.registry_file.read_text())
    assert "load" not in raw["models"][0]
    again = library(app_paths)
    assert again.get(model_id).load == LoadSettings() and again.problem is None


def test_malformed_load_settings_keep_the_model_and_lose_nothing(app_paths: AppPaths, tmp_path: Path) -> None:
    lib = library(app_paths)
    model_id = owned(app_paths, lib)
    other = owned(app_paths, lib, "other-Q8_0.gguf")
    lib.set_load_settings(other, LoadSettings(parallel=2))
    raw = json.loads(app_paths.registry_file.read_text())
    entry = next(e for e in raw["models"] if e["id"] == model_id)
    entry["load"] = {"context_size": "lots", "parallel": 4}
    app_paths.registry_file.write_text(json.dumps(raw))
    reloaded = library(app_paths)
    # The model stays, with default load settings; the other model's settings are untouched.
    assert reloaded.get(model_id).load == LoadSettings()
    assert reloaded.get(other).load == LoadSettings(parallel=2)
    assert reloaded.problem is not None and model_id in reloaded.problem and "context_size" in reloaded.problem
    kept = [json.loads(line) for line in
            (app_paths.data_dir / "registry.bad-entries.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [k["entry"] for k in kept] == [entry]  # the entry as it was, load settings and all
    again = library(app_paths)
    assert again.problem is None and again.get(model_id).load == LoadSettings()


def test_settings_another_process_stored_are_seen_on_refresh(app_paths: AppPaths) -> None:
    app_library = library(app_paths)
    model_id = owned(app_paths, app_library)
    heard: list[None] = []
    app_library.subscribe(lambda: heard.append(None))
    assert app_library.refresh() is False and not heard  # nothing changed: nothing re-read
    library(app_paths).set_load_settings(model_id, LoadSettings(parallel=3))  # `configure` in a terminal
    assert app_library.get(model_id).load == LoadSettings()
    assert app_library.refresh() is True and heard
    assert app_library.get(model_id).load == LoadSettings(parallel=3)
