"""``pull`` of Ollama models as a user runs it: a real process against the loopback registry + CDN."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llama_wrangler.library.origins import OllamaOrigin
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.partials import list_partials
from tests.support.cli_pull import interrupt_pull
from tests.support.fake_hub import Fault
from tests.support.fake_ollama import FakeOllama, PublishedTag
from tests.support.ollama_models import TEXTS


def _cli(app_home: Path, registry: FakeOllama) -> tuple[list[str], dict[str, str]]:
    settings = {"downloads": {"ollama_registry": registry.base, "retries": 2}}
    (app_home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(app_home)}
    return [sys.executable, "-m", "llama_wrangler"], env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_pull_adds_the_model_with_its_metadata(registry: FakeOllama, published: PublishedTag,
                                               gguf_bytes: bytes, app_home: Path) -> None:
    argv, env = _cli(app_home, registry)
    done = _run([*argv, "pull", "ollama:llama3.2:1b"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added ")
    assert "Downloading ollama:llama3.2:1b" in done.stderr
    [record] = Library(AppPaths.under(app_home), hash_in_background=False).load().models()
    assert record.path.read_bytes() == gguf_bytes
    assert record.source == "ollama"
    assert isinstance(record.origin, OllamaOrigin)
    assert record.origin.digest == published.model_digest
    assert record.origin.template == TEXTS["template"]


def test_bare_name_and_tag_is_an_ollama_model(registry: FakeOllama, published: PublishedTag,
                                              app_home: Path) -> None:
    argv, env = _cli(app_home, registry)
    done = _run([*argv, "pull", "llama3.2:1b", "--list"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"ollama:llama3.2:1b ({registry.base})"
    kinds = [line.split()[0] for line in done.stdout.splitlines()[1:]]
    assert kinds == ["model", "template", "params", "system", "license"]
    assert not registry.requests("cdn")  # --list downloads nothing


def test_unknown_tag_is_one_clear_line(registry: FakeOllama, published: PublishedTag, app_home: Path) -> None:
    argv, env = _cli(app_home, registry)
    done = _run([*argv, "pull", "ollama:llama3.2:405b"], env)
    assert done.returncode == 1
    assert done.stderr.startswith("llama-wrangler: error: No such model/tag: ollama:llama3.2:405b")
    assert len(done.stderr.strip().splitlines()) == 1


def test_hostile_name_is_refused_without_a_request(registry: FakeOllama, app_home: Path) -> None:
    argv, env = _cli(app_home, registry)
    done = _run([*argv, "pull", "ollama:../../etc:passwd"], env)
    assert done.returncode == 1
    assert "is not a valid Ollama model name" in done.stderr
    assert registry.requests() == []


def test_ctrl_c_keeps_partial_and_rerun_resumes(registry: FakeOllama, published: PublishedTag,
                                               gguf_bytes: bytes, app_home: Path) -> None:
    argv, env = _cli(app_home, registry)
    paths = AppPaths.under(app_home)
    registry.add_fault(published.model_digest, Fault.slow(len(gguf_bytes) // 5))
    returncode, err = interrupt_pull([*argv, "pull", "ollama:llama3.2:1b"], env, paths)
    assert returncode == 130, err
    assert "run the same command again to resume" in err
    downloads = _run([*argv, "downloads"], env)
    assert "resume: llama-wrangler pull ollama:llama3.2:1b" in downloads.stdout
    [partial] = list_partials(paths)
    registry.clear_faults()
    registry.reset_counters()
    done = _run([*argv, "pull", "ollama:llama3.2:1b", "--quiet"], env)
    assert done.returncode == 0, done.stderr
    ranges = [r.range for r in registry.requests("cdn") if published.model_digest in r.path]
    assert ranges == [f"bytes={partial.bytes_on_disk}-"]
    [record] = Library(paths, hash_in_background=False).load().models()
    assert record.path.read_bytes() == gguf_bytes
    assert _run([*argv, "downloads"], env).stdout.strip() == "No unfinished downloads."
