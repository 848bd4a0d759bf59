"""One size convention for the window and the terminal: decimal units, as the Hub and Ollama show them."""

from __future__ import annotations

from llama_wrangler.units import human_bytes, human_duration, human_speed, human_tokens


def test_sizes_use_decimal_units() -> None:
    assert human_bytes(None) == "—"
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_500) == "1.5 KB"
    assert human_bytes(4_368_439_072) == "4.4 GB"  # a Q4_K_M 8B file: "4.37 GB" on its Hub page
    assert human_bytes(2_000_000_000_000_000) == "2000.0 TB"


def test_speeds_durations_and_tokens() -> None:
    assert human_speed(0) == "—" and human_speed(12_300_000) == "12.3 MB/s"
    assert human_duration(59.4) == "59 s" and human_duration(61) == "1 min 01 s"
    assert human_duration(3_700) == "1 h 01 min"
    assert human_tokens(8192) == "8K" and human_tokens(4000) == "4,000" and human_tokens(None) == "—"


def test_the_terminal_and_the_window_print_the_same_size() -> None:
    from llama_wrangler.cli import hf_cmds, library_cmds

    assert hf_cmds.human_bytes is human_bytes and library_cmds.human_bytes is human_bytes
