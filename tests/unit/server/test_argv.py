from __future__ import annotations

from pathlib import Path

import pytest

from llama_wrangler.server.argv import build_server_argv
from llama_wrangler.settings import ServerSettings

SERVER = Path("/opt/llama/bin/llama-server")
MODEL = Path("/models/tiny model.gguf")


def flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_defaults_bind_loopback_and_always_pass_port() -> None:
    argv = build_server_argv(SERVER, ServerSettings(), MODEL, "tiny", 8123)
    assert argv[0] == str(SERVER)
    assert flag_value(argv, "-m") == str(MODEL)  # a path with a space stays one argument
    assert flag_value(argv, "--host") == "127.0.0.1"
    assert flag_value(argv, "--port") == "8123"
    assert flag_value(argv, "-c") == "4096"
    assert flag_value(argv, "-np") == "1"
    assert flag_value(argv, "--alias") == "tiny"
    assert "-t" not in argv
    assert "--api-key" not in argv


def test_all_gpu_layers_is_a_number_every_build_accepts() -> None:
    assert flag_value(build_server_argv(SERVER, ServerSettings(gpu_layers=-1), MODEL, "m", 1), "-ngl") == "999"
    assert flag_value(build_server_argv(SERVER, ServerSettings(gpu_layers=12), MODEL, "m", 1), "-ngl") == "12"


def test_threads_and_api_key_only_when_set() -> None:
    settings = ServerSettings(threads=6, api_key="s3cret", parallel=4, context_size=0)
    argv = build_server_argv(SERVER, settings, MODEL, "m", 9000)
    assert flag_value(argv, "-t") == "6"
    assert flag_value(argv, "--api-key") == "s3cret"
    assert flag_value(argv, "-np") == "4"
    assert flag_value(argv, "-c") == "0"


def test_extra_args_are_split_without_a_shell() -> None:
    settings = ServerSettings(extra_args="--temp 0.5 --chat-template 'a b; rm -rf /'")
    argv = build_server_argv(SERVER, settings, MODEL, "m", 9000)
    assert argv[-4:] == ["--temp", "0.5", "--chat-template", "a b; rm -rf /"]


def test_extra_args_cannot_override_reserved_flags() -> None:
    with pytest.raises(ValueError, match="--port"):
        ServerSettings(extra_args="--port=1234")


def test_port_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        build_server_argv(SERVER, ServerSettings(), MODEL, "m", 70000)


def test_a_pool_adds_rpc_and_the_split_as_llama_server_takes_them() -> None:
    from llama_wrangler.server.argv import RpcPlan

    plan = RpcPlan(("192.168.1.20:50052", "[fe80::1]:50052"), (3.0, 1.5))
    argv = build_server_argv(SERVER, ServerSettings(extra_args="--flash-attn on"), MODEL, "tiny", 8123, rpc=plan)
    assert flag_value(argv, "--rpc") == "192.168.1.20:50052,[fe80::1]:50052"
    assert flag_value(argv, "--tensor-split") == "3,1.5"
    assert argv.index("--rpc") < argv.index("--flash-attn")  # the user's extras still come last
    assert "--tensor-split" not in build_server_argv(SERVER, ServerSettings(), MODEL, "t", 1,
                                                     rpc=RpcPlan(("h:1",)))


def test_a_vision_model_gets_its_projector_and_users_cannot_set_another() -> None:
    projector = Path("/models/mmproj tiny-F16.gguf")
    argv = build_server_argv(SERVER, ServerSettings(), MODEL, "tiny", 8123, mmproj=projector)
    assert flag_value(argv, "--mmproj") == str(projector)
    assert "--mmproj" not in build_server_argv(SERVER, ServerSettings(), MODEL, "tiny", 8123)
    with pytest.raises(ValueError, match="--mmproj is set by Llama Wrangler"):
        ServerSettings(extra_args="--mmproj /elsewhere.gguf")
