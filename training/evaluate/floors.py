"""Two no-learning-to-speak-of floors every real report carries.

A model that does not beat both on an experiment has learned nothing useful there.

- ``texture``: the local texture energy ``G4(|x - G8(x)|)`` (Gaussian blurs of sigma 8
  and 4 px of the input plane x): nuclei in bright-field and phase-contrast frames are
  where the texture is. No learning but an affine map ``a * T + b`` fitted by least
  squares on the training split, which picks the sign (and puts the values in the
  target's units, so SSIM and the nucleus segmentation see comparable images).
- ``ridge``: a ridge regression on a small filter bank (Gaussians, gradient
  magnitudes, Laplacians of Gaussians, local variances and texture energies at a few
  scales) fitted on (a subsample of) the training split's pixels.

Both work on one plane: the input itself, or the middle plane of a stack (the
in-focus one of ISL's 13 planes); for a stack the ridge bank also gets the
plane-to-plane standard deviation. Pure numpy/scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
TEXTURE_SIGMAS_PX = (8.0, 4.0)
SAMPLES_PER_FIELD = 20_000
RIDGE_LAMBDA = 1e-2  # per sample, on standardised features


def _blur(x: npt.NDArray[Any], sigma: float) -> F64:
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(np.asarray(x, np.float64), sigma, mode="reflect"))


def plane_of(qpi: F32) -> F64:
    """The plane the floors look at: (planes, H, W) -> the middle plane."""
    return np.asarray(qpi[qpi.shape[0] // 2], np.float64)


def texture_energy(x: npt.NDArray[Any], outer_px: float = 8.0, inner_px: float = 4.0) -> F64:
    """``G_inner(|x - G_outer(x)|)`` of a 2-D image."""
    x = np.asarray(x, np.float64)
    return _blur(np.abs(x - _blur(x, outer_px)), inner_px)


def filter_bank(qpi: F32) -> Iterator[F64]:
    """The features of one normalised (planes, H, W) input, one (H, W) image at a time
    (a 2304 px field has 20 of them: streamed, never all in memory)."""
    from scipy.ndimage import gaussian_gradient_magnitude, gaussian_laplace

    x = plane_of(qpi)
    yield x
    for s in (1.0, 2.0, 4.0, 8.0, 16.0):
        yield _blur(x, s)
    for s in (1.0, 2.0, 4.0):
        yield np.asarray(gaussian_gradient_magnitude(x, s, mode="reflect"))
    for s in (1.0, 2.0, 4.0, 8.0):
        yield np.asarray(gaussian_laplace(x, s, mode="reflect"))
    for s in (2.0, 4.0, 8.0):
        m = _blur(x, s)
        yield np.sqrt(np.maximum(_blur(x * x, s) - m * m, 0.0))
    for s in (4.0, 8.0, 16.0):
        yield texture_energy(x, s, s / 2)
    if qpi.shape[0] > 1:
        spread = np.asarray(qpi, np.float64).std(axis=0)
        yield spread
        yield _blur(spread, 4.0)


def training_pixels(
    inputs: list[F32], targets: list[F32], features: Callable[[F32], Iterator[F64]], seed: int = 0
) -> tuple[F64, F64]:
    """(samples, features) and (samples,) target values at up to ``SAMPLES_PER_FIELD``
    random pixels of each training field (the same pixels for every feature)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for q, t in zip(inputs, targets, strict=True):
        idx = rng.choice(t.size, size=min(t.size, SAMPLES_PER_FIELD), replace=False)
        xs.append(np.stack([f.ravel()[idx] for f in features(q)], axis=1))
        ys.append(np.asarray(t, np.float64).ravel()[idx])
    return np.concatenate(xs), np.concatenate(ys)


def _texture(qpi: F32) -> Iterator[F64]:
    yield texture_energy(plane_of(qpi))


@dataclass(frozen=True, slots=True)
class TextureFloor:
    """``a * texture_energy(plane) + b``, ``a`` and ``b`` fitted on training fields."""

    scale: float
    offset: float
    name: str = "texture floor"

    @classmethod
    def fit(cls, inputs: list[F32], targets: list[F32], seed: int = 0) -> TextureFloor:
        x, y = training_pixels(inputs, targets, _texture, seed)
        x = x[:, 0]
        var = float(x.var())
        a = float(np.mean((x - x.mean()) * (y - y.mean())) / var) if var > 0 else 0.0
        return cls(a, float(y.mean() - a * x.mean()))

    def __call__(self, qpi: F32) -> F32:
        return (self.scale * texture_energy(plane_of(qpi)) + self.offset).astype(np.float32)


@dataclass(frozen=True, slots=True)
class RidgeFloor:
    """A ridge regression of the target on ``filter_bank`` (standardised features)."""

    mean: F64
    std: F64
    weights: F64
    bias: float
    name: str = "ridge floor"

    @classmethod
    def fit(cls, inputs: list[F32], targets: list[F32], seed: int = 0) -> RidgeFloor:
        x, y = training_pixels(inputs, targets, filter_bank, seed)
        mean, std = x.mean(axis=0), x.std(axis=0)
        std[std == 0] = 1.0
        z = (x - mean) / std
        gram = z.T @ z + RIDGE_LAMBDA * len(z) * np.eye(z.shape[1])
        weights = np.linalg.solve(gram, z.T @ (y - y.mean()))
        return cls(mean, std, weights, float(y.mean()))

    def __call__(self, qpi: F32) -> F32:
        out = np.full(qpi.shape[-2:], self.bias, np.float64)
        for f, m, sd, w in zip(filter_bank(qpi), self.mean, self.std, self.weights, strict=True):
            out += w * (f - m) / sd
        return out.astype(np.float32)


Floor = TextureFloor | RidgeFloor


def fit_floors(inputs: list[F32], targets: list[F32]) -> tuple[TextureFloor, RidgeFloor]:
    """Both floors, fitted on the training split's normalised inputs and targets."""
    return TextureFloor.fit(inputs, targets), RidgeFloor.fit(inputs, targets)
