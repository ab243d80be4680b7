"""Reading image files safely: RGB on white, square-resized tensors, and clear errors for bad files."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


def open_image(path: str | Path, member: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file fully and return it as RGB, with transparency composited on white.

    ``member``: ``(offset, size)`` of the image inside ``path`` (a WebDataset tar shard), read from
    there instead of the whole file. Images with more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS``
    are refused (decompression-bomb guard) before their pixels are decoded.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, is not a readable image, is truncated or corrupt, or is too large;
        the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    if member is None:
        if path.stat().st_size == 0:
            raise ValueError(f"image file is empty (0 bytes): {path}")
        return decode_image(path, str(path))
    offset, size = member
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    return decode_image(data, f"{path}:{offset}")


def decode_image(source: str | Path | bytes, name: str) -> Image.Image:
    """:func:`open_image` of a file or of encoded bytes (``name`` says where they came from)."""
    if isinstance(source, bytes):
        if not source:
            raise ValueError(f"image is empty (0 bytes): {name}")
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image.load()
                return _rgb_on_white(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(f"image is too large ({err}): {name}") from None
    except (OSError, SyntaxError, ValueError) as err:
        # Pillow reports unreadable, truncated and corrupt files with these.
        raise ValueError(f"image cannot be read ({err}): {name}") from None


def _rgb_on_white(image: Image.Image) -> Image.Image:
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: str | Path, image_size: int, member: tuple[int, int] | None = None) -> torch.Tensor:
    """Load an image as a float tensor ``[3, image_size, image_size]`` with values in [0, 1].

    Transparent pixels become white. Non-square images are centre-cropped to a square
    and then resized (bicubic).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`open_image` (``member`` as there); ``ValueError`` also for a non-positive ``image_size``.
    """
    _check_size(image_size)
    return image_tensor(open_image(path, member), image_size)


def image_tensor(image: Image.Image, image_size: int) -> torch.Tensor:
    """An RGB image as :func:`load_image` returns it: ``[3, S, S]`` in [0, 1], centre-cropped and resized."""
    _check_size(image_size)
    if image.size != (image_size, image_size):
        image = ImageOps.fit(image, (image_size, image_size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def _check_size(image_size) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
