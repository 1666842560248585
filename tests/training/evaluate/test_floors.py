"""The two no-learning floors: texture energy (sign and scale from training) and ridge."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from training.evaluate.floors import RidgeFloor, TextureFloor, filter_bank, texture_energy
from training.evaluate.metrics import pearson_r


def _field(seed: int, invert: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A target of blobs and an input textured where they are (or, inverted, textured
    everywhere but there)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((128, 128))
    target = np.zeros((128, 128))
    for cy, cx in rng.integers(12, 116, size=(8, 2)):
        target += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40.0)
    where = 1.2 - target if invert else 0.1 + target
    x = rng.normal(0, 1, target.shape) * where
    return x[None].astype(np.float32), target.astype(np.float32)


def test_texture_energy_is_g4_of_the_deviation_from_g8() -> None:
    x = np.random.default_rng(0).normal(size=(64, 64))
    want = gaussian_filter(np.abs(x - gaussian_filter(x, 8, mode="reflect")), 4, mode="reflect")
    np.testing.assert_allclose(texture_energy(x), want, atol=1e-12)


def test_the_texture_floor_takes_its_sign_from_the_training_split() -> None:
    """Texture where the nuclei are: positive scale; texture everywhere else: negative.
    Either way the floor correlates with held-out targets."""
    for invert, sign in ((False, 1), (True, -1)):
        train = [_field(s, invert) for s in range(3)]
        floor = TextureFloor.fit([q for q, _ in train], [t for _, t in train])
        assert np.sign(floor.scale) == sign
        q, t = _field(10, invert)
        assert pearson_r(floor(q), t) > 0.5


def test_the_ridge_floor_fits_its_training_split_and_predicts_held_out_fields() -> None:
    train = [_field(s) for s in range(3)]
    inputs, targets = [q for q, _ in train], [t for _, t in train]
    ridge, texture = RidgeFloor.fit(inputs, targets), TextureFloor.fit(inputs, targets)
    q, t = _field(11)
    assert pearson_r(ridge(q), t) >= pearson_r(texture(q), t) - 0.02  # the bank holds T
    assert ridge(q).shape == t.shape and ridge(q).dtype == np.float32
    stack = np.concatenate([q, q * 2, q * 3])
    assert len(list(filter_bank(stack))) == len(list(filter_bank(q))) + 2  # plane spread
