"""Vectors files checked before a library reads them: a path that is no file (/proc, a FIFO,
a device), a word2vec header or a fastText .bin that claims more than the file holds (gensim
allocates what a header says, and spins forever on a fastText file cut inside a word), and
library failures put in words that never quote the file's content."""

from __future__ import annotations

import gzip
import logging
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinet.fileio import file_kind

FASTTEXT_MAGIC = 793712314  # first int32 of a native fastText .bin
KERNEL_FOLDERS = ("proc", "sys", "dev")  # the kernel's views (an environment, memory), never vectors
GZIP_MAX_RATIO = 1032  # deflate cannot expand a byte into more than this many
HEADER_MAX = 4096  # a word2vec header line is two numbers
FASTTEXT_CHUNK = 1 << 20  # fastText words are read this much at a time; a longer word is damage


def special_file_problem(path: Path) -> str | None:
    """What makes ``path`` no vectors file without opening it (``stat`` never blocks, even on
    a FIFO), or None for a regular file or a missing one."""
    for shown in {os.path.abspath(path), os.path.realpath(path)}:
        parts = Path(shown).parts
        if len(parts) > 1 and parts[1] in KERNEL_FOLDERS:
            return f"is in /{parts[1]}, a kernel interface, not a vectors file"
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    return None if stat.S_ISREG(mode) else f"is {file_kind(mode)}, not a vectors file"


def cause(exc: Exception) -> str:
    """Why a library could not read a file, in sentinet's words: library messages can quote the
    bytes they read (``int()`` quotes a header line, numpy a .npy header, gensim an array), and
    a run directory from elsewhere may name a file whose content must not be shown."""
    if isinstance(exc, (EOFError, struct.error)):
        return "it ends early: a truncated or damaged file"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 where words should be"
    if isinstance(exc, MemoryError):
        return "it does not fit in memory"
    if isinstance(exc, NotImplementedError):
        return "gensim cannot read this variant"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"malformed content: {type(exc).__name__}"


@contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    before, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = before


class BadFile(Exception):
    """Why a vectors file cannot be read, in words that quote nothing of it; open_vectors
    names the file and its format around them."""


def check_word2vec_header(path: Path, binary: bool) -> None:
    """Refuse a header that claims more rows than the file can hold before gensim allocates
    rows × dim floats for them (a 12-byte file saying ``300000000 1`` cost 2.4 GB). Every binary
    row holds at least a space and dim float32s, every text row dim values each after a
    separator, and gzip expands at most GZIP_MAX_RATIO times: a real file always passes."""
    gzipped = path.name.lower().endswith(".gz")
    with (gzip.open if gzipped else open)(path, "rb") as f:
        head = f.readline(HEADER_MAX)
    try:
        rows, dim = (int(x) for x in head.decode("utf-8").split())
    except ValueError:  # a UnicodeDecodeError too; never quoted: it is the file's content
        raise BadFile("its first line is not a '<rows> <dim>' header; set vectors.format if it is "
                       "in another format") from None
    if dim < 1 or rows < 1:  # with no rows, nothing would vouch for the dimension
        raise BadFile(f"its header gives {rows} rows of dimension {dim}; word vectors need at "
                       "least one row of dimension 1 or more")
    size = path.stat().st_size
    room = (size * GZIP_MAX_RATIO if gzipped else size) - len(head)
    if rows * (4 * dim + 1 if binary else 2 * dim) > room:
        raise BadFile(f"its header claims {rows:,} rows of dimension {dim}, more than its {size:,} "
                       "bytes can hold: a truncated or damaged file")


def check_fasttext_file(path: Path) -> None:
    """Walk a fastText .bin's header and word list before gensim reads it: gensim reads each
    word byte by byte until a NUL, so a file cut inside a word (a truncated download) keeps it
    spinning forever, and it allocates whatever matrix the header claims. Checks that every
    word ends and that the input matrix is whole and matches the header (0.8 s for 2M words)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        fields = _FastTextFields(f)
        magic, _version = fields.unpack("=2i")
        new_format = magic == FASTTEXT_MAGIC
        if new_format:
            args = fields.unpack("=12id")
            dim, bucket = args[0], args[8]
        else:  # gensim's old format: the dimension comes first
            args = fields.unpack("=10id")
            dim, bucket = magic, args[6]
        words, nwords, labels = fields.unpack("=3i")
        fields.unpack("=q")  # tokens
        pruned = max(fields.unpack("=q")[0], 0) if new_format else 0  # -1: not pruned
        if labels:
            raise BadFile("a supervised fastText model (a classifier with labels), not word vectors")
        rows, matrix_header = nwords + bucket, 17 if new_format else 16
        if dim < 1 or bucket < 0 or nwords < 0 or words != nwords or rows < 1:
            raise BadFile(f"its header gives dimension {dim}, {nwords} words and {bucket} buckets; "
                           "word vectors need at least one row of dimension 1 or more")
        if words * 10 + pruned * 8 + matrix_header + rows * dim * 4 > size - f.tell():
            raise BadFile(f"its header claims {nwords:,} words and {rows:,} rows of dimension {dim}, "
                           f"more than its {size:,} bytes can hold: a truncated download?")
        fields.skip_words(words)
        f.seek(pruned * 8, os.SEEK_CUR)  # pairs of int32; the size check above vouches for them
        if new_format and fields.unpack("=?")[0]:
            raise BadFile("a quantized fastText model (.ftz), which gensim cannot read")
        if fields.unpack("=2q") != (rows, dim):
            raise BadFile("its vectors matrix does not match its header: a damaged file")
        if f.tell() + rows * dim * 4 > size:
            raise BadFile("it ends inside its vectors matrix: a truncated download?")


class _FastTextFields:
    """Reading a fastText .bin's fields, where running out of bytes is a truncated file."""

    def __init__(self, f):
        self.f = f

    def unpack(self, fmt: str) -> tuple:
        data = self.f.read(struct.calcsize(fmt))
        if len(data) < struct.calcsize(fmt):
            raise BadFile("it ends inside its header or word list: a truncated download?")
        return struct.unpack(fmt, data)

    def skip_words(self, count: int) -> None:
        """Past ``count`` dictionary entries (a NUL-ended word, an int64 count, an int8 type),
        a chunk at a time."""
        start, buf, pos = self.f.tell(), b"", 0
        for _ in range(count):
            end = buf.find(b"\0", pos)
            if end < 0 or end + 10 > len(buf):
                start += pos
                more = self.f.read(FASTTEXT_CHUNK)
                buf, pos = buf[pos:] + more, 0
                end = buf.find(b"\0")
                if end < 0 or end + 10 > len(buf):
                    if len(more) < FASTTEXT_CHUNK:
                        raise BadFile("it ends inside its word list: a truncated download?")
                    raise BadFile(f"a word of over {FASTTEXT_CHUNK >> 20} MB in its word list: a damaged file")
            pos = end + 10
        self.f.seek(start + pos)
