"""A model's own load settings on the llama-server command line (every start goes through prepare_run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject

from llama_wrangler.errors import ServerError
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.runtime.pyserver import pyserver_runtime
from llama_wrangler.server.backend import server_backend
from llama_wrangler.server.run import ServeTarget, prepare_run
from llama_wrangler.settings import ServerSettings

GLOBAL = ServerSettings(context_size=4096, parallel=1, threads=0, gpu_layers=-1, extra_args="--mlock")


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    server, model = tmp_path / "llama-server", tmp_path / "m.gguf"
    server.write_text("")
    model.write_text("")
    return server, model


def argv_for(files: tuple[Path, Path], load: LoadSettings | None, settings: ServerSettings = GLOBAL) -> list[str]:
    server, model = files
    run = prepare_run(server_backend(server), settings, ServeTarget(model, "m", load=load), 1, log_path=None,
                      parent=QObject())
    return run.argv


def test_without_load_settings_the_global_ones_are_used(qapp: object, files: tuple[Path, Path]) -> None:
    argv = argv_for(files, None)
    assert (flag(argv, "-c"), flag(argv, "-np"), flag(argv, "-ngl")) == ("4096", "1", "999")
    assert "-t" not in argv and "--mlock" in argv and "--chat-template" not in argv


def test_a_models_settings_replace_the_global_ones(qapp: object, files: tuple[Path, Path]) -> None:
    load = LoadSettings(context_size=8192, gpu_layers=10, threads=3, parallel=2, chat_template="chatml",
                        extra_args="--no-mmap --temp 0.5")
    argv = argv_for(files, load)
    assert (flag(argv, "-c"), flag(argv, "-ngl"), flag(argv, "-t"), flag(argv, "-np")) == ("8192", "10", "3", "2")
    assert flag(argv, "--chat-template") == "chatml"
    assert "--mlock" not in argv and argv[-3:] == ["--no-mmap", "--temp", "0.5"]  # extra args replace
    assert argv.count("-c") == 1 and argv.count("-np") == 1  # nothing twice


def test_a_template_file_is_passed_as_a_file_and_must_exist(qapp: object, files: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    template = tmp_path / "mine.jinja"
    with pytest.raises(ServerError, match="chat template file"):
        argv_for(files, LoadSettings(chat_template=str(template)))
    template.write_text("{{ messages }}")
    assert flag(argv_for(files, LoadSettings(chat_template=str(template))), "--chat-template-file") == str(template)


def test_the_fallback_server_gets_the_numbers_but_no_template(qapp: object, files: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    _, model = files
    python = tmp_path / "python"
    python.write_text("")
    run = prepare_run(server_backend(pyserver_runtime(python)), GLOBAL,
                      ServeTarget(model, "m", load=LoadSettings(context_size=2048, chat_template="chatml")), 1,
                      log_path=None, parent=QObject())
    assert flag(run.argv, "--n_ctx") == "2048" and "chatml" not in run.argv


def test_targets_differ_when_the_command_line_would() -> None:
    model = Path("/m.gguf")
    plain = ServeTarget(model, "m")
    assert plain == ServeTarget(model, "m", load=LoadSettings())  # default = none
    assert plain != ServeTarget(model, "m", load=LoadSettings(parallel=2))
    # How long it stays loaded is no reason to restart it.
    assert ServeTarget(model, "m", load=LoadSettings(parallel=2)) == ServeTarget(
        model, "m", load=LoadSettings(parallel=2, pinned=True, idle_ttl_s=60))
    assert ServeTarget(model, "m", load=LoadSettings(pinned=True)).load == LoadSettings(pinned=True)
