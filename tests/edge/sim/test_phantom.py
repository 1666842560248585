import numpy as np
import pytest

from edge.sim.phantom import SimulationConfig, gaussian_blur, simulate_pair


def test_deterministic_from_seed() -> None:
    cfg = SimulationConfig(height_px=96, width_px=128)
    a, b, c = simulate_pair(cfg, 5), simulate_pair(cfg, 5), simulate_pair(cfg, 6)
    np.testing.assert_array_equal(a.qpi_rad, b.qpi_rad)
    np.testing.assert_array_equal(a.dapi_e, b.dapi_e)
    assert not np.array_equal(a.qpi_rad, c.qpi_rad)
    assert a.qpi_rad.shape == a.dapi_e.shape == a.nuclei_labels.shape == (96, 128)


def test_nuclei_are_brighter_in_dapi_and_thicker_in_phase() -> None:
    p = simulate_pair(SimulationConfig(faint_fraction=0.0), 1)
    inside = p.nuclei_labels > 0
    assert inside.any()
    assert p.dapi_e[inside].mean() > 3 * np.median(p.dapi_e[~inside])
    assert p.qpi_rad[inside].mean() > np.median(p.qpi_rad[~inside]) + 0.5


def test_faint_population_follows_config() -> None:
    """Over many nuclei the faint fraction is within 3 binomial sigmas of 0.15."""
    cfg = SimulationConfig(height_px=512, width_px=512)
    b = np.concatenate([simulate_pair(cfg, s).nucleus_brightness for s in range(8)])
    faint = np.mean((b >= 0.05) & (b <= 0.15))
    assert abs(faint - 0.15) < 3 * np.sqrt(0.15 * 0.85 / b.size)


def test_blur_preserves_total_intensity() -> None:
    img = np.zeros((32, 32), np.float32)
    img[16, 16] = 1.0
    out = gaussian_blur(img, 2.0)
    assert out.sum() == pytest.approx(1.0, abs=1e-5) and out.max() < 0.1


def test_bad_config_rejected() -> None:
    with pytest.raises(ValueError, match="8x8"):
        SimulationConfig(height_px=4)
