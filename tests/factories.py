"""Image and label-map files made in memory for tests."""

from __future__ import annotations

import io

import numpy as np
import tifffile
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


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
