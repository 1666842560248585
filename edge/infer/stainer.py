"""The stainer: a raw frame in, model outputs (same Y, X) out.

Pure numpy around one onnxruntime call: normalise -> pad to the model stride ->
run -> crop. The raw frame is never modified. A one-plane model takes (Y, X)
frames; a model of Z input planes (its card's ``input_planes``) takes (Z, Y, X)
stacks of exactly Z planes; outputs are (Y, X) either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError, InferenceError
from edge.infer.model import LoadedModel
from edge.infer.preprocess import as_planes, check_image, crop, normalize, pad_to_multiple
from edge.infer.tiling import run_tiled

Outputs = dict[str, npt.NDArray[np.float32]]
AUTO_TILE_PX = 2048  # tiles for frames over ``whole_frame_max_px`` when tile_px = 0


class Stainer:
    """Runs one loaded model on 2-D frames."""

    def __init__(
        self,
        model: LoadedModel,
        tile_px: int = 0,
        max_side_px: int = 16384,
        whole_frame_max_px: int = 16_777_216,
        auto_tile_px: int = AUTO_TILE_PX,
    ) -> None:
        """``tile_px`` > 0: frames larger than this run tile by tile (``edge.infer.tiling``),
        with the card's receptive-field halo; it must be a multiple of the stride. With
        ``tile_px`` = 0, frames of more than ``whole_frame_max_px`` pixels run in tiles of
        ``auto_tile_px`` anyway: memory stays bounded whatever a camera sends.
        Frames with a side above ``max_side_px`` are refused (a corrupt header, not a camera)."""
        self.model = model
        self._max_side_px = max_side_px
        self.warm_runs = 0
        self._norm = model.card.normalization.to_normalization()
        self.planes = model.card.input_planes
        self._stride = model.card.stride_px
        if tile_px % self._stride:
            raise ConfigError("model.tile_px", f"{tile_px} is not a multiple of {self._stride}")
        self._tile = tile_px
        self._whole_frame_max_px = whole_frame_max_px
        self._auto_tile_px = max(self._stride, auto_tile_px // self._stride * self._stride)
        self._run_options = _run_options()
        # On a GPU, bind the input once and fetch each output once (io-binding); on the CPU
        # a plain run does the same work with less code.
        self._io_binding = "CUDAExecutionProvider" in model.session.get_providers()

    def validate(self, image: npt.NDArray[Any]) -> str | None:
        """Why this frame cannot be stained, or None."""
        problem = check_image(image, self.planes)
        if problem is None and max(image.shape[-2:]) > self._max_side_px:
            problem = f"frame {image.shape} has a side over model.max_side_px={self._max_side_px}"
        return problem

    def stain(self, image: npt.NDArray[Any]) -> Outputs:
        """Predict every model output for one frame. ValueError: bad input (the frame's
        fault); InferenceError: outputs that are not finite (the model's fault)."""
        problem = self.validate(image)
        if problem is not None:
            raise ValueError(problem)
        x = as_planes(normalize(image, self._norm))
        tile = self._tile_for(x.shape[-2:])
        if tile:
            outputs = run_tiled(x, self._run, tile, self.model.card.halo_px, self._stride)
        else:
            padded, shape = pad_to_multiple(x, self._stride)
            outputs = {
                name: np.ascontiguousarray(crop(out, shape))
                for name, out in self._run(padded).items()
            }
        for name, out in outputs.items():
            # One float64 sum is finite iff every value is (float32 values cannot overflow
            # it): a pass without a temporary the frame's size.
            if not np.isfinite(out.sum(dtype=np.float64)):
                bad = int(np.count_nonzero(~np.isfinite(out)))
                raise InferenceError(
                    f"model {self.model.card.name}: output {name!r} has {bad} non-finite "
                    f"value(s) of {out.size} on a valid frame"
                )
        return outputs

    def _tile_for(self, shape: tuple[int, ...]) -> int:
        """The tile side for a frame of ``shape`` (Y, X); 0: run it whole."""
        if self._tile:
            return self._tile if max(shape) > self._tile else 0
        if shape[0] * shape[1] > self._whole_frame_max_px:
            return self._auto_tile_px
        return 0

    def cancel(self) -> None:
        """Abort the run in progress (onnxruntime stops between nodes and raises) and every
        later one: for a fast stop with a large frame in flight."""
        self._run_options.terminate = True

    @property
    def cancelled(self) -> bool:
        return bool(self._run_options.terminate)

    def uncancel(self) -> None:
        """Let later runs through again (once the run that ``cancel`` aborted is over)."""
        self._run_options = _run_options()

    def _run(self, x: npt.NDArray[np.float32]) -> Outputs:
        """One session run on a normalised, stride-multiple (planes, H, W) stack."""
        if self._io_binding:
            results = self._run_bound(x[None])
        else:
            results = self.model.session.run(
                list(self.model.output_names), {self.model.input_name: x[None]}, self._run_options
            )
        return {
            name: np.asarray(out[0, 0], dtype=np.float32)
            for name, out in zip(self.model.output_names, results, strict=True)
        }

    def _run_bound(self, x: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        """io-binding: the frame crosses to the device once, each output back once."""
        binding = self.model.session.io_binding()
        binding.bind_cpu_input(self.model.input_name, np.ascontiguousarray(x))
        for name in self.model.output_names:
            binding.bind_output(name, "cpu")
        self.model.session.run_with_iobinding(binding, self._run_options)
        return list(binding.copy_outputs_to_cpu())

    def warm_up(self, height_px: int, width_px: int, runs: int = 2) -> None:
        """Run the model on a synthetic frame so the first real frame is not slow; a model
        whose outputs are not finite fails here (InferenceError), before it serves."""
        rng = np.random.default_rng(0)
        shape = (height_px, width_px) if self.planes == 1 else (self.planes, height_px, width_px)
        image = rng.standard_normal(shape).astype(np.float32)
        for _ in range(runs):
            self.stain(image)
        self.warm_runs += runs


def _run_options() -> Any:
    import onnxruntime as ort

    return ort.RunOptions()
