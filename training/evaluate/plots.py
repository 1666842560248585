"""Per-stage figures: loss curves and a sample panel (input | true DAPI | predicted | sigma)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curve(history: list[dict[str, float]], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    window = max(1, len(history) // 100)
    for key in history[0] if history else []:
        values = np.array([h[key] for h in history])
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(len(smooth)) + window, smooth, label=key)
    ax.set(xlabel="step", ylabel="loss (moving mean)", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def sample_panel(
    rows: Sequence[Sequence[npt.NDArray[np.float32]]],
    path: Path,
    title: str,
    third: str = "predicted DAPI",
    first: str = "input",
) -> None:
    """Each row: (input, true dapi, predicted dapi, sigma); ``first`` and ``third`` name
    columns one (the input's modality) and three."""
    plt = _pyplot()
    names = (first, "true DAPI", third, "sigma")
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        vmax = float(np.percentile(row[1], 99.8))
        for c, (img, name) in enumerate(zip(row, names, strict=True)):
            kw = {"vmin": 0.0, "vmax": vmax} if c in (1, 2) else {}
            axes[r, c].imshow(img, cmap="gray", **kw)
            axes[r, c].set_axis_off()
            if r == 0:
                axes[r, c].set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def comparison_panel(
    qpi: npt.NDArray[np.float32],
    target: npt.NDArray[np.float32],
    preds: dict[str, npt.NDArray[np.float32]],
    path: Path,
) -> None:
    """One row: input, truth, then each model's prediction on the truth's display range.

    A field much longer than wide is shown as its square window with the most signal.
    """
    plt = _pyplot()
    side = min(target.shape)
    if max(target.shape) > 1.5 * side:
        axis = int(np.argmax(target.shape))
        sums = np.cumsum(np.concatenate([[0.0], target.sum(axis=1 - axis)]))
        start = int(np.argmax(sums[side:] - sums[:-side]))
        window = [slice(None), slice(None)]
        window[axis] = slice(start, start + side)
        qpi, target = qpi[tuple(window)], target[tuple(window)]
        preds = {k: v[tuple(window)] for k, v in preds.items()}
    n = 2 + len(preds)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.6), squeeze=False)
    vmax = float(np.percentile(target, 99.8))
    images = [("input", qpi, {}), ("true DAPI", target, {"vmin": 0.0, "vmax": vmax})]
    images += [(name, p, {"vmin": 0.0, "vmax": vmax}) for name, p in preds.items()]
    for ax, (name, img, kw) in zip(axes[0], images, strict=True):
        ax.imshow(img, cmap="gray", **kw)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
