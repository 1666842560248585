"""Folders of single-channel images, one folder per channel, paired by file name.

``PATH/<input>/NAME.png`` + ``PATH/<target>/NAME.png`` (+ ``PATH/<mask>/NAME.png``
with annotated nuclei, 0 = background): PNG or TIFF, any mix. This is how many
public paired sets are published (e.g. aiSEGcell: ``bf/``, ``nuc/``, ``gt_mask/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.data.readers.base import DataError

SUFFIXES = (".png", ".tif", ".tiff")


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(str(folder), "not a folder (one folder per channel expected)")
    found = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUFFIXES}
    if not found:
        raise DataError(str(folder), f"no image files ({', '.join(SUFFIXES)})")
    return found


def read_image(path: Path) -> Any:
    """One 2-D image from a PNG or TIFF file; errors name the file."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            return np.squeeze(tifffile.imread(path))
        except (tifffile.TiffFileError, ValueError, OSError) as exc:
            raise DataError(str(path), f"not a readable TIFF ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(str(path), f"not a readable image ({exc})") from None


def read_folders(
    path: Path, channels: tuple[str, str], mask_channel: str | None = None
) -> list[tuple[Any, Any, str, Any]]:
    """(input, target, origin, mask or None) per file name present in every channel folder."""
    if not path.is_dir():
        raise DataError(str(path), "not a folder")
    names = [*channels, *([mask_channel] if mask_channel else [])]
    sets = [_files(path / n) for n in names]
    stems = [set(s) for s in sets]
    common = stems[0].intersection(*stems[1:])
    unpaired = sorted(stems[0].union(*stems[1:]) - common)
    if unpaired:
        raise DataError(str(path), f"files missing from some channel folders: {unpaired[:5]}")
    out = []
    for stem in sorted(sets[0]):
        images = [read_image(s[stem]) for s in sets]
        out.append((images[0], images[1], str(sets[0][stem]), images[2] if mask_channel else None))
    return out
