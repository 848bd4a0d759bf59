"""The library commands through run_cli, and once through the installed entry point in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llama_wrangler.cli import run_cli
from tests.support.gguf_files import write_gguf


class FakeTerminal(io.StringIO):
    """stdin that says it is a terminal, with the user's answer already typed."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run_cli(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "src" / "Tiny-Chat-Q4_K_M.gguf", name="Tiny Chat",
                      kv={"llama.context_length": 2048, "tokenizer.chat_template": "{{ x }}"}, vocab_size=100)


def test_import_then_list_and_info(app_home: Path, model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "import", str(model_file), "--mode", "copy")
    assert status == 0
    assert "Imported tiny-chat-q4_k_m" in out
    status, out, _ = run(capsys, "list")
    assert status == 0
    header, row = out.splitlines()
    assert header.split() == ["ID", "NAME", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX", "SOURCE"]
    assert row.split()[:5] == ["tiny-chat-q4_k_m", "Tiny-Chat-Q4_K_M", "llama", "36", "Q4_K_M"]
    assert header.index("CTX") == row.index("2048")  # columns line up
    status, out, _ = run(capsys, "info", "tiny")
    assert status == 0
    assert "chat template" in out and "yes" in out
    assert "context length" in out and "2048" in out
    assert "sha256" in out and "not computed" not in out  # the CLI hashes on import


def test_list_json(app_home: Path, model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "import", str(model_file), "--mode", "link", "--no-hash")
    status, out, _ = run(capsys, "list", "--json")
    assert status == 0
    [entry] = json.loads(out)
    assert entry["paths"] == [str(model_file)]
    assert entry["owned"] is False
    assert entry["info"]["context_length"] == 2048
    status, out, _ = run(capsys, "info", entry["id"], "--json")
    assert json.loads(out)["sha256"] is None


def test_default_mode_comes_from_settings(app_home: Path, model_file: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (app_home / "settings.json").write_text(json.dumps({"library": {"import_mode": "hardlink"}}))
    run(capsys, "import", str(model_file), "--no-hash")
    _, out, _ = run(capsys, "list", "--json")
    path = Path(json.loads(out)[0]["paths"][0])
    assert path.samefile(model_file) and path != model_file


def test_bad_input_is_one_line_on_stderr(app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04 not a model at all")
    status, out, err = run(capsys, "import", str(junk))
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and "not a GGUF file" in err
    status, _, err = run(capsys, "info", "nothing")
    assert status == 1 and "No model in the library matches 'nothing'" in err


def test_remove_needs_confirmation_without_a_terminal(app_home: Path, model_file: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "import", str(model_file), "--no-hash")
    status, _, err = run(capsys, "remove", "tiny")
    assert status == 1 and "--yes" in err
    assert run(capsys, "list", "--json")[1].strip() != "[]"


def test_remove_asks_on_a_terminal(app_home: Path, model_file: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "import", str(model_file), "--no-hash")
    monkeypatch.setattr(sys, "stdin", FakeTerminal("n\n"))
    status, out, _ = run(capsys, "remove", "tiny", "--delete-file")
    assert status == 1 and "Nothing removed" in out
    monkeypatch.setattr(sys, "stdin", FakeTerminal("y\n"))
    status, _, _ = run(capsys, "remove", "tiny", "--delete-file")
    assert status == 0
    assert list((app_home / "models").iterdir()) == []
    assert model_file.exists()  # the import was a copy; the original is untouched


def test_remove_delete_file_refuses_linked_models(app_home: Path, model_file: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "import", str(model_file), "--mode", "link", "--no-hash")
    status, _, err = run(capsys, "remove", "tiny", "--delete-file", "--yes")
    assert status == 1 and "only deletes files in its own models folder" in err
    assert model_file.exists()


def test_rescan_reports_what_it_found(app_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_gguf(app_home / "models" / "dropped.gguf")
    status, out, _ = run(capsys, "rescan")
    assert status == 0
    assert "added: dropped-q4_k_m" in out and "1 added" in out


def test_scan_stores_links_other_stores(app_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_gguf(tmp_path / "lms" / ".lmstudio" / "models" / "pub" / "repo" / "m-Q8_0.gguf")
    monkeypatch.setenv("HOME", str(tmp_path / "lms"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "no-ollama"))
    status, out, _ = run(capsys, "scan-stores")
    assert status == 0 and "linked: m-q8_0" in out
    _, out, _ = run(capsys, "list")
    assert "lmstudio (linked)" in out


def test_entry_point_works_without_a_display(app_home: Path, model_file: Path) -> None:
    script = Path(sys.executable).with_name("llama-wrangler")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    imported = subprocess.run([str(script), "import", str(model_file), "--no-hash"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert imported.returncode == 0, imported.stderr
    listed = subprocess.run([str(script), "list"], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert listed.returncode == 0, listed.stderr
    assert "tiny-chat-q4_k_m" in listed.stdout
