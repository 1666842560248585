"""What strided percentiles (edge.infer.preprocess.strided_sample) change on real frames.

For every aiSEGcell bright-field image (1024-2304 px) and the ISL phase-contrast stack:
the normalisation bounds from every pixel vs from the strided subsample, as a share of
the normalised range, and for the 5 aiSEGcell test images the shipped aglu-brightfield
prediction with exact vs strided bounds (max |difference|, Pearson r), and the time of
each percentile computation (median of 5). Run from the repository root:

    python tools/percentile_error.py
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import tifffile
from skimage.io import imread

from edge.infer.model import SessionConfig, load_model, shipped_model_path
from edge.infer.preprocess import Normalization, strided_sample
from edge.infer.stainer import Stainer

DATA = Path("../shared/data")
NORM = Normalization(1.0, 99.8)


class ExactNormalization(Normalization):
    def bounds(self, x):  # type: ignore[no-untyped-def]
        lo, hi = np.percentile(x, [self.low_percentile, self.high_percentile])
        return float(lo), float(hi)


def relative_error(image: np.ndarray) -> float:
    exact = np.percentile(image, [NORM.low_percentile, NORM.high_percentile])
    fast = np.percentile(strided_sample(image), [NORM.low_percentile, NORM.high_percentile])
    return float(np.max(np.abs(fast - exact)) / max(exact[1] - exact[0], 1e-12))


def median_ms(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main() -> None:
    with open(DATA / "aisegcell-bf" / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    bf = DATA / "aisegcell-bf" / "bf"
    errors = {r["file"]: relative_error(imread(bf / r["file"])) for r in rows}
    stack = tifffile.imread(DATA / "isl-condB" / "phase_z13.tif")
    worst = max(errors, key=errors.__getitem__)
    print(
        f"aiSEGcell bright-field, {len(errors)} images: bound error / range "
        f"median {np.median(list(errors.values())):.2e}, max {errors[worst]:.2e} ({worst})"
    )
    print(f"ISL stack {stack.shape}: bound error / range {relative_error(stack):.2e}")
    big = imread(DATA / "aisegcell-bf" / "bf" / "fig1__220524DS30_p0004_t00020_z001.png")
    print(
        f"percentiles of one {big.shape[0]}x{big.shape[1]} frame: every pixel "
        f"{median_ms(lambda: np.percentile(big, [1, 99.8])):.1f} ms, strided "
        f"{median_ms(lambda: np.percentile(strided_sample(big), [1, 99.8])):.1f} ms"
    )
    model = load_model(shipped_model_path("brightfield", "int8"), SessionConfig())
    strided, exact = Stainer(model), Stainer(model)
    exact._norm = ExactNormalization(NORM.low_percentile, NORM.high_percentile)
    for r in rows:
        if r["experiment"] not in ("240417YZ15", "190905WW12"):
            continue
        image = imread(DATA / "aisegcell-bf" / "bf" / r["file"])
        a, b = strided.stain(image)["dapi"], exact.stain(image)["dapi"]
        rr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        print(f"  {r['file']}: prediction max |diff| {np.abs(a - b).max():.2e}, r {rr:.6f}")


if __name__ == "__main__":
    main()
