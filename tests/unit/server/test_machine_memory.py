"""Free memory now: psutil for RAM, nvidia-smi for GPUs (a GPU is a true edge here: a stand-in
``nvidia-smi`` script on PATH prints captured output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from llama_wrangler.server.machine_memory import process_rss, read_budget
from llama_wrangler.sources.machine import GpuMemory, parse_nvidia_smi, read_nvidia_gpus

MiB = 1024 * 1024

# nvidia-smi --query-gpu=memory.total,memory.free --format=csv,noheader,nounits on two A100s, one busy
TWO_GPUS = "81920, 80987\n81920, 1024\n"


def fake_nvidia_smi(folder: Path, body: str) -> Path:
    """An ``nvidia-smi`` on PATH that runs ``body`` (a Python script) with the real tool's arguments."""
    script = folder / "nvidia-smi"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


@pytest.fixture
def path_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    return tmp_path


def test_parse_two_gpus() -> None:
    assert parse_nvidia_smi(TWO_GPUS.splitlines()) == [GpuMemory(81920 * MiB, 80987 * MiB),
                                                        GpuMemory(81920 * MiB, 1024 * MiB)]


@pytest.mark.parametrize("text", [
    "[N/A], [N/A]",
    "[Not Supported], [Not Supported]",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    "81920",
    "81920, 90000",  # more free than total: not a reading we trust
    "",
])
def test_parse_skips_what_is_not_two_numbers(text: str) -> None:
    assert parse_nvidia_smi([text]) == []


def test_parse_keeps_good_lines_beside_bad_ones() -> None:
    assert parse_nvidia_smi(["[N/A], [N/A]", "24564, 20000"]) == [GpuMemory(24564 * MiB, 20000 * MiB)]


def test_budget_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no nvidia-smi
    budget = read_budget()
    assert budget.vram_total == 0 and budget.vram_free == 0
    assert 0 < budget.ram_available <= budget.ram_total == psutil.virtual_memory().total
    assert "no GPU" in budget.source


def test_budget_with_nvidia_smi_on_path(path_with: Path) -> None:
    record = path_with / "argv.txt"
    fake_nvidia_smi(path_with, f"open({str(record)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                               f"print({TWO_GPUS!r}, end='')")
    budget = read_budget()
    assert budget.vram_total == 2 * 81920 * MiB
    assert budget.vram_free == (80987 + 1024) * MiB
    assert "nvidia-smi (2 GPUs)" in budget.source
    assert record.read_text() == "--query-gpu=memory.total,memory.free --format=csv,noheader,nounits"


@pytest.mark.parametrize("body", [
    "print('NVIDIA-SMI has failed'); sys.exit(9)",  # no driver
    "time.sleep(30)",  # hangs: cut by the timeout
    "print('garbage')",
])
def test_a_failing_nvidia_smi_means_no_gpu(path_with: Path, body: str) -> None:
    fake_nvidia_smi(path_with, body)
    assert read_nvidia_gpus(timeout_s=1.0) == []
    assert read_budget(timeout_s=1.0).vram_total == 0


def test_a_tool_that_cannot_run_means_no_gpu(tmp_path: Path) -> None:
    broken = tmp_path / "nvidia-smi"
    broken.write_text("not a program", encoding="utf-8")
    broken.chmod(0o755)
    assert read_nvidia_gpus(str(broken)) == []
    assert read_nvidia_gpus(str(tmp_path / "missing")) == []


def test_process_rss_of_a_live_and_a_gone_process() -> None:
    own = process_rss(os.getpid())
    assert own is not None and own > 10 * MiB  # this interpreter with pytest loaded
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_rss(child.pid) is None
