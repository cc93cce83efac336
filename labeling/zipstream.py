"""A zip written as a stream: members go out as they are written, so a zip of any size is sent
while it is made and never held whole in memory (exports, project backups).

zipfile writes to any object with `write` and `tell`; without `seek` it marks each member with a
data descriptor, which every unzip tool reads.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, cast

CHUNK = 1024 * 1024
# Already compressed (zlib TIFF, PNG): stored; the rest (JSON, CSV, GeoJSON) deflated.
STORED_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".czi", ".nd2", ".zip")


class _Sink:
    """A write-only file that keeps what was written until it is taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class ZipStream:
    """Add members one after another; each `add...` yields the zip's bytes written meanwhile, and
    `close` the central directory."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(cast(IO[bytes], self._sink), "w", zipfile.ZIP_DEFLATED)
        self.names: list[str] = []

    def add(self, name: str, data: bytes) -> Iterator[bytes]:
        yield from self.add_chunks(
            name, (data[start : start + CHUNK] for start in range(0, len(data), CHUNK))
        )

    def add_file(self, name: str, handle: IO[bytes]) -> Iterator[bytes]:
        yield from self.add_chunks(name, iter(lambda: handle.read(CHUNK), b""))

    def add_text(self, name: str, lines: Iterable[str]) -> Iterator[bytes]:
        yield from self.add_chunks(name, (line.encode() for line in lines))

    def add_chunks(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
        stored = name.lower().endswith(STORED_SUFFIXES)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        self.names.append(name)
        # The size is not known before the end, so every member may grow past 4 GiB.
        with self._zip.open(info, "w", force_zip64=True) as member:
            for chunk in chunks:
                member.write(chunk)
                yield self._sink.take()
        yield self._sink.take()

    def close(self) -> bytes:
        self._zip.close()
        return self._sink.take()
