"""Conversion logic that needs no llama.cpp: output parsing, option checks, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFValueType
from safetensors.numpy import save_file

from llama_wrangler.convert.pipeline import ConvertOptions, convert_folder, requantize
from llama_wrangler.convert.tool_output import (
    ConverterOutput,
    QuantizeOutput,
    failure_reason,
    safetensors_tensor_count,
)
from llama_wrangler.errors import ConversionError, LlamaRuntimeError
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.progress import Progress
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from tests.support.gguf_files import write_gguf


def _runtime(tmp_path: Path, *, tools: bool) -> LlamaRuntime:
    return LlamaRuntime(root=tmp_path, server=tmp_path / "llama-server",
                        quantize=tmp_path / "llama-quantize" if tools else None,
                        convert_script=tmp_path / "convert_hf_to_gguf.py" if tools else None,
                        convert_python=tmp_path / "python" if tools else None,
                        build_number=None, commit=None, backend="cpu")


def test_converter_progress_counts_tensors_then_writing() -> None:
    reports: list[Progress] = []
    output = ConverterOutput(reports.append, tensors=2, label="m")
    for line in ["INFO:hf-to-gguf:Loading model: m",
                 "INFO:hf-to-gguf:output.weight,              torch.float32 --> F16, shape = {64, 200}",
                 "INFO:hf-to-gguf:blk.0.attn_norm.weight,     torch.float32 --> F32, shape = {64}",
                 "Writing:  45%|████▌     | 90.0k/200k [00:00<00:00, 3.61Mbyte/s]"]:
        output.line(line)
    assert [(r.stage, r.done, r.total) for r in reports] == [("convert", 1, 2), ("convert", 2, 2),
                                                             ("write", 45, 100)]


def test_quantize_progress() -> None:
    reports: list[Progress] = []
    output = QuantizeOutput(reports.append, "m")
    output.line("[   3/  21]                  blk.0.attn_k.weight - [   64,    32,     1,     1], type =    f16, "
                "converting to q4_K .. size =     0.00 MiB ->     0.00 MiB")
    assert (reports[0].done, reports[0].total) == (3, 21)


def test_failure_reason_prefers_the_error_line() -> None:
    lines = ["INFO:hf-to-gguf:Loading model: x", "Traceback (most recent call last):",
             '  File "convert_hf_to_gguf.py", line 10, in <module>',
             "NotImplementedError: Architecture 'NopeForCausalLM' not supported!", ""]
    assert failure_reason(lines) == "NotImplementedError: Architecture 'NopeForCausalLM' not supported!"
    assert failure_reason(["a", "b", "c", "d"]) == "b / c / d"


def test_tensor_count_from_safetensors_headers(tmp_path: Path) -> None:
    save_file({"a": np.zeros(2, np.float32), "b": np.zeros(3, np.float32)}, str(tmp_path / "x.safetensors"))
    assert safetensors_tensor_count(tmp_path) == 2


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="not a quant we offer"):
        ConvertOptions(_runtime(tmp_path, tools=True), quant="Q9_X").checked()
    with pytest.raises(ConversionError, match="f16 or bf16"):
        ConvertOptions(_runtime(tmp_path, tools=True), outtype="f32").checked()
    assert ConvertOptions(_runtime(tmp_path, tools=True), quant="q4_k_m", outtype="BF16").checked().quant == "Q4_K_M"


def test_folder_without_weights_or_tools_refused(tmp_path: Path, app_paths: AppPaths) -> None:
    library = Library(app_paths).load()
    with pytest.raises(ConversionError, match="not a Hugging Face model folder"):
        convert_folder(tmp_path, options=ConvertOptions(_runtime(tmp_path, tools=True)), paths=app_paths,
                       library=library)
    (tmp_path / "config.json").write_text("{}")
    save_file({"a": np.zeros(2, np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(LlamaRuntimeError, match="no conversion toolchain"):
        convert_folder(tmp_path, options=ConvertOptions(_runtime(tmp_path, tools=False)), paths=app_paths,
                       library=library)


def test_requantize_refuses_quantized_input(tmp_path: Path, app_paths: AppPaths) -> None:
    model = write_gguf(tmp_path / "m-Q4_K_M.gguf", kv={"general.file_type": (15, GGUFValueType.UINT32)})
    with pytest.raises(ConversionError, match="already quantized"):
        requantize(model, "Q2_K", runtime=_runtime(tmp_path, tools=True), paths=app_paths,
                   library=Library(app_paths).load())
    assert not app_paths.convert_dir.exists() or list(app_paths.convert_dir.iterdir()) == []
