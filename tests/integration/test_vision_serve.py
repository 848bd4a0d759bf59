"""A vision model end to end: a tiny text model and a tiny projector the test makes, paired by the library,
served with --mmproj by the supervisor (the real llama-server), and an OpenAI ``image_url`` content part that
reaches the model (its image tokens are in the prompt)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.server.ports import pick_free_port
from llama_wrangler.server.supervisor import ServerSupervisor
from llama_wrangler.services.serve_target import resolve_target
from llama_wrangler.settings import ServerSettings
from tests.support.server_fixtures import TinyModels
from tests.support.tiny_projector import IMAGE_TOKENS, image_data_url, write_tiny_projector

pytestmark = pytest.mark.runtime


def _chat(base_url: str, content: object) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", timeout=60,
                      json={"messages": [{"role": "user", "content": content}], "max_tokens": 2})


def _served(qtbot: QtBot, binary: Path, app_paths: AppPaths, model: Path, model_id: str,
            mmproj: Path | None) -> ServerSupervisor:
    settings = ServerSettings(port=pick_free_port("127.0.0.1"), context_size=512, health_timeout_s=60.0,
                              stop_grace_s=3.0, threads=1)
    supervisor = ServerSupervisor(binary, settings, log_file=app_paths.server_log_file)
    with qtbot.waitSignal(supervisor.endpoint_changed, timeout=60_000):
        supervisor.start(model, model_id, mmproj)
    return supervisor


def test_an_image_reaches_a_vision_model_served_with_its_projector(
        qtbot: QtBot, llama_server_binary: Path, tiny_models: TinyModels, app_paths: AppPaths) -> None:
    library = Library(app_paths, hash_in_background=False).load()
    folder = library.models_dir / "org" / "tiny-vision-GGUF"
    folder.mkdir(parents=True)
    model = Path(shutil.copy(tiny_models.alpha, folder / "tiny-vision-F32.gguf"))
    projector = write_tiny_projector(folder / "mmproj-tiny-vision-F16.gguf")
    library.rescan()
    [record] = library.models()  # one model: the projector is paired with it, not listed
    assert record.path == model
    assert record.mmproj == projector
    target = resolve_target(library, record.id)
    assert target.mmproj == projector

    supervisor = _served(qtbot, llama_server_binary, app_paths, target.path, target.model_id, target.mmproj)
    try:
        text_only = _chat(supervisor.endpoint, "describe this")
        with_image = _chat(supervisor.endpoint, [{"type": "text", "text": "describe this"},
                                                 {"type": "image_url", "image_url": {"url": image_data_url()}}])
        assert text_only.status_code == 200 and with_image.status_code == 200, with_image.text
        added = with_image.json()["usage"]["prompt_tokens"] - text_only.json()["usage"]["prompt_tokens"]
        assert added >= IMAGE_TOKENS  # the image's patches went into the prompt
    finally:
        supervisor.shutdown()

    # The same model without its projector cannot take the image: the pairing is what makes it see.
    blind = _served(qtbot, llama_server_binary, app_paths, target.path, target.model_id, None)
    try:
        refused = _chat(blind.endpoint, [{"type": "image_url", "image_url": {"url": image_data_url()}}])
        assert refused.status_code >= 400
    finally:
        blind.shutdown()
