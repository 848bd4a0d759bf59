"""``llama-wrangler serve`` in the foreground: prints the endpoint, serves completions, Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from llama_wrangler.paths import AppPaths
from llama_wrangler.server.ports import pick_free_port
from tests.support.server_fixtures import TinyModels

pytestmark = pytest.mark.runtime


def test_serve_prints_endpoint_answers_and_stops_on_ctrl_c(
        app_home: Path, llama_server_binary: Path, tiny_models: TinyModels) -> None:
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)}}), encoding="utf-8")
    port = pick_free_port("127.0.0.1")
    child = subprocess.Popen(
        [sys.executable, "-m", "llama_wrangler", "serve", str(tiny_models.alpha), "--port", str(port),
         "--ctx", "256", "--threads", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None

    def until_ready() -> list[str]:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                break
        return lines

    def servers() -> list[psutil.Process]:
        return [p for p in psutil.Process(child.pid).children(recursive=True)
                if p.name() == "llama-server" and p.status() != psutil.STATUS_ZOMBIE]

    try:
        lines = until_ready()
        assert lines[0].strip() == "server: starting"
        match = re.search(r"ready: (http://127\.0\.0\.1:(\d+))\s+model=alpha\s+n_ctx=256", lines[-1])
        assert match, lines
        assert int(match.group(2)) == port
        reply = httpx.post(f"{match.group(1)}/v1/completions", timeout=30,
                           json={"prompt": "hello", "max_tokens": 2})
        assert reply.status_code == 200
        first = servers()
        assert len(first) == 1

        # A model typed on stdin is loaded beside the first (both fit) and takes requests naming none;
        # switching back finds alpha still loaded: no reload.
        for name, path in (("beta", tiny_models.beta), ("alpha", tiny_models.alpha)):
            child.stdin.write(f"{path}\n")
            child.stdin.flush()
            lines = until_ready()
            assert f"switching to {name}" in lines[0]
            assert f"model={name}" in lines[-1], lines
            models = httpx.get(f"{match.group(1)}/v1/models", timeout=10).json()
            assert {m["id"] for m in models["data"]} == {"alpha", "beta"}
            served = httpx.post(f"{match.group(1)}/v1/completions", timeout=30, json={"prompt": "hi", "max_tokens": 2})
            assert served.json()["model"] == name
        last = servers()
        assert len(last) == 2 and first[0].pid in {p.pid for p in last}

        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert "server: stopped" in out
        assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in last)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def test_serve_unknown_model_is_one_clear_line(app_home: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "llama_wrangler", "serve", "no-such-model"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("llama-wrangler: error:")
    assert "no-such-model" in result.stderr


def test_serve_uses_the_models_folder_from_the_settings(
        app_home: Path, tmp_path: Path, llama_server_binary: Path, tiny_models: TinyModels) -> None:
    models = tmp_path / "my-models"
    models.mkdir()
    (models / "alpha.gguf").write_bytes(tiny_models.alpha.read_bytes())
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)},
         "library": {"models_dir": str(models)}}), encoding="utf-8")
    # An unreadable registry is rebuilt from the models folder: it must be the one the settings name.
    registry = AppPaths.under(app_home).ensure().registry_file
    registry.write_text("{not json", encoding="utf-8")
    port = pick_free_port("127.0.0.1")
    child = subprocess.Popen(
        [sys.executable, "-m", "llama_wrangler", "serve", "alpha", "--port", str(port), "--ctx", "256",
         "--threads", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ))
    assert child.stdout is not None
    try:
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                break
        assert lines and re.search(r"ready: http://127\.0\.0\.1:\d+\s+model=alpha-f32\s", lines[-1]), lines
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert "server: stopped" in out
        assert "rebuilt from the models folder (1 models found)" in err
        rebuilt = json.loads(registry.read_text(encoding="utf-8"))
        assert [entry["paths"] for entry in rebuilt["models"]] == [[str(models / "alpha.gguf")]]
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def test_serve_routes_a_request_naming_another_library_model(
        app_home: Path, tmp_path: Path, llama_server_binary: Path, tiny_models: TinyModels) -> None:
    models = tmp_path / "my-models"
    models.mkdir()
    (models / "alpha.gguf").write_bytes(tiny_models.alpha.read_bytes())
    (models / "beta.gguf").write_bytes(tiny_models.beta.read_bytes())
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)},
         "library": {"models_dir": str(models)}}), encoding="utf-8")
    # No registry yet: an unreadable one is rebuilt from the models folder, which holds both models.
    AppPaths.under(app_home).ensure().registry_file.write_text("{not json", encoding="utf-8")
    port = pick_free_port("127.0.0.1")
    child = subprocess.Popen(
        [sys.executable, "-m", "llama_wrangler", "serve", str(models / "alpha.gguf"), "--port", str(port),
         "--ctx", "256", "--threads", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ))
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith("ready:"):
                break
        url = f"http://127.0.0.1:{port}"
        listed = [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=10).json()["data"]]
        others = [model_id for model_id in listed if model_id.startswith("beta")]
        assert len(others) == 1, listed
        other = others[0]
        # The same port speaks Ollama, with the library's facts about each model (api_facts).
        tags = {m["name"]: m for m in httpx.get(f"{url}/api/tags", timeout=10).json()["models"]}
        assert set(tags) == {f"{model_id}:latest" for model_id in listed}
        beta = tags[f"{other}:latest"]
        assert beta["size"] == (models / "beta.gguf").stat().st_size
        assert beta["details"]["format"] == "gguf" and beta["details"]["family"] == "llama"
        reply = httpx.post(f"{url}/v1/completions", timeout=60,
                           json={"model": other, "prompt": "hello", "max_tokens": 2})
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == other
        # Both fit, so both stay loaded; a request naming no model still gets the one `serve` was given.
        status = {m["id"]: m["status"]["value"] for m in httpx.get(f"{url}/models", timeout=10).json()["data"]}
        assert list(status.values()).count("loaded") == 2 and status[other] == "loaded"
        props = httpx.get(f"{url}/props", timeout=10).json()
        assert Path(props["model_path"]).name == "alpha.gguf"
        ps = subprocess.run([sys.executable, "-m", "llama_wrangler", "ps", "--url", url], capture_output=True,
                            text=True, timeout=60, env=dict(os.environ))
        assert ps.returncode == 0, ps.stderr
        assert other in ps.stdout and "RSS" in ps.stdout and "*" in ps.stdout
        unloaded = subprocess.run([sys.executable, "-m", "llama_wrangler", "unload", other, "--url", url],
                                  capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert unloaded.returncode == 0, unloaded.stderr
        assert httpx.post(f"{url}/v1/completions", timeout=10,
                          json={"model": "nope", "prompt": "x"}).status_code == 404
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert f"a request asks for {other}" in out
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def test_serve_on_a_busy_port_says_so_when_told_to(app_home: Path, llama_server_binary: Path,
                                                   tiny_models: TinyModels) -> None:
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)},
         "server": {"port_conflict": "fail"}}), encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "llama_wrangler", "serve", str(tiny_models.alpha),
                                 "--port", str(port)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr


def test_serve_of_a_model_that_crashes_while_loading_exits_with_the_reason(
        app_home: Path, llama_server_binary: Path, tiny_models: TinyModels) -> None:
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)}, "server": {"auto_restart": False}}),
        encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "llama_wrangler", "serve", str(tiny_models.corrupt),
                             "--port", str(pick_free_port("127.0.0.1"))], capture_output=True, text=True,
                            timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "server: crashed" in result.stdout and "Traceback" not in result.stderr
    assert "llama-wrangler: error:" in result.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llama_wrangler", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ), check=False)


def test_load_ps_and_unload_drive_a_running_serve(
        app_home: Path, tmp_path: Path, llama_server_binary: Path, tiny_models: TinyModels) -> None:
    """The commands a user types in a second terminal while `serve` runs: load another library model,
    see both, unload the one `serve` was started with (serve keeps running), and load it back."""
    models = tmp_path / "my-models"
    models.mkdir()
    (models / "alpha.gguf").write_bytes(tiny_models.alpha.read_bytes())
    (models / "beta.gguf").write_bytes(tiny_models.beta.read_bytes())
    port = pick_free_port("127.0.0.1")
    (app_home / "settings.json").write_text(json.dumps(
        {"runtime": {"llama_server_path": str(llama_server_binary)}, "library": {"models_dir": str(models)},
         "server": {"port": port}}), encoding="utf-8")
    AppPaths.under(app_home).ensure().registry_file.write_text("{not json", encoding="utf-8")  # rebuilt: both
    child = subprocess.Popen(
        [sys.executable, "-m", "llama_wrangler", "serve", str(models / "alpha.gguf"), "--ctx", "256",
         "--threads", "1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert child.stdout is not None
    url = f"http://127.0.0.1:{port}"
    try:
        for line in child.stdout:
            if line.startswith("ready:"):
                break
        ids = [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=10).json()["data"]]
        alpha = next(i for i in ids if i.startswith("alpha"))
        beta = next(i for i in ids if i.startswith("beta"))

        loaded = _cli("load", beta)  # the address from the settings (server.port)
        assert loaded.returncode == 0, loaded.stderr
        assert f"{beta} is loaded" in loaded.stdout
        ps = _cli("ps")
        assert ps.returncode == 0, ps.stderr
        assert alpha in ps.stdout and beta in ps.stdout

        unloaded = _cli("unload", alpha)
        assert unloaded.returncode == 0, unloaded.stderr

        def states() -> dict[str, str]:
            return {m["id"]: m["status"]["value"] for m in httpx.get(f"{url}/models", timeout=10).json()["data"]}

        for _ in range(600):
            if states()[alpha] == "unloaded":
                break
            time.sleep(0.05)
        assert states() == {alpha: "unloaded", beta: "loaded"}
        assert child.poll() is None  # serve keeps serving the other model
        anyone = httpx.post(f"{url}/v1/completions", timeout=60, json={"prompt": "hi", "max_tokens": 2})
        assert anyone.status_code == 200 and anyone.json()["model"] == beta
        again = _cli("load", alpha)
        assert again.returncode == 0, again.stderr
        assert states() == {alpha: "loaded", beta: "loaded"}
        gone = _cli("unload", "no-such-model")
        assert gone.returncode == 1 and "no-such-model" in gone.stderr

        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
