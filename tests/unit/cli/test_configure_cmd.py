"""``llama-wrangler configure MODEL``: prints and stores a model's own load settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_wrangler.cli import run_cli
from llama_wrangler.library.load_settings import LoadSettings
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from tests.support.gguf_files import write_gguf


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run_cli(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def model_id(app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    run(capsys, "import", str(write_gguf(tmp_path / "Tiny-Q4_K_M.gguf")), "--mode", "link", "--no-hash")
    return "tiny-q4_k_m"


def stored(app_home: Path, model_id: str) -> LoadSettings:
    return Library(AppPaths.under(app_home), hash_in_background=False).load().get(model_id).load


def test_without_options_it_prints_stored_and_effective(model_id: str, app_home: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (app_home / "settings.json").write_text(json.dumps({"server": {"context_size": 2048}}))
    status, out, _ = run(capsys, "configure", model_id)
    assert status == 0
    context_row = next(line for line in out.splitlines() if line.strip().startswith("context"))
    assert context_row.split()[1:] == ["default", "2048", "tokens"]  # the global setting is what applies
    assert stored(app_home, model_id).is_default


def test_options_are_stored_and_shown(model_id: str, app_home: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "chat.jinja"
    template.write_text("{{ messages }}")
    status, out, err = run(capsys, "configure", "tiny", "--context", "8192", "--parallel", "2", "--threads", "3",
                           "--gpu-layers", "10", "--chat-template", str(template), "--extra-args=--no-mmap",
                           "--idle-ttl", "10m", "--pin")
    assert status == 0, err
    assert "Saved" in out
    assert stored(app_home, model_id) == LoadSettings(
        context_size=8192, parallel=2, threads=3, gpu_layers=10, chat_template=str(template),
        extra_args="--no-mmap", idle_ttl_s=600, pinned=True)
    status, out, _ = run(capsys, "configure", model_id, "--json")
    effective = json.loads(out)["effective"]
    assert (effective["context_size"], effective["parallel"], effective["pinned"]) == (8192, 2, True)
    # `default` clears one setting; the others stay.
    run(capsys, "configure", model_id, "--context", "default", "--idle-ttl", "never", "--unpin")
    assert stored(app_home, model_id) == LoadSettings(
        parallel=2, threads=3, gpu_layers=10, chat_template=str(template), extra_args="--no-mmap", idle_ttl_s=0)
    run(capsys, "configure", model_id, "--reset")
    assert stored(app_home, model_id).is_default


@pytest.mark.parametrize(("argv", "words"), [
    (("--context", "100"), "context_size: must be 0"), (("--parallel", "two"), "parallel: “two” is not a whole"),
    (("--chat-template", "no/such.jinja"), "not an existing file"), (("--chat-template", "bad name!"), "template"),
    (("--extra-args=--port 9", ), "--port"), (("--idle-ttl", "soon"), "not a duration"),
])
def test_bad_values_change_nothing(model_id: str, app_home: Path, capsys: pytest.CaptureFixture[str],
                                   argv: tuple[str, ...], words: str) -> None:
    run(capsys, "configure", model_id, "--parallel", "4")
    status, _, err = run(capsys, "configure", model_id, *argv)
    assert status == 1 and words in err and "Traceback" not in err
    assert stored(app_home, model_id) == LoadSettings(parallel=4)


def test_an_unknown_model_is_an_error(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "configure", "nothing-here", "--parallel", "2")
    assert status == 1 and "nothing-here" in err
