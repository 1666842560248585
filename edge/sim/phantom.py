"""The phantom simulator: paired QPI (phase, rad) and DAPI frames from a physical model.

Pure numpy and deterministic from a seed. It lives in ``edge`` (not ``training``)
because both the daemon's simulated source (``edge.sources.simulated``) and the
training data use it, and ``edge`` must not import ``training``.

Physical model, per cell (lengths in um, converted with ``pixel_size_um``):
- Cells are placed at a density drawn from ``density_cells_per_10k_um2``
  (sparse to confluent); cell bodies may touch and overlap, nuclei may not.
- The cell body is an elliptical dome of height ``t_cell`` and refractive index
  ``n_cytoplasm`` in a medium of index ``n_medium``; the nucleus is an inner dome
  of height ``0.7 t_cell`` and index ``n_nucleus``; 1-3 nucleoli are small domes
  of index ``n_nucleolus``. Chromatin (DNA plus histones) adds
  ``dna_ri_increment`` per unit of DNA density: at ~12 mg/mL DNA and about as
  much histone mass, with the specific refraction increment 0.18 mL/g, a
  typical nucleus gains ~0.004. This dry-mass coupling is what lets phase
  predict DNA, and why faint (DNA-poor) nuclei are harder to see in QPI.
  ``OPD = sum (n_i - n_outer) h_i``, ``phase = 2 pi OPD / wavelength``, blurred
  by the imaging PSF, plus a background tilt and Gaussian phase noise.
- DNA density fills the nucleus with chromatin texture (smoothed noise), is low
  in nucleoli, and scales with a per-nucleus amount: ``faint_fraction`` of
  nuclei at ``faint_brightness`` of typical, ``mitotic_fraction`` condensed
  (smaller, thicker, 2-3x denser) nuclei, the rest log-normal around 1. DAPI
  photo-electrons = projected DNA blurred by a Gaussian PSF times
  ``peak_photons`` plus background, then Poisson shot noise and Gaussian read
  noise (Poisson-Gaussian camera model).
- Optional realism (off by default, so the shipped simulated recipes reproduce):
  ``granules_per_cell`` absorbing, high-index cytoplasmic granules (lipid droplets,
  vesicles), and ``modality`` phase-contrast or bright-field, rendered from the same
  specimen by ``edge.sim.optics`` (Fresnel defocus drawn from ``defocus_um``,
  the phase-contrast halo, bright-field intensity of the propagated field, shot and
  read noise). ``label_free`` holds that image; ``qpi_rad`` always holds the phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.sim.optics import LabelFree, OpticsConfig, render

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Parameters of the simulated microscope and sample."""

    height_px: int = 256
    width_px: int = 256
    pixel_size_um: float = 0.65
    wavelength_um: float = 0.532
    n_medium: float = 1.337
    n_cytoplasm: float = 1.360
    n_nucleus: float = 1.365
    n_nucleolus: float = 1.385
    cell_radius_um: tuple[float, float] = (7.0, 14.0)
    cell_thickness_um: tuple[float, float] = (3.0, 6.0)
    nucleus_radius_fraction: tuple[float, float] = (0.40, 0.60)
    density_cells_per_10k_um2: tuple[float, float] = (1.0, 25.0)
    dna_ri_increment: float = 0.004
    faint_fraction: float = 0.15
    faint_brightness: tuple[float, float] = (0.05, 0.15)
    mitotic_fraction: float = 0.05
    qpi_psf_sigma_um: float = 0.35
    dapi_psf_sigma_um: float = 0.45
    peak_photons: float = 400.0
    background_photons: float = 20.0
    read_noise_e: float = 2.0
    phase_noise_rad: float = 0.03
    max_tilt_rad: float = 0.6
    modality: LabelFree = "qpi"  # the label-free image in ``label_free``
    granules_per_cell: tuple[int, int] = (0, 0)
    granule_radius_um: tuple[float, float] = (0.2, 0.5)
    n_granule: float = 1.42
    granule_absorbance: float = 0.08
    defocus_um: tuple[float, float] = (0.0, 0.0)  # per field, uniform in this range
    na: float = 0.4
    photons: float = 2000.0  # phase contrast / bright-field: photo-electrons at unit intensity

    def __post_init__(self) -> None:
        if self.height_px < 8 or self.width_px < 8:
            raise ValueError(f"frame must be at least 8x8 px, got {self.height_px}x{self.width_px}")
        if self.pixel_size_um <= 0 or self.wavelength_um <= 0:
            raise ValueError("pixel_size_um and wavelength_um must be positive")
        for name in ("faint_fraction", "mitotic_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.modality not in ("qpi", "phase-contrast", "bright-field"):
            raise ValueError(
                f"modality must be qpi, phase-contrast or bright-field: {self.modality}"
            )
        for name in ("granules_per_cell", "defocus_um"):
            low, high = getattr(self, name)
            if low > high or (name == "granules_per_cell" and low < 0):
                raise ValueError(f"{name} must be a (low, high) range, got {(low, high)}")


@dataclass(frozen=True, slots=True)
class SimulatedPair:
    """One simulated field: input, target and ground truth."""

    qpi_rad: F32
    dapi_e: F32
    nuclei_labels: npt.NDArray[np.int32]
    nucleus_brightness: F32  # index i holds label i + 1
    label_free: F32  # the image of ``modality``: qpi_rad itself for QPI


def gaussian_blur(image: F32, sigma_px: float) -> F32:
    """Gaussian blur through the FFT (periodic boundary; exact for small sigma)."""
    if sigma_px <= 0:
        return image
    h, w = image.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    transfer = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fy**2 + fx**2))
    out = np.fft.irfft2(np.fft.rfft2(image) * transfer, s=(h, w))
    return np.asarray(out, dtype=np.float32)


