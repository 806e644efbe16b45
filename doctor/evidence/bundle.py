"""Read an evidence bundle (a directory, ``.tar.gz``/``.tgz``/``.tar`` or ``.zip``) without extracting it.

Archives are streamed member by member and nothing is written to disk, so a hostile member name
cannot place a file anywhere. A member whose name is absolute or climbs out with ``..``, or a link
that points out of the bundle, rejects the whole archive. Expansion is capped, which defeats a zip
bomb whatever its declared sizes say.

The bundle path must be a directory or a regular file. A device (``/dev/zero``, ``/dev/urandom``),
a socket or a named FIFO is refused before anything reads it: the first would never end and the
last would wait for a writer forever. A bundle can still come through a pipe: ``analyze -`` reads
standard input, and an already-open pipe such as bash's ``<(cat b.tar.gz)`` (``/dev/fd/63``) is
read the same way, as a stream, never probed twice.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

MAX_MEMBERS = 20_000
MAX_EXPANDED_BYTES = 2 * 1024 * 1024 * 1024
MAX_RATIO = 1000  # a zip member that claims to expand more than this is a bomb, not a log
# A zip needs its central directory at the end, so one that arrives through a pipe is held in
# memory, up to this size; a tar (compressed or not) is streamed whatever its size.
MAX_PIPED_ZIP_BYTES = 256 * 1024 * 1024
# Paths of pipes the shell has already opened for us: bash's and zsh's process substitution.
_INHERITED_PIPE = re.compile(r"^/(dev/fd|proc/self/fd|proc/\d+/fd)/\d+$|^/dev/stdin$")


# What reading a damaged archive member can raise, in the reader's frame as well as here.
READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


class BundleError(Exception):
    """The bundle as a whole cannot be read. The message is one line and names the file."""


@dataclass
class Entry:
    path: str  # relative, POSIX, no leading "./"
    size: int
    stream: BinaryIO


class _Budget:
    """Bytes read from the whole bundle, directory or archive, capped at MAX_EXPANDED_BYTES."""

    def __init__(self, source: str, directory: bool = False):
        self.source = source
        self.directory = directory
        self.used = 0

    def charge(self, n: int) -> None:
        self.used += n
        if self.used > MAX_EXPANDED_BYTES:
            limit = MAX_EXPANDED_BYTES // 2**30
            if self.directory:
                raise BundleError(f"{self.source}: holds more than {limit} GiB of files; more than an evidence bundle can be")
            raise BundleError(f"{self.source}: expands beyond {limit} GiB; refusing it as an archive bomb")


class _CountingReader(io.RawIOBase):
    """Charges every byte read against the bundle's budget, whatever the archive header claimed."""

    def __init__(self, inner: BinaryIO, budget: _Budget, name: str, limit: int | None = None):
        self.inner, self.budget, self.name, self.limit, self.read_so_far = inner, budget, name, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.inner.read(len(b))
        n = len(data)
        self.read_so_far += n
        if self.limit is not None and self.read_so_far > self.limit:
            raise BundleError(f"{self.budget.source}: member {self.name} expands beyond what its header declares")
        self.budget.charge(n)
        b[:n] = data
        return n


