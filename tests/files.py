"""Writers of real microscopy files for tests (the formats the readers must accept)."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import numpy as np


def write_ndtiff(folder: Path, images: dict[tuple[int, str], np.ndarray]) -> Path:
    """An NDTiff dataset (ndstorage, as Micro-Manager writes it) of (time, channel) images."""
    from ndstorage import NDTiffDataset

    # ndstorage's writer leaves a read handle open after close(); the readers under
    # test close cleanly. Collect the writer here with its warning ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        ds = NDTiffDataset(str(folder), name="acq", writable=True)
        ds.initialize(summary_metadata={"ChannelGroup": "Channel"})
        for (t, c), img in images.items():
            ds.put_image({"time": t, "channel": c}, img, {})
        ds.finish()
        ds.close()
        del ds
        gc.collect()
    return next(folder.iterdir())
