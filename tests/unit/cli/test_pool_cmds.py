"""``pool add|remove|list`` keep the workers in the settings and check them; ``worker`` guards the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_wrangler.cli import run_cli
from llama_wrangler.settings import load_settings
from tests.support.fake_rpc_worker import fake_worker


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run_cli(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_add_remove_and_list_workers(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    assert run(capsys, "pool", "list")[1].startswith("The pool is empty.")
    status, out, _ = run(capsys, "pool", "add", "10.0.0.7:50052")
    assert status == 0 and "the pool has 1 worker." in out
    assert run(capsys, "pool", "add", "10.0.0.7:50052")[1].strip() == "10.0.0.7:50052 is already in the pool."
    assert run(capsys, "pool", "add", "[fe80::2]:50052")[0] == 0
    settings = load_settings(app_home / "settings.json").settings
    assert settings.pool.worker_list() == ["10.0.0.7:50052", "[fe80::2]:50052"]
    status, _, err = run(capsys, "pool", "remove", "10.0.0.9:50052")
    assert status == 1 and "10.0.0.9:50052 is not in the pool" in err
    status, _, err = run(capsys, "pool", "add", "no-port")
    assert status == 1 and "not a worker address" in err
    assert run(capsys, "pool", "remove", "10.0.0.7:50052")[0] == 0
    assert load_settings(app_home / "settings.json").settings.pool.worker_list() == ["[fe80::2]:50052"]


def test_list_checks_every_worker(capsys: pytest.CaptureFixture[str], app_home: Path, tmp_path: Path) -> None:
    server = tmp_path / "llama-server"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    with fake_worker((7, 0, 0)) as good, fake_worker((5, 0, 0)) as old:
        (app_home / "settings.json").write_text(json.dumps(
            {"runtime": {"llama_server_path": str(server)}, "pool": {"workers": f"{good},{old}"}}), encoding="utf-8")
        status, out, _ = run(capsys, "pool", "list")
    assert f"ok    {good}: RPC 7.0.0" in out
    # A bare binary's build is unknown: the pool is checked for reachability and memory only.
    assert f"ok    {old}: RPC 5.0.0" in out and status == 0


def test_worker_refuses_to_face_the_network_without_expose(capsys: pytest.CaptureFixture[str],
                                                           app_home: Path) -> None:
    status, _, err = run(capsys, "worker", "--host", "192.168.1.5")
    assert status == 1 and "exposes it beyond this computer" in err and "--expose" in err
