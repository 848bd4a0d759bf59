"""Benchmark: scanning a library of GGUF files with our header reader vs ``gguf.GGUFReader``.

Writes N GGUF files (default 1,000) with realistic headers — ~33 metadata keys and a 32k-entry tokenizer
vocabulary with scores and token types, tiny tensors — then prints a table:

- first scan, per file: ``read_gguf`` on every file vs ``gguf.GGUFReader`` on a sample of them
  (GGUFReader takes seconds per file here, so timing all 1,000 would take most of an hour);
- ``Library.rescan()`` over the folder the first time (reads every header, writes the registry) and
  again with nothing changed (must only stat: aim < 0.2 s for 1,000 files).

Files are in the page cache (just written), so this measures parsing, not the disk.

    .venv/bin/python bench/library_scan.py [--dir DIR] [--count 1000] [--vocab 32000] [--sample 10]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

from llama_wrangler.library.gguf import read_gguf
from llama_wrangler.library.registry import Library
from llama_wrangler.paths import AppPaths

NAME_STEM = "bench-model-"
NAME_WIDTH = 5


def template_bytes(vocab: int) -> bytes:
    """One realistic GGUF file, written by gguf's own writer (as llama.cpp's converter does)."""
    rng = random.Random(42)
    alphabet = "abcdefghijklmnopqrstuvwxyz ĠABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    tokens = ["<unk>", "<s>", "</s>"] + ["".join(rng.choices(alphabet, k=rng.randint(1, 10)))
                                         for _ in range(vocab - 3)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.gguf"
        writer = GGUFWriter(path, "llama")
        u32 = GGUFValueType.UINT32
        for key, value, vtype in [
            ("general.type", "model", None), ("general.name", NAME_STEM + "0" * NAME_WIDTH, None),
            ("general.basename", "bench", None), ("general.finetune", "chat", None),
            ("general.size_label", "1.1B", None), ("general.license", "apache-2.0", None),
            ("general.author", "bench", None), ("general.organization", "Bench", None),
            ("general.file_type", 15, u32), ("general.quantization_version", 2, u32),
            ("general.tags", ["text-generation", "llama"], None), ("general.languages", ["en"], None),
            ("llama.context_length", 4096, u32), ("llama.embedding_length", 2048, u32),
            ("llama.block_count", 22, u32), ("llama.feed_forward_length", 5632, u32),
            ("llama.rope.dimension_count", 64, u32), ("llama.attention.head_count", 32, u32),
            ("llama.attention.head_count_kv", 4, u32), ("llama.rope.freq_base", 10000.0, None),
            ("llama.attention.layer_norm_rms_epsilon", 1e-5, None), ("llama.vocab_size", vocab, u32),
            ("tokenizer.ggml.model", "llama", None), ("tokenizer.ggml.pre", "default", None),
            ("tokenizer.ggml.bos_token_id", 1, u32), ("tokenizer.ggml.eos_token_id", 2, u32),
            ("tokenizer.ggml.unknown_token_id", 0, u32), ("tokenizer.ggml.padding_token_id", 2, u32),
            ("tokenizer.ggml.add_bos_token", True, None), ("tokenizer.ggml.add_eos_token", False, None),
            ("tokenizer.chat_template", "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}</s>\n"
             "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}", None),
        ]:
            writer.add_key_value(key, value, vtype or GGUFValueType.get_type(value))
        writer.add_token_list(tokens)
        writer.add_token_scores([float(-i) for i in range(vocab)])
        writer.add_token_types([1] * vocab)
        writer.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float16))
        writer.add_tensor("output_norm.weight", np.ones((8,), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


def write_files(folder: Path, count: int, vocab: int) -> list[Path]:
    template = template_bytes(vocab)
    marker = (NAME_STEM + "0" * NAME_WIDTH).encode()
    assert template.count(marker) == 1
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        # Same header layout, a different name in each (same length, so offsets stay valid).
        data = template.replace(marker, f"{NAME_STEM}{i:0{NAME_WIDTH}d}".encode())
        path = folder / f"{NAME_STEM}{i:0{NAME_WIDTH}d}-Q4_K_M.gguf"
        path.write_bytes(data)
        paths.append(path)
    return paths


def timed(function: object, *args: object) -> float:
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="where to write the files (default: a temp dir, removed)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--sample", type=int, default=10, help="files to time gguf.GGUFReader on")
    args = parser.parse_args(argv)

    root = args.dir or Path(tempfile.mkdtemp(prefix="lw-bench-"))
    try:
        models = root / "models"
        started = time.perf_counter()
        paths = write_files(models, args.count, args.vocab)
        print(f"wrote {len(paths)} files of {paths[0].stat().st_size / 1e3:.0f} kB "
              f"({args.vocab}-token vocabulary) in {time.perf_counter() - started:.1f} s\n")

        ours = [timed(read_gguf, p) for p in paths]
        sample = paths[:: max(1, len(paths) // args.sample)][: args.sample]
        theirs = [timed(GGUFReader, p) for p in sample]
        ours_sample = [timed(read_gguf, p) for p in sample]  # same files, same order, for the ratio

        library = Library(AppPaths.under(root / "home").ensure(), models_dir=models, hash_in_background=False)
        library.load()
        first_rescan = time.perf_counter()
        report = library.rescan()
        first_rescan = time.perf_counter() - first_rescan
        assert len(report.added) == len(paths), report.summary()
        again = [timed(library.rescan) for _ in range(5)]
        unchanged = library.rescan()
        assert len(unchanged.unchanged) == len(paths) and not unchanged.changed

        ms = 1e3
        med_ours, med_theirs = statistics.median(ours_sample), statistics.median(theirs)
        rows = [
            ("first scan, per file (median)", f"{med_ours * ms:.2f} ms", f"{med_theirs * ms:.1f} ms",
             f"{med_theirs / med_ours:.0f}x"),
            (f"first scan, all {len(paths)} files", f"{sum(ours):.2f} s",
             f"~{med_theirs * len(paths):.0f} s (est. from {len(sample)})", ""),
            (f"Library.rescan(), {len(paths)} new files", f"{first_rescan:.2f} s", "", ""),
            (f"Library.rescan(), {len(paths)} unchanged (median of 5)", f"{statistics.median(again):.3f} s",
             f"~{med_theirs * len(paths):.0f} s (re-read all)", ""),
            ("rescan unchanged, per file", f"{statistics.median(again) / len(paths) * 1e6:.0f} µs",
             f"{med_theirs * ms:.1f} ms", f"{med_theirs * len(paths) / statistics.median(again):.0f}x"),
        ]
        headers = ("", "ours", "gguf.GGUFReader", "ratio")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        print(f"\naims: first scan >= 10x faster than GGUFReader: "
              f"{'met' if med_theirs / med_ours >= 10 else 'NOT met'}; "
              f"rescan of {len(paths)} unchanged files < 0.2 s: "
              f"{'met' if statistics.median(again) < 0.2 else 'NOT met'}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
