"""The stainer: a raw frame in, model outputs (same Y, X) out.

Pure numpy around one onnxruntime call: normalise -> pad to the model stride ->
run -> crop. The raw frame is never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge.model import LoadedModel
from edge.preprocess import Normalization, check_image, crop, normalize, pad_to_multiple

Outputs = dict[str, npt.NDArray[np.float32]]


class Stainer:
    """Runs one loaded model on 2-D frames."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        n = model.card.normalization
        self._norm = Normalization(n.low_percentile, n.high_percentile)
        self._stride = model.card.stride_px

    def validate(self, image: npt.NDArray[Any]) -> str | None:
        """Why this frame cannot be stained, or None."""
        return check_image(image)

    def stain(self, image: npt.NDArray[Any]) -> Outputs:
        """Predict every model output for one frame; raises ValueError on bad input."""
        problem = self.validate(image)
        if problem is not None:
            raise ValueError(problem)
        x, shape = pad_to_multiple(normalize(image, self._norm), self._stride)
        results = self.model.session.run(
            list(self.model.output_names), {self.model.input_name: x[None, None]}
        )
        return {
            name: np.ascontiguousarray(crop(out[0, 0], shape), dtype=np.float32)
            for name, out in zip(self.model.output_names, results, strict=True)
        }

    def warm_up(self, height_px: int, width_px: int, runs: int = 2) -> None:
        """Run the model on a synthetic frame so the first real frame is not slow."""
        rng = np.random.default_rng(0)
        image = rng.standard_normal((height_px, width_px)).astype(np.float32)
        for _ in range(runs):
            self.stain(image)
