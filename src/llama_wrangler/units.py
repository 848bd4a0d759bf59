"""Numbers as people read them — sizes, speeds, durations, token counts — the same in the window and the
terminal. Sizes use decimal units (1 GB = 10^9 bytes), as Hugging Face, Ollama and file managers show
them, so a size here matches the one on the model's web page. Qt-free."""

from __future__ import annotations


def human_bytes(count: float | None) -> str:
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # unreachable; keeps type checkers content


def human_speed(bytes_per_second: float | None) -> str:
    return "—" if not bytes_per_second else f"{human_bytes(bytes_per_second)}/s"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def human_tokens(count: int | None) -> str:
    if not count:
        return "—"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024}K"
    return f"{count:,}"
