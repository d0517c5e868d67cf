"""Reading input files strictly: missing, empty, not UTF-8 and truncated are errors.

A gzip-compressed file (recognised by its magic bytes, whatever its name) is decompressed
as it is read; line numbers then count lines of the decompressed text. Other compressed
formats (bzip2, xz, zstd, zip...) are refused by name, not as "not valid UTF-8". The CSV and
JSONL importers stream their file, a pipe or FIFO too (:func:`open_text`): memory holds what was
parsed, never the whole text or a list of its lines (a 213 MB CSV of 4 million items: peak
1.47 GB before, 0.46 GB streamed; docs/benchmarks.md §13). :func:`read_text` reads a
whole (small) file.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from recsys.ingest.model import IngestError

#: The first two bytes of a gzip stream.
GZIP_MAGIC = b"\x1f\x8b"
#: Largest decompressed import: a corrupt or hostile archive (a "zip bomb" expands a
#: thousandfold) stops here instead of occupying the machine for hours.
MAX_DECOMPRESSED = 4 * 2**30
#: ... and beyond ``RATIO_FLOOR`` decompressed bytes, at most ``MAX_RATIO`` times the file's
#: own size: playlist exports compress 2-4 fold (Yes.com's files) and rarely past 20, while a
#: bomb expands a thousandfold (and a whole-file read, :func:`read_text`, costs several times
#: the text: 512 MiB of newlines took 8.6 GB).
MAX_RATIO = 100
RATIO_FLOOR = 64 * 2**20
_PIECE = 16 * 2**20
#: Compressed bytes read at a time, and the decompressed stream's buffer.
_CHUNK = 2**20
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Compressed formats other than gzip by their magic bytes, and the command that decompresses
#: them: read as text, their bytes would be reported as "not valid UTF-8".
_COMPRESSED = (("xz", b"\xfd7zXZ\x00", "unxz -k"), ("zstd", b"\x28\xb5\x2f\xfd", "unzstd"),
               ("zip", b"PK\x03\x04", "unzip"), ("7z", b"7z\xbc\xaf\x27\x1c", "7z x"),
               ("lz4", b"\x04\x22\x4d\x18", "unlz4"),
               ("Unix compress", b"\x1f\x9d", "uncompress"))
#: bzip2: "BZh", a block size digit, then a block's or the end of stream's magic.
_BZIP2_MAGIC = (b"1AY&SY", b"\x17rE8P\x90")


class _Gunzip(io.RawIOBase):
    """The decompressed bytes of a gzip file, all members, as a stream; an error names a
    corrupt, cut or too large file."""

    def __init__(self, raw: BinaryIO, path: Path, size: int) -> None:
        self._raw, self._path = raw, path
        self._size = size  # 0 for a pipe: then the compressed bytes read so far count
        self._read = 0
        self._inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        self._input = b""
        self._out = 0
        self._finished = False

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readall(self) -> bytes:
        """Everything left, decompressed in large pieces (``RawIOBase.readall`` asks for 8 KiB
        at a time, and each call copies up to 1 MiB of pending input)."""
        out, buffer = bytearray(), bytearray(_PIECE)
        while n := self.readinto(buffer):
            out += memoryview(buffer)[:n]
        return bytes(out)

    def _raw_read(self) -> bytes:
        data = self._raw.read(_CHUNK)
        self._read += len(data)
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        try:
            return self._readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(self._path, None, f"gzip-compressed but cannot be decompressed: "
                              f"{exc}") from None

    def _readinto(self, buffer) -> int:  # noqa: ANN001
        while not self._finished:
            if self._inflater.eof and not self._next_member():
                break
            if not self._input:
                self._input = self._raw_read()
                if not self._input:
                    raise EOFError("compressed file ended before the end-of-stream marker")
            piece = self._inflater.decompress(self._input, min(len(buffer), _PIECE))
            self._input = self._inflater.unconsumed_tail
            if piece:
                self._count(len(piece))
                buffer[:len(piece)] = piece
                return len(piece)
        return 0

    def _next_member(self) -> bool:
        """After a member: start the next one (True), or end at EOF or zero padding, as
        gzip(1) accepts (False)."""
        rest = self._inflater.unused_data or self._raw_read()
        if rest and not rest.strip(b"\0"):  # padding: the rest of the file must be zeros
            while (more := self._raw_read()):
                if more.strip(b"\0"):
                    raise EOFError("data after the zero padding that ends the archive")
            rest = b""
        if not rest:
            self._finished = True
            return False
        self._inflater, self._input = zlib.decompressobj(wbits=31), rest
        return True

    def _count(self, n: int) -> None:
        self._out += n
        if self._out > MAX_DECOMPRESSED:
            raise IngestError(self._path, None, f"decompresses to more than "
                              f"{MAX_DECOMPRESSED:,} bytes: split the export into smaller files")
        compressed = max(self._size, self._read)
        if self._out > max(RATIO_FLOOR, MAX_RATIO * compressed):
            raise IngestError(self._path, None, (
                f"decompresses to more than {MAX_RATIO} times its compressed size "
                f"({compressed:,} bytes): not a playlist export (a decompression bomb?); "
                "import it uncompressed if it really is one"))


@contextmanager
def open_bytes(path: str | Path) -> Iterator[BinaryIO]:
    """The file's content as a binary stream, decompressed if it is gzip.

    Raises:
        IngestError: missing, a directory, unreadable.
    """
    path = Path(path)
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise IngestError(path, None, "no such file") from None
    except IsADirectoryError:
        raise IngestError(path, None, "is a directory, expected a file") from None
    except OSError as exc:
        raise IngestError(path, None, f"cannot read: {exc.strerror}") from None
    with raw:
        _refuse_other_compression(path, raw.peek(10)[:10])
        if raw.peek(2)[:2] == GZIP_MAGIC:
            with io.BufferedReader(_Gunzip(raw, path, os.fstat(raw.fileno()).st_size),
                                   _CHUNK) as stream:
                yield stream
        else:
            yield raw


def _refuse_other_compression(path: Path, head: bytes) -> None:
    """An error for a file compressed otherwise than with gzip (``head``: its first bytes)."""
    found = [(name, tool) for name, magic, tool in _COMPRESSED if head.startswith(magic)]
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_MAGIC:
        found.append(("bzip2", "bunzip2 -k"))
    if found:
        name, tool = found[0]
        raise IngestError(path, None, f"compressed with {name}: only gzip-compressed files "
                          f"are read; decompress it first (e.g. {tool} FILE), or recompress it "
                          "with gzip")


@contextmanager
def open_text(path: str | Path, newline: str = "",
              on_read: Callable[[int], None] | None = None) -> Iterator[Iterator[str]]:
    """The file's lines as UTF-8 text, streamed (an optional BOM dropped; gzip decompressed;
    lines keep their endings; ``newline`` as :class:`io.StringIO` takes it: ``""`` splits
    at ``\n``, ``\r\n`` and ``\r``, as ``csv`` wants, ``"\n"`` only at ``\n``).
    ``on_read`` is called after each piece with how far into the file (compressed bytes for
    gzip) the reading is, for a progress bar (not for a pipe, which has no position).

    Raises:
        IngestError: as :func:`open_bytes`; UTF-16; invalid UTF-8, with its line and byte
            (raised when the parse reaches the 1 MiB piece holding it).
    """
    with open_bytes(path) as stream:
        if stream.peek(2)[:2] in _UTF16_BOMS:
            raise _utf16_error(path)
        pieces = _decoded_pieces(path, stream)
        if on_read is not None:
            try:  # the file's own position: a pipe has none (ESPIPE)
                fd = stream.fileno()
                os.lseek(fd, 0, os.SEEK_CUR)
            except OSError:
                pass
            else:
                pieces = _reporting(pieces, fd, on_read)
        yield (line for piece in pieces for line in io.StringIO(piece, newline=newline))


def _reporting(pieces: Iterator[str], fd: int, on_read: Callable[[int], None]
               ) -> Iterator[str]:
    for piece in pieces:
        on_read(os.lseek(fd, 0, os.SEEK_CUR))
        yield piece


def _decoded_pieces(path: str | Path, stream: BinaryIO) -> Iterator[str]:
    """The text of ``stream`` in pieces of about 1 MiB that end at a line end (``\n`` never
    falls inside a UTF-8 character), each checked as it is decoded: an error names its line
    and byte without reading the file again (it may be a pipe)."""
    offset = lines = 0
    pending: list[bytes] = []
    while True:
        block = stream.read(_CHUNK)
        rest = b""
        if block:
            cut = block.rfind(b"\n") + 1
            if not cut:  # a line longer than the block: keep collecting
                pending.append(block)
                continue
            pending.append(block[:cut])
            rest = block[cut:]
        part = pending[0] if len(pending) == 1 else b"".join(pending)
        pending = [rest] if rest else []
        if part:
            try:
                text = part.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _decode_error(path, part, exc, offset, lines) from None
            yield text.removeprefix("\ufeff") if offset == 0 else text
            offset, lines = offset + len(part), lines + part.count(b"\n")
        if not block:
            return


def read_text(path: str | Path, *, allow_empty: bool = False) -> str:
    """Whole file as text (UTF-8, an optional BOM is dropped; gzip is decompressed).

    Raises:
        IngestError: missing or unreadable file, empty file, corrupt gzip, UTF-16, invalid
            UTF-8 (with its line).
    """
    with open_bytes(path) as stream:
        data = stream.read()
    if not data.strip() and not allow_empty:
        raise IngestError(path, 1, "empty file")
    if data.startswith(_UTF16_BOMS):
        raise _utf16_error(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, data, exc, 0, 0) from None
    return text.removeprefix("\ufeff")


def _utf16_error(path: str | Path) -> IngestError:
    return IngestError(path, 1, "UTF-16 text (it starts with a UTF-16 byte order mark): "
                                "save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8")


def _decode_error(path: str | Path, data: bytes, exc: UnicodeDecodeError, offset: int,
                  lines_before: int) -> IngestError:
    """``exc`` raised decoding ``data``, which starts at byte ``offset`` and line
    ``lines_before + 1`` of the file."""
    line = lines_before + data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return IngestError(
        path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
        f"{offset + exc.start}, byte {column} of the line): convert the file to UTF-8, e.g. "
        "from Latin-1 or Windows-1252 with iconv -f WINDOWS-1252 -t UTF-8")


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
