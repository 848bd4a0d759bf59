"""The pull / downloads commands as a user runs them: a real process against the loopback hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llama_wrangler.paths import AppPaths
from llama_wrangler.sources.partials import list_partials
from tests.support.cli_pull import interrupt_pull
from tests.support.fake_hub import FakeHub, Fault
from tests.support.hf_repos import GGUF_REPO, PublishedGGUF


def _cli(app_home: Path, hub: FakeHub) -> tuple[list[str], dict[str, str]]:
    settings = {"downloads": {"hf_endpoint": hub.endpoint, "token_source": "settings"},
                "server": {"context_size": 512}}
    (app_home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(app_home), "HF_HUB_DISABLE_XET": "1"}
    return [sys.executable, "-m", "llama_wrangler"], env


def test_pull_list_marks_the_recommended_quant(hub: FakeHub, gguf_repo: PublishedGGUF, app_home: Path) -> None:
    argv, env = _cli(app_home, hub)
    done = subprocess.run([*argv, "pull", f"hf:{GGUF_REPO}", "--list"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("* F16") for line in lines)
    assert any("Q2_K" in line and "3 shards" in line for line in lines)
    assert "projector: mmproj-tiny-F16.gguf" in done.stdout


def test_pull_bad_input_is_one_clear_line(app_home: Path, hub: FakeHub) -> None:
    argv, env = _cli(app_home, hub)
    done = subprocess.run([*argv, "pull", "not a model"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("llama-wrangler: error: 'not a model' is not a model reference")
    assert len(done.stderr.strip().splitlines()) == 1


def test_ctrl_c_keeps_partial_and_rerun_resumes(hub: FakeHub, gguf_repo: PublishedGGUF, app_home: Path) -> None:
    argv, env = _cli(app_home, hub)
    paths = AppPaths.under(app_home)
    size = gguf_repo.files["tiny-F16.gguf"].stat().st_size
    hub.add_fault("tiny-F16.gguf", Fault.slow(size // 5))
    returncode, err = interrupt_pull([*argv, "pull", f"hf:{GGUF_REPO}:F16"], env, paths)
    assert returncode == 130
    assert "run the same command again to resume" in err
    [partial] = list_partials(paths)
    hub.clear_faults()
    hub.reset_counters()
    done = subprocess.run([*argv, "pull", f"hf:{GGUF_REPO}:F16", "--quiet"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added ")
    ranges = [r.range for r in hub.requests("GET") if "/cdn/" in r.path]
    assert ranges == [f"bytes={partial.bytes_on_disk}-"]
    listing = subprocess.run([*argv, "downloads"], env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert listing.stdout.strip() == "No unfinished downloads."


def test_a_pull_with_hf_endpoint_set_works_with_no_settings(hub: FakeHub, gguf_repo: PublishedGGUF,
                                                            app_home: Path) -> None:
    # A user behind a mirror: HF_ENDPOINT in the environment, no settings file at all.
    env = {**os.environ, "LLAMA_WRANGLER_HOME": str(app_home), "HF_HUB_DISABLE_XET": "1",
           "HF_ENDPOINT": hub.endpoint}
    env.pop("HF_TOKEN", None)
    assert not (app_home / "settings.json").exists()
    done = subprocess.run([sys.executable, "-m", "llama_wrangler", "pull", f"hf:{GGUF_REPO}:Q4_K_M", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added ")
    assert any("/cdn/" in r.path and "tiny-Q4_K_M" in r.path for r in hub.requests("GET"))


def test_an_unreachable_hub_reads_as_what_happened(app_home: Path, hub: FakeHub) -> None:
    argv, env = _cli(app_home, hub)
    (app_home / "settings.json").unlink()
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: nothing listens there
    done = subprocess.run([*argv, "pull", f"hf:{GGUF_REPO}", "--list"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "127.0.0.1 refused the connection" in done.stderr and "HF_ENDPOINT" in done.stderr
    assert "Errno" not in done.stderr
