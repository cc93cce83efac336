"""Unpacking an uploaded zip of annotation files, safely: the zip's directory is checked against
the limits (entries, uncompressed total, size of each file) before anything is extracted, and a
name that could reach outside a folder (`../x`, `/etc/x`, `C:\\x`) or a link refuses the whole zip."""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from labeling.errors import InvalidInput

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SKIPPED = ("__MACOSX/", ".DS_Store", "Thumbs.db")


@dataclass(frozen=True)
class Limits:
    entries: int
    total_bytes: int
    file_bytes: int


@dataclass(frozen=True)
class NamedFile:
    name: str  # the file's name; for a zip member, its path inside the zip
    data: bytes


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unpack(files: list[NamedFile], *, limits: Limits) -> list[NamedFile]:
    """The files themselves, with every zip among them replaced by its members."""
    found: list[NamedFile] = []
    for file in files:
        if is_zip(file.data) or file.name.lower().endswith(".zip"):
            found.extend(_members(file, limits))
        else:
            _check_size(file.name, len(file.data), limits)
            found.append(file)
    return found


def _members(archive: NamedFile, limits: Limits) -> list[NamedFile]:
    try:
        with zipfile.ZipFile(io.BytesIO(archive.data)) as zipped:
            infos = [info for info in zipped.infolist() if not info.is_dir() and not _skipped(info.filename)]
            _check_directory(archive.name, infos, limits)
            return [NamedFile(info.filename, _read(zipped, info, limits)) for info in infos]
    except InvalidInput:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as error:
        raise InvalidInput(
            f"{archive.name}: not a readable zip file ({error}); nothing was imported."
        ) from None


def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return name.startswith(SKIPPED[0]) or (
        bool(parts) and (parts[-1] in SKIPPED or parts[-1].startswith("._"))
    )


def _check_directory(zip_name: str, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    for info in infos:
        _check_name(zip_name, info)
        _check_size(f"{zip_name}: {info.filename}", info.file_size, limits)
    if len(infos) > limits.entries:
        raise InvalidInput(
            f"{zip_name} holds {len(infos)} files, more than this server accepts ({limits.entries}; "
            "IMPORT_MAX_ZIP_ENTRIES); split it."
        )
    total = sum(info.file_size for info in infos)
    if total > limits.total_bytes:
        raise InvalidInput(
            f"{zip_name} unpacks to {total} bytes, more than this server accepts ({limits.total_bytes}; "
            "IMPORT_MAX_UNCOMPRESSED_BYTES); split it."
        )


def _check_name(zip_name: str, info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    unsafe = (
        path.is_absolute()
        or ".." in path.parts
        or (len(name) > 1 and name[1] == ":")  # a Windows drive
        or "\x00" in name
        or stat.S_ISLNK(info.external_attr >> 16)
    )
    if unsafe:
        raise InvalidInput(
            f"{zip_name}: member {name!r} is a link or a path outside the zip's folder; "
            "nothing was imported. Zip the files again from their folder."
        )


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.file_bytes:
        raise InvalidInput(
            f"{name} is {size} bytes, more than this server accepts for one file ({limits.file_bytes}; "
            "IMPORT_MAX_FILE_BYTES)."
        )


def _read(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> bytes:
    # zipfile stops at the declared size and checks the CRC, so a member cannot grow past it.
    with zipped.open(info) as member:
        data = member.read(limits.file_bytes + 1)
    if len(data) != info.file_size:
        raise InvalidInput(
            f"{info.filename}: the zip's directory says {info.file_size} bytes, not {len(data)}."
        )
    return data


def check_directory(zip_name: str, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse a zip whose directory names a link or a path outside its folder, or holds more
    than the limits allow (InvalidInput), before anything in it is read."""
    _check_directory(zip_name, infos, limits)
