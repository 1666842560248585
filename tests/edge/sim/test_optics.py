"""Label-free image formation: Fresnel propagation, bright-field, phase-contrast halo."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.sim.optics import (
    OpticsConfig,
    camera,
    phase_contrast_intensity,
    propagate,
    pupil,
    render,
    specimen_field,
)
from edge.sim.phantom import SimulationConfig, simulate_pair

PX = 0.65


def _disk(phase: float, radius_px: float = 12, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.indices((n, n))
    r = np.hypot(yy - n / 2, xx - n / 2)
    return (phase * (r < radius_px)).astype(np.float32), r


def test_propagation_is_undone_by_propagating_back() -> None:
    cfg = OpticsConfig()
    ph, _ = _disk(0.5)
    field = propagate(specimen_field(ph), 0.0, PX, cfg)  # pupil-limited
    back = propagate(propagate(field, 3.0, PX, cfg), -3.0, PX, cfg)
    np.testing.assert_allclose(back, field, atol=1e-4)
    assert pupil((64, 64), PX, cfg).sum() < 64 * 64  # NA 0.4 cuts the highest frequencies


def test_bright_field_shows_a_phase_object_only_out_of_focus() -> None:
    cfg = OpticsConfig()
    ph, _ = _disk(0.3)
    contrast = [
        float(np.std(np.abs(propagate(specimen_field(ph), dz, PX, cfg)) ** 2)) for dz in (0, 3)
    ]
    assert contrast[0] < 0.2 * contrast[1]


def test_phase_contrast_has_a_bright_halo_around_cells() -> None:
    ph, r = _disk(0.3)
    image = phase_contrast_intensity(specimen_field(ph), PX, OpticsConfig())
    background = image[r > 40].mean()
    assert image[(r > 13) & (r < 18)].mean() > 1.2 * background
    assert background == pytest.approx(0.25**2, rel=0.05)  # the ring's transmission squared


def test_camera_counts_have_shot_and_read_noise() -> None:
    cfg = OpticsConfig(photons=400, read_noise_e=3, gain_counts_per_e=1.0, offset_counts=100)
    counts = camera(np.ones((256, 256), np.float32), cfg, np.random.default_rng(0))
    assert counts.mean() == pytest.approx(500, rel=0.01)
    assert counts.std() == pytest.approx(np.sqrt(400 + 9), rel=0.05)


def test_the_simulator_renders_three_modalities_of_one_specimen() -> None:
    base = SimulationConfig(height_px=96, width_px=96, granules_per_cell=(3, 8))
    qpi = simulate_pair(base, 1)
    pc = simulate_pair(dataclasses.replace(base, modality="phase-contrast"), 1)
    bf = simulate_pair(dataclasses.replace(base, modality="bright-field", defocus_um=(2, 2)), 1)
    np.testing.assert_array_equal(qpi.qpi_rad, pc.qpi_rad)  # the same specimen and phase
    np.testing.assert_array_equal(qpi.dapi_e, bf.dapi_e)
    assert qpi.label_free is qpi.qpi_rad
    for pair in (pc, bf):
        assert pair.label_free.shape == (96, 96) and pair.label_free.min() > 50  # camera counts
        assert not np.array_equal(pair.label_free, pair.qpi_rad)


def test_default_simulation_is_unchanged_by_the_optics() -> None:
    """The shipped simulated recipes reproduce: without granules or another modality, the
    QPI stream draws nothing new (label_free is the phase itself)."""
    pair = simulate_pair(SimulationConfig(height_px=64, width_px=64), 5)
    direct = render("qpi", pair.qpi_rad, PX, OpticsConfig(), np.random.default_rng(0))
    assert pair.label_free is pair.qpi_rad and direct.shape == pair.qpi_rad.shape