def _dome(yy: F32, xx: F32, cy: float, cx: float, ry: float, rx: float, angle: float) -> F32:
    """Normalised ellipsoidal height profile sqrt(1 - rho^2), 0 outside the ellipse."""
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (c * dx + s * dy) / rx
    v = (-s * dx + c * dy) / ry
    return np.asarray(np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None)), dtype=np.float32)


class _Canvas:
    """Accumulates per-cell contributions into full-frame maps."""

    def __init__(self, cfg: SimulationConfig) -> None:
        shape = (cfg.height_px, cfg.width_px)
        self.opd_um = np.zeros(shape, np.float32)
        self.absorbance = np.zeros(shape, np.float32)
        self.dna = np.zeros(shape, np.float32)
        self.labels = np.zeros(shape, np.int32)
        self.brightness: list[float] = []


@dataclass(frozen=True, slots=True)
class _Cell:
    cy: float
    cx: float
    r_cell_px: float
    r_nuc_px: float
    mitotic: bool


def _place_cells(cfg: SimulationConfig, rng: np.random.Generator, n_cells: int) -> list[_Cell]:
    """Cells at random positions; a candidate whose nucleus would touch another is rejected."""
    cells: list[_Cell] = []
    for _ in range(n_cells * 20):
        if len(cells) == n_cells:
            break
        mitotic = bool(rng.random() < cfg.mitotic_fraction)
        r_cell = rng.uniform(*cfg.cell_radius_um) / cfg.pixel_size_um
        r_nuc = r_cell * rng.uniform(*cfg.nucleus_radius_fraction) * (0.6 if mitotic else 1.0)
        cy, cx = rng.uniform(0, cfg.height_px), rng.uniform(0, cfg.width_px)
        if all(
            (cy - c.cy) ** 2 + (cx - c.cx) ** 2 >= (1.3 * (r_nuc + c.r_nuc_px)) ** 2 for c in cells
        ):
            cells.append(_Cell(cy, cx, r_cell, r_nuc, mitotic))
    return cells


def _brightness(cfg: SimulationConfig, rng: np.random.Generator, mitotic: bool) -> float:
    if mitotic:
        return float(rng.uniform(2.0, 3.0))
    if rng.random() < cfg.faint_fraction:
        return float(rng.uniform(*cfg.faint_brightness))
    return float(np.clip(rng.lognormal(0.0, 0.25), 0.4, 2.0))


def _add_cell(cv: _Canvas, cfg: SimulationConfig, rng: np.random.Generator, cell: _Cell) -> None:
    cy, cx, r_cell, r_nuc = cell.cy, cell.cx, cell.r_cell_px, cell.r_nuc_px
    ecc = rng.uniform(0.7, 1.0)
    angle = rng.uniform(0, np.pi)
    t_cell = rng.uniform(*cfg.cell_thickness_um) * (1.4 if cell.mitotic else 1.0)
    half = int(np.ceil(r_cell)) + 2
    y0, y1 = max(0, int(cy) - half), min(cfg.height_px, int(cy) + half + 1)
    x0, x1 = max(0, int(cx) - half), min(cfg.width_px, int(cx) + half + 1)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    h_cell = t_cell * _dome(yy, xx, cy, cx, r_cell * ecc, r_cell, angle)
    off = rng.normal(0, 0.1 * max(r_cell - r_nuc, 0.0), size=2)
    ny, nx = cy + off[0], cx + off[1]
    nuc = _dome(yy, xx, ny, nx, r_nuc * rng.uniform(0.75, 1.0), r_nuc, rng.uniform(0, np.pi))
    h_nuc = 0.7 * t_cell * nuc
    opd = (cfg.n_cytoplasm - cfg.n_medium) * h_cell + (cfg.n_nucleus - cfg.n_cytoplasm) * h_nuc
    depletion = np.ones_like(nuc)
    if not cell.mitotic:
        for _ in range(rng.integers(1, 4)):
            r = r_nuc * rng.uniform(0.12, 0.22)
            oy, ox = rng.normal(0, 0.3 * r_nuc, size=2)
            nucleolus = _dome(yy, xx, ny + oy, nx + ox, r, r, 0.0) * (nuc > 0)
            opd += (cfg.n_nucleolus - cfg.n_nucleus) * 0.5 * t_cell * nucleolus
            depletion *= 1.0 - 0.6 * nucleolus  # nucleoli are DNA-poor: dark in DAPI
    if cfg.granules_per_cell[1] > 0:
        _add_granules(cv, cfg, rng, (yy, xx), (h_cell > 0) & (nuc == 0), (y0, x0), opd)
    brightness = _brightness(cfg, rng, cell.mitotic)
    t_ref = 0.7 * float(np.mean(cfg.cell_thickness_um))
    cv.opd_um[y0:y1, x0:x1] += opd
    cv.dna[y0:y1, x0:x1] += brightness * (h_nuc / t_ref) * depletion
    cv.brightness.append(brightness)
    cv.labels[y0:y1, x0:x1][nuc > 0] = len(cv.brightness)


