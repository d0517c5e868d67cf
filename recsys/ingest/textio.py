"""Reading input files strictly: missing, empty, not UTF-8 and truncated are errors."""

from __future__ import annotations

from pathlib import Path

from recsys.ingest.model import IngestError


def read_text(path: str | Path, *, allow_empty: bool = False) -> str:
    """Whole file as text (UTF-8, an optional BOM is dropped).

    Raises:
        IngestError: missing or unreadable file, empty file, invalid UTF-8 (with its line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(path, None, "no such file") from None
    except IsADirectoryError:
        raise IngestError(path, None, "is a directory, expected a file") from None
    except OSError as exc:
        raise IngestError(path, None, f"cannot read: {exc.strerror}") from None
    if not data.strip() and not allow_empty:
        raise IngestError(path, 1, "empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise IngestError(
            path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff")


def split_lines(path: str | Path, text: str, *, need_final_newline: bool) -> list[str]:
    """Lines without their ``\\n`` (and ``\\r``); a missing final newline means truncation."""
    if need_final_newline and text and not text.endswith("\n"):
        raise IngestError(
            path, text.count("\n") + 1, "truncated line (the file does not end with a newline)"
        )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
