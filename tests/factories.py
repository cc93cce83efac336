"""Image and label-map files made in memory for tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image as PILImage
from pylibCZIrw import czi

from labeling import services
from labeling.synthetic import synthetic_field


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small 8-bit grey PNG whose header declares width x height and whose data is no zlib
    stream: only a check of the header can name its size; decoding allocates the whole declared
    image and then fails on the data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"not zlib") + chunk(b"IEND", b"")


def blank_image(project, user, name: str = "f.png", size: int = 8):
    """One black single-channel image ingested into `project` by `user` (a test's canvas)."""
    (made,) = services.image_ingest(
        project=project,
        uploader=user,
        uploads=[services.Upload(name, png_bytes(np.zeros((size, size), np.uint8)))],
    )
    return made


def jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def tiff_bytes(*pages: np.ndarray) -> bytes:
    """A TIFF with one page per array (several pages: a multi-channel field)."""
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        for page in pages:
            writer.write(page, photometric="minisblack")
    return buffer.getvalue()


def field_png(seed: int = 0, size: int = 64) -> bytes:
    return png_bytes(synthetic_field(seed=seed, height=size, width=size, nuclei=4, radius=(4, 8)).brightfield)


def paired_field_image(
    project,
    uploader,
    seed: int,
    *,
    size: int = 64,
    nuclei: int = 4,
    radius: tuple[int, int] = (5, 9),
    fluorescence: bool = True,
):
    """A synthetic field ingested as the image field-<seed>: its brightfield channel and, unless
    `fluorescence` is False, the matching fluorescence channel (what the teacher reads)."""
    field = synthetic_field(seed=seed, height=size, width=size, nuclei=nuclei, radius=radius)
    uploads = [services.Upload(f"field-{seed}-bf.png", png_bytes(field.brightfield))]
    names = ["brightfield"]
    if fluorescence:
        uploads.append(services.Upload(f"field-{seed}-fl.png", png_bytes(field.fluorescence)))
        names.append("fluorescence")
    (image,) = services.image_ingest(
        project=project, uploader=uploader, uploads=uploads, channel_names=names, name=f"field-{seed}"
    )
    return image


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive holding these files (name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def named(data: bytes, name: str) -> io.BytesIO:
    """A file object with a name, as the test client uploads it."""
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def raw_multipart(files: list[tuple[str, bytes]], field: str = "files") -> tuple[bytes, str]:
    """A multipart body with file names exactly as given (the test client would trim paths)."""
    boundary = "lesslabel-test-boundary"
    parts = []
    for name, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def ome_tiff_bytes(
    array: np.ndarray,
    *,
    axes: str,
    channels: list[str] | None = None,
    pixel_size: float | None = None,
    compression: str | None = None,
) -> bytes:
    """An OME-TIFF written by tifffile's OME writer, with channel names and a pixel size in µm."""
    metadata: dict[str, object] = {"axes": axes}
    if channels:
        metadata["Channel"] = {"Name": channels}
    if pixel_size is not None:
        metadata.update(PhysicalSizeX=pixel_size, PhysicalSizeY=pixel_size, PhysicalSizeZ=2.0)
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, array, ome=True, photometric="minisblack", metadata=metadata, compression=compression
    )
    return buffer.getvalue()


def czi_bytes(array: np.ndarray, *, channels: list[str], pixel_size: float, tmp_path: Path) -> bytes:
    """A CZI written by pylibCZIrw (libCZI) from a (T, Z, C, Y, X) array, pixel size in µm."""
    path = tmp_path / "written.czi"
    with czi.create_czi(str(path), exist_ok=True) as writer:
        for t, z, c in np.ndindex(*array.shape[:3]):
            writer.write(np.ascontiguousarray(array[t, z, c]), plane={"T": t, "Z": z, "C": c})
        writer.write_metadata(
            document_name="test",
            channel_names=dict(enumerate(channels)),
            scale_x=pixel_size * 1e-6,
            scale_y=pixel_size * 1e-6,
            scale_z=2e-6,
        )
    return path.read_bytes()


def nuclei_folder(root: Path, *, count: int, size: int, nuclei: int) -> Path:
    """images/ + labels/ (instance ids) of `count` generated fields, as ../shared/data/bbbc039 is laid out."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for n in range(count):
        field = synthetic_field(seed=n, height=size, width=size, nuclei=nuclei)
        PILImage.fromarray(field.fluorescence).save(root / "images" / f"f{n}.png")
        PILImage.fromarray(field.instances).save(root / "labels" / f"f{n}.png")
    return root
