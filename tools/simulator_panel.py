"""Figure: one simulated field as QPI, phase contrast (in focus, defocused) and
bright-field (in focus, defocused), beside its DAPI (docs/evaluation/simulator/).

    python tools/simulator_panel.py docs/evaluation/simulator/modalities.png
"""

from __future__ import annotations

import dataclasses
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from edge.sim.phantom import SimulationConfig, simulate_pair

BASE = SimulationConfig(height_px=256, width_px=256, granules_per_cell=(5, 20))
VIEWS = [
    ("QPI (rad)", {"modality": "qpi"}),
    ("phase contrast, in focus", {"modality": "phase-contrast"}),
    ("phase contrast, 2 um defocus", {"modality": "phase-contrast", "defocus_um": (2.0, 2.0)}),
    ("bright-field, in focus", {"modality": "bright-field"}),
    ("bright-field, 3 um defocus", {"modality": "bright-field", "defocus_um": (3.0, 3.0)}),
]


def main(out: str) -> None:
    fig, axes = plt.subplots(1, len(VIEWS) + 1, figsize=(3 * (len(VIEWS) + 1), 3.3))
    for ax, (title, change) in zip(axes, VIEWS, strict=False):
        pair = simulate_pair(dataclasses.replace(BASE, **change), 3)
        ax.imshow(pair.label_free, cmap="gray")
        ax.set_title(title, fontsize=9)
    axes[-1].imshow(simulate_pair(BASE, 3).dapi_e, cmap="magma")
    axes[-1].set_title("DAPI (photo-electrons)", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=70)


if __name__ == "__main__":
    main(sys.argv[1])
