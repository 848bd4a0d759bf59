"""The header reader and the library on files made by the real llama-quantize (real quant tensor types)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import gguf
import pytest

from llama_wrangler.errors import ModelImportError
from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths
from llama_wrangler.runtime.locate import runtime_from_dir
from llama_wrangler.settings import ImportMode
from tests.support.tiny_models import write_tiny_llama_gguf

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def quantized(runtime_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    quantize = runtime_from_dir(runtime_dir).quantize
    assert quantize is not None, f"no llama-quantize in {runtime_dir}"
    folder = tmp_path_factory.mktemp("quant")
    source = write_tiny_llama_gguf(folder / "tiny-F32.gguf", n_embd=256, n_layer=2)
    files = {"F32": source}
    for quant in ("Q4_K_M", "Q8_0", "Q2_K"):
        target = folder / f"tiny-{quant}.gguf"
        done = subprocess.run([str(quantize), str(source), str(target), quant], capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        files[quant] = target
    return files


@pytest.mark.parametrize("quant", ["F32", "Q4_K_M", "Q8_0", "Q2_K"])
def test_reader_agrees_with_gguf_reader_on_quantized_files(quantized: dict[str, Path], quant: str) -> None:
    path = quantized[quant]
    ours = read_gguf(path)  # includes the check that every tensor's data fits in the file
    theirs = gguf.GGUFReader(path)
    assert ours.quant == quant
    assert ours.architecture == "llama"
    assert ours.tensor_count == len(theirs.tensors)
    assert ours.parameter_count == sum(int(t.n_elements) for t in theirs.tensors)
    assert ours.header_size == theirs.data_offset
    assert ours.vocab_size == len(theirs.fields["tokenizer.ggml.tokens"].data)


def test_truncated_quantized_file_is_refused(quantized: dict[str, Path], tmp_path: Path) -> None:
    data = quantized["Q4_K_M"].read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) - 4096])
    lib = Library(AppPaths.under(tmp_path / "home").ensure(), hash_in_background=False).load()
    with pytest.raises(ModelImportError, match="truncated"):
        lib.import_files([cut], ImportMode.COPY)
    assert lib.models() == []


def test_library_lists_quantized_models(quantized: dict[str, Path], tmp_path: Path) -> None:
    lib = Library(AppPaths.under(tmp_path / "home").ensure(), hash_in_background=False).load()
    records = lib.import_files(list(quantized.values()), ImportMode.LINK)
    assert sorted(r.info.quant or "" for r in records) == ["F32", "Q2_K", "Q4_K_M", "Q8_0"]
    assert {r.id for r in records} == {"tiny-f32", "tiny-q2_k", "tiny-q4_k_m", "tiny-q8_0"}