def safe_member_path(source: str, name: str) -> str:
    """Return the normalised relative path, or raise BundleError for a hostile one."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise BundleError(f"{source}: member {name!r} has an absolute path; refusing the archive")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError(f"{source}: member {name!r} points outside the bundle with '..'; refusing the archive")
    return "/".join(parts)


def iter_memory(files: dict[str, bytes]) -> Iterator[Entry]:
    """A bundle collected live and never written to disk: the files as the collectors made them."""
    for path in sorted(files):
        data = files[path]
        yield Entry(path, len(data), io.BytesIO(data))


def _kind_of(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def iter_entries(source: str) -> Iterator[Entry]:
    """Yield the bundle's regular files in a stable order. Each stream is valid until the next entry.

    ``source`` is a directory, an archive file, ``-`` for standard input, or an inherited pipe."""
    if source == "-":
        yield from _iter_stream(sys.stdin.buffer, "standard input")
        return
    try:
        mode = os.stat(source).st_mode
    except FileNotFoundError:
        raise BundleError(f"{source}: no such file or directory") from None
    except OSError as exc:
        raise BundleError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        yield from _iter_dir(source)
        return
    if stat.S_ISFIFO(mode) and _INHERITED_PIPE.match(source):
        with open(source, "rb") as stream:
            yield from _iter_stream(stream, source)
        return
    if not stat.S_ISREG(mode):
        raise BundleError(
            f"{source}: is {_kind_of(mode)}, not a bundle directory or archive file; "
            "to read a bundle from a pipe, use `aml-doctor analyze -`"
        )
    if zipfile.is_zipfile(source):
        yield from _iter_zip(source)
    else:
        try:
            is_tar = tarfile.is_tarfile(source)
        except OSError as exc:
            raise BundleError(f"{source}: cannot read: {exc.strerror or exc}") from None
        if not is_tar:
            raise BundleError(f"{source}: not a bundle (expected a directory, .tar.gz, .tgz, .tar or .zip)")
        yield from _iter_tar(source)


def _iter_stream(stream: BinaryIO, source: str) -> Iterator[Entry]:
    """An archive arriving through a pipe: its first bytes say what it is, then it is streamed."""
    head = b""
    while len(head) < 512:
        more = stream.read(512 - len(head))
        if not more:
            break
        head += more
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        data = head + stream.read(MAX_PIPED_ZIP_BYTES + 1 - len(head))
        if len(data) > MAX_PIPED_ZIP_BYTES:
            raise BundleError(
                f"{source}: a zip through a pipe is held in memory, and this one is larger than "
                f"{MAX_PIPED_ZIP_BYTES // 2**20} MiB; pass it as a file, or as a .tar.gz"
            )
        yield from _iter_zip(source, io.BytesIO(data))
        return
    compressed = head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))
    if not compressed and head[257:262] != b"ustar":
        raise BundleError(f"{source}: not a bundle (expected a .tar.gz, .tgz, .tar or .zip archive on the pipe)")
    yield from _iter_tar(source, _Prefixed(head, stream))


class _Prefixed(io.RawIOBase):
    """The bytes already read to tell the format, then the rest of the pipe."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _iter_dir(root: str) -> Iterator[Entry]:
    real_root = os.path.realpath(root)
    budget = _Budget(root, directory=True)
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                target = os.path.realpath(full)
                if os.path.commonpath([target, real_root]) != real_root:
                    raise BundleError(f"{root}: {rel} is a link pointing outside the bundle; refusing it")
            if not os.path.isfile(full):
                continue
            count += 1
            if count > MAX_MEMBERS:
                raise BundleError(f"{root}: more than {MAX_MEMBERS} files; not an evidence bundle")
            with open(full, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                yield Entry(rel, size, io.BufferedReader(_CountingReader(fh, budget, rel)))


def _iter_zip(source: str, fileobj: BinaryIO | None = None) -> Iterator[Entry]:
    budget = _Budget(source)
    try:
        zf = zipfile.ZipFile(fileobj if fileobj is not None else source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{source}: damaged zip archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleError(f"{source}: more than {MAX_MEMBERS} members; not an evidence bundle")
        declared = 0
        for info in infos:
            path = safe_member_path(source, info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == stat.S_IFLNK:
                raise BundleError(f"{source}: member {info.filename!r} is a symbolic link; refusing the archive")
            if info.is_dir():
                continue
            declared += info.file_size
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 10 * 2**20:
                raise BundleError(
                    f"{source}: member {info.filename!r} claims a {info.file_size // info.compress_size}:1 "
                    "compression ratio; refusing it as an archive bomb"
                )
        if declared > MAX_EXPANDED_BYTES:
            raise BundleError(f"{source}: declares {declared // 2**20} MiB uncompressed; refusing it as an archive bomb")
        for info in sorted(infos, key=lambda i: i.filename):
            if info.is_dir():
                continue
            path = safe_member_path(source, info.filename)
            try:
                with zf.open(info) as raw:
                    reader = io.BufferedReader(_CountingReader(raw, budget, info.filename, info.file_size))
                    yield Entry(path, info.file_size, reader)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise BundleError(f"{source}: damaged member {info.filename!r}: {exc}") from None


def _iter_tar(source: str, fileobj: BinaryIO | None = None) -> Iterator[Entry]:
    budget = _Budget(source)
    try:
        if fileobj is not None:
            tf = tarfile.open(fileobj=io.BufferedReader(fileobj), mode="r|*")
        else:
            tf = tarfile.open(source, mode="r|*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"{source}: damaged tar archive: {exc}") from None
    count = 0
    try:
        with tf:
            for member in tf:
                count += 1
                if count > MAX_MEMBERS:
                    raise BundleError(f"{source}: more than {MAX_MEMBERS} members; not an evidence bundle")
                path = safe_member_path(source, member.name)
                if member.issym() or member.islnk():
                    target = member.linkname
                    base = posixpath.dirname(path) if member.issym() else ""
                    joined = posixpath.normpath(posixpath.join(base, target))
                    if target.startswith("/") or joined.startswith(".."):
                        raise BundleError(
                            f"{source}: member {member.name!r} is a link pointing outside the bundle; refusing the archive"
                        )
                    continue  # links inside the bundle add nothing a regular member does not
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BundleError(f"{source}: member {member.name!r} is a device or fifo; refusing the archive")
                fh = tf.extractfile(member)
                if fh is None:
                    continue
                reader = io.BufferedReader(_CountingReader(fh, budget, member.name, member.size))
                yield Entry(path, member.size, reader)
    except READ_ERRORS as exc:
        raise BundleError(f"{source}: damaged or truncated archive: {exc}") from None

