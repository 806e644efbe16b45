"""Read an evidence bundle (a directory, ``.tar.gz``/``.tgz``/``.tar`` or ``.zip``) without extracting it.

Archives are streamed member by member and nothing is written to disk, so a hostile member name
cannot place a file anywhere. A member whose name is absolute or climbs out with ``..``, or a link
that points out of the bundle, rejects the whole archive. Expansion is capped, which defeats a zip
bomb whatever its declared sizes say.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

MAX_MEMBERS = 20_000
MAX_EXPANDED_BYTES = 2 * 1024 * 1024 * 1024
MAX_RATIO = 1000  # a zip member that claims to expand more than this is a bomb, not a log


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
    def __init__(self, source: str):
        self.source = source
        self.used = 0

    def charge(self, n: int) -> None:
        self.used += n
        if self.used > MAX_EXPANDED_BYTES:
            raise BundleError(
                f"{self.source}: expands beyond {MAX_EXPANDED_BYTES // 2**30} GiB; refusing it as an archive bomb"
            )


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


def iter_entries(source: str) -> Iterator[Entry]:
    """Yield the bundle's regular files in a stable order. Each stream is valid until the next entry."""
    if os.path.isdir(source):
        yield from _iter_dir(source)
    elif not os.path.exists(source):
        raise BundleError(f"{source}: no such file or directory")
    elif zipfile.is_zipfile(source):
        yield from _iter_zip(source)
    else:
        try:
            is_tar = tarfile.is_tarfile(source)
        except OSError as exc:
            raise BundleError(f"{source}: cannot read: {exc.strerror or exc}") from None
        if not is_tar:
            raise BundleError(f"{source}: not a bundle (expected a directory, .tar.gz, .tgz, .tar or .zip)")
        yield from _iter_tar(source)


def _iter_dir(root: str) -> Iterator[Entry]:
    real_root = os.path.realpath(root)
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
                yield Entry(rel, os.fstat(fh.fileno()).st_size, fh)


def _iter_zip(source: str) -> Iterator[Entry]:
    budget = _Budget(source)
    try:
        zf = zipfile.ZipFile(source)
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


def _iter_tar(source: str) -> Iterator[Entry]:
    budget = _Budget(source)
    try:
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

