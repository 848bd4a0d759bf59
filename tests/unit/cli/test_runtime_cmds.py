"""`runtime status` wording and the terminal progress bar (no runtime needed)."""

from __future__ import annotations

import io
from typing import Any

from llama_wrangler.cli.runtime_cmds import TerminalProgress, format_status
from llama_wrangler.progress import Progress

PINNED = {"tag": "b11312", "build_number": 11312, "commit": "0c1e57098bba43ac29e6e3b677cdceebdd22334f"}


def test_missing_runtime_is_explained() -> None:
    report: dict[str, Any] = {"pinned": PINNED, "gpus": [], "buildable_backend": "cpu",
                              "buildable_backend_reason": "no GPU toolkit found", "found": False,
                              "problem": "No llama.cpp runtime found (looked in /x, PATH). Run `llama-wrangler "
                                         "runtime install` to build or install one."}
    text = format_status(report)
    assert "llama.cpp runtime: not found" in text and "runtime install" in text
    assert "GPUs seen: none" in text and "would use: cpu" in text


def test_too_old_runtime_is_reported_as_a_problem() -> None:
    report: dict[str, Any] = {
        "pinned": PINNED, "gpus": ["NVIDIA H100 80GB HBM3, 81559 MiB"], "buildable_backend": "cuda",
        "buildable_backend_reason": "nvcc", "found": True, "where": "path", "where_text": "PATH",
        "server": "/usr/bin/llama-server", "quantize": None, "backend": "cuda", "build_number": 3000,
        "commit": "abc1234", "version": None, "usable": False, "devices": ["CUDA0: NVIDIA H100"],
        "problem": "/usr/bin/llama-server is llama.cpp build 3000, older than build 5000 ...",
        "toolchain": {"state": "none", "detail": "only the app's own runtime dir carries it"}}
    text = format_status(report)
    assert "found in PATH" in text and "llama-quantize: missing" in text
    assert "build 3000, commit abc1234" in text and "the pinned version" not in text
    assert "PROBLEM:" in text and "older than build 5000" in text
    assert "GPUs seen: NVIDIA H100" in text and "devices:        CUDA0" in text


def test_progress_without_a_terminal_prints_stage_and_tens() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out)
    for done in range(0, 101, 5):
        bar(Progress("build", done, 100, "compiling"))
    bar(Progress("tools", message="copying"))
    bar.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == "build 0%: compiling" and lines[-2] == "build 100%: compiling"
    assert len(lines) == 12 and lines[-1] == "tools: copying"