def _add_granules(
    cv: _Canvas,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    grid: tuple[F32, F32],
    cytoplasm: npt.NDArray[np.bool_],
    origin: tuple[int, int],
    opd: F32,
) -> None:
    """Small spherical granules of index ``n_granule`` in the cytoplasm, absorbing a little."""
    ys, xs = np.nonzero(cytoplasm)
    if ys.size == 0:
        return
    yy, xx = grid
    y0, x0 = origin
    for _ in range(rng.integers(cfg.granules_per_cell[0], cfg.granules_per_cell[1] + 1)):
        i = rng.integers(ys.size)
        r = rng.uniform(*cfg.granule_radius_um) / cfg.pixel_size_um
        g = _dome(yy, xx, float(y0 + ys[i]), float(x0 + xs[i]), r, r, 0.0)
        opd += (cfg.n_granule - cfg.n_cytoplasm) * 2.0 * r * cfg.pixel_size_um * g
        cv.absorbance[y0 : y0 + g.shape[0], x0 : x0 + g.shape[1]] += cfg.granule_absorbance * g


def _render(cfg: SimulationConfig, opd_um: F32, absorbance: F32, seed: int) -> F32:
    """The label-free image of ``cfg.modality`` (its own random stream: the QPI stream
    stays as it was)."""
    rng = np.random.default_rng([seed, 1])
    optics = OpticsConfig(
        wavelength_um=cfg.wavelength_um,
        n_medium=cfg.n_medium,
        na=cfg.na,
        defocus_um=float(rng.uniform(*cfg.defocus_um)),
        photons=cfg.photons,
        read_noise_e=cfg.read_noise_e,
    )
    phase = ((2.0 * np.pi / cfg.wavelength_um) * opd_um).astype(np.float32)
    out = render(cfg.modality, phase, cfg.pixel_size_um, optics, rng, absorbance)
    if cfg.modality == "qpi":
        out = out + rng.normal(0, cfg.phase_noise_rad, out.shape).astype(np.float32)
    return out


def simulate_pair(cfg: SimulationConfig, seed: int) -> SimulatedPair:
    """Simulate one paired field, deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    area_um2 = cfg.height_px * cfg.width_px * cfg.pixel_size_um**2
    density = rng.uniform(*cfg.density_cells_per_10k_um2)
    n_cells = max(1, round(density * area_um2 / 1e4))
    cv = _Canvas(cfg)
    for cell in _place_cells(cfg, rng, n_cells):
        _add_cell(cv, cfg, rng, cell)
    texture = gaussian_blur(rng.standard_normal(cv.dna.shape).astype(np.float32), 1.5)
    dna = cv.dna * np.clip(1.0 + 0.8 * texture, 0.2, None)
    # Chromatin dry mass: DNA density (in units of a typical nucleus) times nuclear thickness.
    t_ref = 0.7 * float(np.mean(cfg.cell_thickness_um))
    opd_um = cv.opd_um + cfg.dna_ri_increment * t_ref * dna

    phase = (2.0 * np.pi / cfg.wavelength_um) * opd_um
    phase = gaussian_blur(phase.astype(np.float32), cfg.qpi_psf_sigma_um / cfg.pixel_size_um)
    ty, tx = rng.uniform(-cfg.max_tilt_rad, cfg.max_tilt_rad, size=2)
    yy = np.linspace(-0.5, 0.5, cfg.height_px, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, cfg.width_px, dtype=np.float32)[None, :]
    phase = phase + ty * yy + tx * xx
    phase += rng.normal(0, cfg.phase_noise_rad, phase.shape).astype(np.float32)

    signal = gaussian_blur(dna.astype(np.float32), cfg.dapi_psf_sigma_um / cfg.pixel_size_um)
    expected_e = np.clip(signal, 0, None) * cfg.peak_photons + cfg.background_photons
    dapi = rng.poisson(expected_e).astype(np.float32)
    dapi += rng.normal(0, cfg.read_noise_e, dapi.shape).astype(np.float32)
    qpi = phase.astype(np.float32)
    plain = cfg.modality == "qpi" and cfg.defocus_um == (0.0, 0.0)
    return SimulatedPair(
        qpi_rad=qpi,
        dapi_e=dapi,
        nuclei_labels=cv.labels,
        nucleus_brightness=np.asarray(cv.brightness, np.float32),
        label_free=qpi if plain else _render(cfg, opd_um, cv.absorbance, seed),
    )
