"""Zip artifacts (ensembles, skops files) opened with their sizes bounded first.

A zip's central directory says how large each entry unpacks; Python's
``zipfile`` never returns more than that declared size. So checking the
declared sizes before reading bounds the memory a crafted archive can take:
a 1 MB ensemble that unpacked a manifest and members to 2 GB is refused up
front. The limit is generous for real models (their entries compress a few
times at most) and tight for bombs (deflate reaches ~1000x).
"""

from __future__ import annotations

import io
import zipfile

from modelport.errors import InvalidInputError, UnsafeArtifactError

EXPANSION = 64  # at most this many bytes unpacked per byte of the artifact …
FLOOR = 64 * 1024 * 1024  # … or this many, whichever is more
CEILING = 8 * 1024 * 1024 * 1024  # and never more than this


def open_zip(data: bytes, what: str, max_entries: int) -> zipfile.ZipFile:
    """``data`` as a ZipFile whose entries are few enough, unique, and small enough in
    total; raises InvalidInputError for bytes that are no zip at all."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidInputError(f"not a loadable {what}: not a zip archive") from None
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise UnsafeArtifactError(f"{what} holds {len(infos):,} entries, over its limit of "
                                  f"{max_entries:,}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise UnsafeArtifactError(f"{what} holds two entries of the same name")
    total = sum(i.file_size for i in infos)
    limit = unpacked_limit(len(data))
    if total > limit:
        raise UnsafeArtifactError(f"{what} would unpack to {total:,} bytes from {len(data):,} "
                                  f"(limit {limit:,}) — refusing a decompression bomb")
    return zf


def unpacked_limit(size: int) -> int:
    return min(CEILING, max(FLOOR, EXPANSION * size))
