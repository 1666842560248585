"""Label-free image formation from a simulated specimen: QPI, phase contrast, bright-field.

Pure numpy. The specimen is a thin complex transmission ``t = a * exp(i * phase)``
(phase from the refractive-index model in ``edge.sources.simulated``, amplitude ``a``
from absorbing granules). Coherent, scalar imaging on a square pixel grid:

- **Defocus**: the field is propagated by ``defocus_um`` with the angular spectrum
  (Fresnel) transfer function ``exp(i 2 pi dz sqrt((n / lambda)^2 - f^2))`` inside the
  objective pupil (``na / lambda``) and cut to zero outside it.
- **QPI**: the unwrapped phase of the in-focus field (what a QPI instrument
  reconstructs), blurred by the pupil.
- **Bright-field**: intensity of the (defocused) field, ``|E|^2``: in focus a pure
  phase object is nearly invisible; defocus turns phase curvature into intensity (the
  transport-of-intensity effect that makes unstained cells visible at all).
- **Zernike phase contrast** (positive, dark contrast): the phase ring retards the
  undiffracted light by pi/2 and attenuates it to ``ring_transmission``. The ring has a finite width
  (``ring_radius_fraction`` of the pupil): low spatial frequencies of the specimen
  pass through it too, which produces the bright halo around cells and the
  shade-off inside large ones.
- **Camera**: ``photons`` per pixel at unit intensity, Poisson shot noise and
  Gaussian read noise (electrons), then counts at ``gain_counts_per_e`` + offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
C64 = npt.NDArray[np.complex64]
LabelFree = Literal["qpi", "phase-contrast", "bright-field"]


@dataclass(frozen=True, slots=True)
class OpticsConfig:
    wavelength_um: float = 0.532
    n_medium: float = 1.337
    na: float = 0.4
    defocus_um: float = 0.0
    ring_radius_fraction: float = 0.08  # phase ring radius / pupil radius
    ring_transmission: float = 0.25  # amplitude of the undiffracted light through the ring
    photons: float = 2000.0  # mean photo-electrons per pixel at unit intensity
    read_noise_e: float = 3.0
    offset_counts: float = 100.0
    gain_counts_per_e: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.na < self.n_medium:
            raise ValueError(f"na must be in (0, n_medium), got {self.na}")
        if not 0 < self.ring_radius_fraction < 1 or not 0 < self.ring_transmission <= 1:
            raise ValueError("ring_radius_fraction in (0, 1) and ring_transmission in (0, 1]")
        if self.photons <= 0 or self.wavelength_um <= 0:
            raise ValueError("photons and wavelength_um must be positive")


def _frequencies(shape: tuple[int, int], pixel_um: float) -> npt.NDArray[np.float64]:
    """Spatial frequency magnitude (cycles/um) of every FFT bin."""
    fy = np.fft.fftfreq(shape[0], d=pixel_um)[:, None]
    fx = np.fft.fftfreq(shape[1], d=pixel_um)[None, :]
    return np.asarray(np.sqrt(fy**2 + fx**2))


def pupil(shape: tuple[int, int], pixel_um: float, cfg: OpticsConfig) -> npt.NDArray[np.bool_]:
    return _frequencies(shape, pixel_um) <= cfg.na / cfg.wavelength_um


def propagate(field: C64, dz_um: float, pixel_um: float, cfg: OpticsConfig) -> C64:
    """Angular-spectrum propagation by ``dz_um`` inside the objective pupil."""
    f = _frequencies(field.shape, pixel_um)
    k = cfg.n_medium / cfg.wavelength_um
    kz = np.sqrt(np.clip(k * k - f * f, 0.0, None))
    transfer = np.exp(2j * np.pi * dz_um * kz) * (f <= cfg.na / cfg.wavelength_um)
    return np.asarray(np.fft.ifft2(np.fft.fft2(field) * transfer), dtype=np.complex64)


def specimen_field(phase_rad: F32, absorbance: F32 | None = None) -> C64:
    amplitude = np.ones_like(phase_rad) if absorbance is None else np.exp(-absorbance)
    return np.asarray(amplitude * np.exp(1j * phase_rad), dtype=np.complex64)


def phase_contrast_intensity(field: C64, pixel_um: float, cfg: OpticsConfig) -> F32:
    """Zernike phase contrast: the ring region of the pupil is shifted by pi/2 and
    attenuated; the finite ring width gives the halo."""
    f = _frequencies(field.shape, pixel_um)
    cutoff = cfg.na / cfg.wavelength_um
    ring = f <= cfg.ring_radius_fraction * cutoff
    plate = np.where(ring, cfg.ring_transmission * np.exp(-0.5j * np.pi), 1.0) * (f <= cutoff)
    image = np.fft.ifft2(np.fft.fft2(field) * plate)
    return np.asarray(np.abs(image) ** 2, dtype=np.float32)


def camera(intensity: F32, cfg: OpticsConfig, rng: np.random.Generator) -> F32:
    """Photo-electrons with shot and read noise, as camera counts."""
    electrons = rng.poisson(np.clip(intensity, 0, None) * cfg.photons).astype(np.float32)
    electrons += rng.normal(0.0, cfg.read_noise_e, intensity.shape).astype(np.float32)
    return np.asarray(electrons * cfg.gain_counts_per_e + cfg.offset_counts, dtype=np.float32)


def render(
    modality: LabelFree,
    phase_rad: F32,
    pixel_um: float,
    cfg: OpticsConfig,
    rng: np.random.Generator,
    absorbance: F32 | None = None,
) -> F32:
    """The label-free image of one specimen, as the instrument of ``modality`` records it:
    QPI in radians, phase contrast and bright-field in camera counts."""
    field = specimen_field(phase_rad, absorbance)
    if cfg.defocus_um:
        field = propagate(field, cfg.defocus_um, pixel_um, cfg)
    if modality == "qpi":
        # the instrument's phase: the pupil-limited field's angle about its background
        limited = propagate(field, 0.0, pixel_um, cfg)
        return np.asarray(np.unwrap(np.unwrap(np.angle(limited), axis=0), axis=1), np.float32)
    if modality == "bright-field":
        intensity = np.abs(propagate(field, 0.0, pixel_um, cfg)) ** 2
        return camera(np.asarray(intensity, np.float32), cfg, rng)
    return camera(phase_contrast_intensity(field, pixel_um, cfg), cfg, rng)
