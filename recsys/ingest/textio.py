"""Reading input files strictly: missing, empty, not UTF-8 and truncated are errors.

A gzip-compressed file (recognised by its magic bytes, whatever its name) is decompressed
first; line numbers then count lines of the decompressed text.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from recsys.ingest.model import IngestError


def read_text(path: str | Path, *, allow_empty: bool = False) -> str:
    """Whole file as text (UTF-8, an optional BOM is dropped; gzip is decompressed).

    Raises:
        IngestError: missing or unreadable file, empty file, corrupt gzip, UTF-16, invalid
            UTF-8 (with its line).
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
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(path, data)
    if not data.strip() and not allow_empty:
        raise IngestError(path, 1, "empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 byte order mark
        raise IngestError(path, 1, "UTF-16 text (it starts with a UTF-16 byte order mark): "
                                   "save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise IngestError(
            path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, "
            f"byte {column} of the line): convert the file to UTF-8, e.g. from Latin-1 or "
            "Windows-1252 with iconv -f WINDOWS-1252 -t UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


#: The first two bytes of a gzip stream.
GZIP_MAGIC = b"\x1f\x8b"
#: Largest decompressed import: a file is parsed in memory, so a corrupt or hostile archive
#: (a "zip bomb" expands a thousandfold) stops here instead of exhausting the machine.
MAX_DECOMPRESSED = 4 * 2**30
#: ... and beyond ``RATIO_FLOOR`` decompressed bytes, at most ``MAX_RATIO`` times the file's
#: own size: playlist exports compress 2-4 fold (Yes.com's files) and rarely past 20, while a
#: bomb expands a thousandfold, and the in-memory parse costs several times the text (512 MiB
#: of newlines took 8.6 GB): a 4 MB file must not be able to ask for ~70 GB.
MAX_RATIO = 100
RATIO_FLOOR = 64 * 2**20
_PIECE = 16 * 2**20


def _gunzip(path: Path, data: bytes, limit: int | None = None) -> bytearray:
    """The decompressed content of a gzip file, all members (an error names a corrupt, cut
    or too large one)."""
    limit = MAX_DECOMPRESSED if limit is None else limit
    by_ratio = max(RATIO_FLOOR, MAX_RATIO * len(data))
    out, rest = bytearray(), data
    try:
        while rest:
            inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
            pending = rest
            while not inflater.eof:
                piece = inflater.decompress(pending, _PIECE)
                out += piece
                if len(out) > limit:
                    raise IngestError(path, None, f"decompresses to more than {limit:,} bytes: "
                                      "split the export into smaller files") from None
                if len(out) > by_ratio:
                    raise IngestError(path, None, f"decompresses to more than {MAX_RATIO} "
                                      f"times its compressed size ({len(data):,} bytes): not a "
                                      "playlist export (a decompression bomb?); import it "
                                      "uncompressed if it really is one") from None
                pending = inflater.unconsumed_tail
                if not pending and not piece:
                    raise EOFError("compressed file ended before the end-of-stream marker")
            rest = inflater.unused_data
            if not rest.startswith(GZIP_MAGIC) and not rest.strip(b"\0"):
                break  # zero padding after the last member, as gzip(1) accepts
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(path, None, f"gzip-compressed but cannot be decompressed: {exc}"
                          ) from None
    return out  # not copied to bytes: the text is decoded from it directly


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
