"""``ps``, ``load``, ``unload`` against what may answer on the port: nothing, an endpoint that wants another
API key, or someone else's server (a plain llama-server has ``/models`` too)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llama_wrangler.cli import run_cli
from llama_wrangler.server.ports import pick_free_port

# What llama-server (b11312) answers, as read from the real one.
LLAMA_MODELS = {"object": "list", "data": [{"id": "/models/tiny.gguf", "object": "model", "owned_by": "llamacpp"}]}
LLAMA_404 = {"error": {"message": "File Not Found", "type": "not_found_error", "code": 404}}
WRANGLER_401 = {"error": {"message": "Invalid API key.", "type": "authentication_error", "code": "invalid_api_key"}}


@contextmanager
def answering(routes: dict[tuple[str, str], tuple[int, dict[str, object]]]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, doc = routes.get((method, self.path), (404, LLAMA_404))
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = run_cli(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_a_plain_llama_server_on_the_port_is_named_as_not_ours(capsys: pytest.CaptureFixture[str],
                                                                app_home: Path) -> None:
    with answering({("GET", "/models"): (200, LLAMA_MODELS)}) as url:
        status, out, err = run(capsys, "ps", "--url", url)
        assert status == 1 and "No model is loaded" not in out  # it does serve a model: never say none is
        assert "not Llama Wrangler" in err
        for command in ("load", "unload"):
            status, _out, err = run(capsys, command, "tiny", "--url", url)
            assert status == 1 and "not Llama Wrangler" in err and "File Not Found" not in err


def test_a_wrong_api_key_says_which_setting_to_fix(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    with answering({("GET", "/models"): (401, WRANGLER_401)}) as url:
        status, _out, err = run(capsys, "ps", "--url", url)
    assert status == 1 and "Invalid API key." in err and "server.api_key" in err


def test_nothing_listening_is_one_clear_line(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    url = f"http://127.0.0.1:{pick_free_port('127.0.0.1')}"
    status, _out, err = run(capsys, "unload", "alpha", "--url", url)
    assert status == 1 and f"Nothing answers at {url}" in err and "Traceback" not in err


def test_a_wrangler_model_not_found_keeps_its_own_message(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    missing = {"error": {"message": "The model 'nope' is not in the library.", "type": "invalid_request_error",
                         "code": "model_not_found"}}
    with answering({("POST", "/models/load"): (404, missing)}) as url:
        status, _out, err = run(capsys, "load", "nope", "--url", url)
    assert status == 1 and "is not in the library" in err
