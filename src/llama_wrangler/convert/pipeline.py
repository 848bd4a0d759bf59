"""HF safetensors -> ``convert_hf_to_gguf.py`` (f16/bf16) -> ``llama-quantize`` -> the library.

Qt-free; runs in a worker thread (GUI) or the foreground (CLI). Every run works in its own
``cache/convert/<id>/`` folder, removed on success and on failure; a cancel kills the running tool's
process tree. The tools come from the llama.cpp runtime (:mod:`llama_wrangler.runtime.locate`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from llama_wrangler.convert.tool_output import (
    ConverterOutput,
    QuantizeOutput,
    failure_reason,
    safetensors_tensor_count,
)
from llama_wrangler.errors import ConversionError, GGUFError, LlamaRuntimeError
from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.library.origins import ConvertOrigin, ModelSource
from llama_wrangler.library.records import ModelRecord
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths, confined
from llama_wrangler.progress import CancelToken, Progress, ProgressCallback, ignore_progress
from llama_wrangler.runtime.process import run_streaming
from llama_wrangler.runtime.runtime_info import LlamaRuntime
from llama_wrangler.sources.disk import check_disk_space

QUANT_TYPES = ("F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
OUT_TYPES = ("f16", "bf16")
REQUANTIZABLE = frozenset({"F16", "BF16", "F32"})


@dataclass(frozen=True)
class ConvertOptions:
    runtime: LlamaRuntime
    quant: str = "Q4_K_M"
    outtype: str = "f16"

    def checked(self) -> ConvertOptions:
        quant, outtype = self.quant.upper(), self.outtype.lower()
        if quant not in QUANT_TYPES:
            raise ConversionError(f"{self.quant} is not a quant we offer; pick one of {', '.join(QUANT_TYPES)}.")
        if outtype not in OUT_TYPES:
            raise ConversionError(f"--outtype must be f16 or bf16, not {self.outtype}.")
        return ConvertOptions(self.runtime, quant, outtype)


@contextmanager
def work_dir(paths: AppPaths, job_id: str | None = None) -> Iterator[Path]:
    """A scratch folder under ``cache/convert/`` that is removed however the block ends."""
    folder = paths.convert_dir / (job_id or uuid.uuid4().hex[:12])
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    # Unbuffered so progress lines arrive as they happen; offline so the converter never reaches out.
    env.update({"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONIOENCODING": "utf-8"})
    return env


def _need_converter(runtime: LlamaRuntime) -> tuple[Path, Path]:
    if runtime.convert_script is None or runtime.convert_python is None:
        missing = "convert_hf_to_gguf.py" if runtime.convert_script is None else "its Python environment"
        raise LlamaRuntimeError(f"The llama.cpp runtime has no conversion toolchain ({missing} is missing).",
                                hint="Run `llama-wrangler runtime install` to set it up.")
    return runtime.convert_python, runtime.convert_script


def _need_quantize(runtime: LlamaRuntime) -> Path:
    if runtime.quantize is None:
        raise LlamaRuntimeError("The llama.cpp runtime has no llama-quantize.",
                                hint="Run `llama-wrangler runtime install` to set it up.")
    return runtime.quantize


def run_converter(folder: Path, outfile: Path, *, runtime: LlamaRuntime, outtype: str,
                  progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None) -> Path:
    """``convert_hf_to_gguf.py folder --outfile outfile --outtype f16|bf16``; the converter's own reason
    on failure (an unsupported architecture names itself)."""
    python, script = _need_converter(runtime)
    output = ConverterOutput(progress, safetensors_tensor_count(folder), folder.name)
    progress(Progress("convert", 0, None, f"Converting {folder.name} to {outtype.upper()}"))
    code = run_streaming([str(python), str(script), str(folder), "--outfile", str(outfile),
                          "--outtype", outtype], cancel=cancel, on_line=output.line, cwd=outfile.parent,
                         env=_tool_env())
    if code != 0 or not outfile.is_file():
        raise ConversionError(f"convert_hf_to_gguf.py could not convert {folder.name}: "
                              f"{failure_reason(output.tail)}")
    return outfile


def run_quantize(source: Path, outfile: Path, quant: str, *, runtime: LlamaRuntime,
                 progress: ProgressCallback = ignore_progress, cancel: CancelToken | None = None) -> Path:
    """``llama-quantize source outfile QUANT``."""
    exe = _need_quantize(runtime)
    output = QuantizeOutput(progress, source.name)
    progress(Progress("quantize", 0, None, f"Quantizing to {quant}"))
    code = run_streaming([str(exe), str(source), str(outfile), quant], cancel=cancel, on_line=output.line,
                         cwd=outfile.parent, env=_tool_env())
    if code != 0 or not outfile.is_file():
        raise ConversionError(f"llama-quantize could not make {quant} from {source.name}: "
                              f"{failure_reason(output.tail)}")
    return outfile


def _place(built: Path, library: Library, relative: str) -> Path:
    target = confined(library.models_dir, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise ConversionError(f"{target.name} already exists in the library folder {target.parent}.",
                              hint="Remove that model first, or pick another quant.")
    shutil.move(built, target)
    return target


def convert_folder(folder: Path, *, options: ConvertOptions, paths: AppPaths, library: Library,
                   name: str | None = None, origin: ConvertOrigin | None = None,
                   destination: str | None = None, progress: ProgressCallback = ignore_progress,
                   cancel: CancelToken | None = None, job_id: str | None = None) -> ModelRecord:
    """Convert a local HF model folder and register the quantized GGUF (source 'convert').

    ``destination`` is the folder inside the models folder (default ``converted``)."""
    options = options.checked()
    cancel = cancel or CancelToken()
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise ConversionError(f"{folder} is not a Hugging Face model folder (config.json and *.safetensors "
                              "are needed).")
    _need_converter(options.runtime)
    if options.quant != options.outtype.upper():
        _need_quantize(options.runtime)
    name = name or folder.name
    weights = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    with work_dir(paths, job_id) as work:
        # Room for the f16 intermediate (about the weights' size) plus the quantized output.
        check_disk_space(work, 2 * weights)
        intermediate = run_converter(folder, work / f"{name}-{options.outtype.upper()}.gguf",
                                     runtime=options.runtime, outtype=options.outtype, progress=progress,
                                     cancel=cancel)
        cancel.raise_if_cancelled()
        if options.quant == options.outtype.upper():
            built = intermediate
        else:
            built = run_quantize(intermediate, work / f"{name}-{options.quant}.gguf", options.quant,
                                 runtime=options.runtime, progress=progress, cancel=cancel)
        target = _place(built, library, f"{destination or 'converted'}/{name}-{options.quant}.gguf")
    record_origin = replace(origin or ConvertOrigin(folder=str(folder)), quant=options.quant,
                            outtype=options.outtype)
    try:
        return library.register([target], source=ModelSource.CONVERT, owned=True, origin=record_origin)
    except GGUFError as exc:
        target.unlink(missing_ok=True)
        raise ConversionError(f"The converted file is not a usable GGUF: {exc}") from exc


def requantize(model: Path, quant: str, *, runtime: LlamaRuntime, paths: AppPaths, library: Library,
               origin: ConvertOrigin | None = None, progress: ProgressCallback = ignore_progress,
               cancel: CancelToken | None = None) -> ModelRecord:
    """Make ``quant`` from an existing F16/BF16/F32 GGUF and register it beside the others."""
    quant = quant.upper()
    if quant not in QUANT_TYPES:
        raise ConversionError(f"{quant} is not a quant we offer; pick one of {', '.join(QUANT_TYPES)}.")
    try:
        info = read_gguf(model)
    except GGUFError as exc:
        raise ConversionError(f"{model.name} is not a readable GGUF: {exc}") from exc
    if (info.quant or "").upper() not in REQUANTIZABLE:
        raise ConversionError(f"{model.name} is already quantized ({info.quant or 'unknown type'}); "
                              "re-quantizing loses quality.",
                              hint="Start from an F16 or BF16 GGUF (or convert the original model).")
    stem = model.name.removesuffix(".gguf")
    for label in (info.quant or "",):
        for sep in ("-", ".", "_"):
            stem = stem.removesuffix(f"{sep}{label}").removesuffix(f"{sep}{label.lower()}")
    with work_dir(paths) as work:
        check_disk_space(work, model.stat().st_size)
        built = run_quantize(model, work / f"{stem}-{quant}.gguf", quant, runtime=runtime, progress=progress,
                             cancel=cancel)
        target = _place(built, library, f"converted/{stem}-{quant}.gguf")
    return library.register([target], source=ModelSource.CONVERT, owned=True,
                            origin=replace(origin or ConvertOrigin(base=str(model)), quant=quant))
