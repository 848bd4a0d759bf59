"""The Linux app bundle, end to end: ``scripts/package.py`` builds it with PyInstaller, it starts under a
real X server (Xvfb) with an empty data folder and a bare environment (no Python, no venv on PATH), its
window titled "Llama Wrangler" appears, its bundled QtWebEngine loads a loopback page, and SIGTERM quits
it cleanly (exit status 0). Prints the build time and bundle size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAGE_TITLE = "Loopback page for the bundle"
WAIT_S = 120.0


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<html><head><title>{PAGE_TITLE}</title></head><body>ok</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def display() -> Iterator[str]:
    xvfb = require_tool("Xvfb", "the bundle is started under a real X server (Debian's xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not report its display"
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def _build(tmp_path: Path) -> dict[str, object]:
    report_file = tmp_path / "report.json"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--dist", str(tmp_path / "dist"),
                    "--work", str(tmp_path / "work"), "--json", str(report_file)], check=True, cwd=ROOT,
                   timeout=1200)
    report: dict[str, object] = json.loads(report_file.read_text())
    return report


def _window_ids(xdotool: str, display: str) -> list[str]:
    out = subprocess.run([xdotool, "search", "--name", "^Llama Wrangler$"], capture_output=True, text=True,
                         env={"DISPLAY": display, "PATH": os.environ.get("PATH", "")}, check=False)
    return out.stdout.split()


def test_the_linux_bundle_starts_shows_its_window_loads_a_page_and_quits(
        tmp_path: Path, display: str, page_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    xdotool = require_tool("xdotool", "finds the bundle's window on the X server")
    report = _build(tmp_path)
    with capsys.disabled():
        print(f"\nbundle: built in {report['build_seconds']} s, "
              f"{int(str(report['size_bytes'])) / 1e6:.0f} MB unpacked", flush=True)
    executable = Path(str(report["executable"]))
    assert executable.is_file()
    bundled = [p.name for p in executable.parent.rglob("llama-server*")]
    assert bundled == [], "the bundle carries no llama.cpp binary"
    data = tmp_path / "empty-data"
    data.mkdir()
    # A bare environment: nothing of this test's Python or venv may help the bundle start.
    env = {"DISPLAY": display, "HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
           "LLAMA_WRANGLER_HOME": str(data), "LLAMA_WRANGLER_WEBENGINE_SELFTEST": page_url,
           # Running as root (CI): Chromium's sandbox refuses root; a user's machine needs neither line.
           "QTWEBENGINE_DISABLE_SANDBOX": "1", "QTWEBENGINE_CHROMIUM_FLAGS": "--disable-gpu"}
    started = time.monotonic()
    proc = subprocess.Popen([str(executable)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    loaded = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("webengine-selftest:"):
                loaded.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        windows: list[str] = []
        deadline = started + WAIT_S
        while time.monotonic() < deadline and not windows and proc.poll() is None:
            windows = _window_ids(xdotool, display)
            time.sleep(0.2)
        assert windows, "no window titled 'Llama Wrangler' appeared:\n" + "\n".join(lines[-30:])
        shown_after = time.monotonic() - started
        assert loaded.wait(WAIT_S), "the web engine self-test said nothing:\n" + "\n".join(lines[-30:])
        result = next(line for line in lines if line.startswith("webengine-selftest:"))
        assert result == f"webengine-selftest: loaded {PAGE_TITLE}", "\n".join(lines[-30:])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, "\n".join(lines[-30:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
    with capsys.disabled():
        print(f"bundle: window shown {shown_after:.1f} s after start (Xvfb, cold cache not guaranteed)",
              flush=True)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
