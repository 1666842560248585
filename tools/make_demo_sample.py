"""Write edge/samples/aisegcell-bf-demo.ome.tif: the demo's real bright-field recording.

Six 512x512 crops (two positions x three timepoints) of the aiSEGcell training experiment
210930MA20 (CC-BY 4.0, Schirmacher et al., github.com/bethcg/aiSEGcell), channels
"bright-field" (the model's input) and "nuclei" (the true nuclear stain), axes TCYX,
uint8 as published, zlib-compressed. Each position's crop is the 512 px window with the
most nuclear signal. Run from the repository root with ../shared/data beside it:

    python tools/make_demo_sample.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from skimage.io import imread

ROOT = Path("../shared/data/aisegcell-bf")
OUT = Path("edge/samples/aisegcell-bf-demo.ome.tif")
POSITIONS = {
    "210930MA20_p0003": ("t00013", "t00024", "t00033"),
    "210930MA20_p0013": ("t00004", "t00047", "t00074"),
}
SIDE = 512


def best_window(nuc: np.ndarray) -> tuple[int, int]:
    h, w = nuc.shape
    signal = nuc.astype(np.float64) - np.median(nuc)
    return max(
        ((y, x) for y in range(0, h - SIDE + 1, 128) for x in range(0, w - SIDE + 1, 128)),
        key=lambda yx: signal[yx[0] : yx[0] + SIDE, yx[1] : yx[1] + SIDE].sum(),
    )


def main() -> None:
    frames, sources = [], []
    for position, times in POSITIONS.items():
        names = [f"sfig10__{position}_{t}_z001.png" for t in times]
        y, x = best_window(imread(ROOT / "nuc" / names[0]))
        for name in names:
            bf = imread(ROOT / "bf" / name)[y : y + SIDE, x : x + SIDE]
            nuc = imread(ROOT / "nuc" / name)[y : y + SIDE, x : x + SIDE]
            frames.append(np.stack([bf, nuc]))
            sources.append(f"{name} [{y}:{y + SIDE}, {x}:{x + SIDE}]")
    data = np.stack(frames).astype(np.uint8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(
        OUT,
        data,
        ome=True,
        compression="zlib",
        metadata={
            "axes": "TCYX",
            "Channel": {"Name": ["bright-field", "nuclei"]},
            "Description": "aiSEGcell (CC-BY 4.0, Schirmacher et al.): " + "; ".join(sources),
        },
    )
    print(f"{OUT}: {data.shape} {data.dtype}, {OUT.stat().st_size / 1e6:.2f} MB")
    for s in sources:
        print(" ", s)


if __name__ == "__main__":
    main()
