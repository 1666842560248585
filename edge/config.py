"""The daemon's one TOML config, validated once at start-up.

Every field has a default, so an empty file (or none) runs the embedded default:
the simulated microscope and the shipped int8 model on 127.0.0.1.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge.errors import ConfigError
from edge.infer.model import SessionConfig, shipped_model_path
from edge.net.control import ControlConfig
from edge.net.endpoints import IPC_MODE, check_endpoint, check_ipc_mode, is_local_endpoint
from edge.net.publisher import PublisherConfig, check_publish_endpoint
from edge.net.security import CurveServerConfig
from edge.sources.ingest import IngestConfig, check_ingest_endpoint
from edge.sources.replay import ReplaySourceConfig
from edge.sources.simulated import SimulatedSourceConfig
from edge.sources.watch import WatchSourceConfig

logger = logging.getLogger(__name__)


class _Section(BaseModel):
    # inf/nan are never a setting (status_interval_s = inf would silence the status)
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """``""`` for an optional field (a path, a channel, a size) means "not set"."""
        field = cls.model_fields[info.field_name] if info.field_name else None
        if value == "" and field is not None and field.default is None:
            return None
        return value


class SourceSection(_Section):
    kind: Literal["simulated", "replay", "watch", "ingest", "mm-sidecar"] = "simulated"
    endpoint: str = "tcp://127.0.0.1:5557"  # ingest: where pycromanager hooks push frames
    ipc_mode: int = IPC_MODE  # ingest on ipc://: who may push frames (0o600 owner, 0o660 group)
    mm_port: int = Field(4827, ge=1, le=65535)  # mm-sidecar: the pycro-manager server port
    path: Path | None = None  # replay: a TIFF / OME-TIFF / OME-Zarr / NDTiff; watch: a folder
    channel: str | None = None  # replay/watch: the channel of multi-channel files, by name
    loop: bool = False  # replay: start again at the end
    pattern: str = Field("*.tif*", min_length=1)  # watch: which new entries to take
    poll_s: float = Field(0.5, gt=0, le=60)  # watch
    include_existing: bool = False  # watch: also stream what is there at start
    pixel_size_um: float | None = Field(None, gt=0)  # replay/watch: travels in the header
    height_px: int = Field(512, ge=8, le=16384)
    width_px: int = Field(512, ge=8, le=16384)
    fps: float = Field(5.0, gt=0, le=1000)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    max_frames: int = Field(0, ge=0, le=2**62)

    @model_validator(mode="after")
    def _files_need_path(self) -> SourceSection:
        if self.kind in ("replay", "watch") and self.path is None:
            raise ValueError(f"kind {self.kind!r} needs source.path")
        return self

    def replay(self) -> ReplaySourceConfig:
        assert self.path is not None  # validated
        return ReplaySourceConfig(
            self.path, self.fps, self.loop, self.max_frames, self.pixel_size_um, self.channel
        )

    def watch(self) -> WatchSourceConfig:
        assert self.path is not None  # validated
        return WatchSourceConfig(
            self.path,
            self.pattern,
            self.poll_s,
            self.include_existing,
            self.channel,
            self.pixel_size_um,
            self.max_frames,
        )

    def ingest(self) -> IngestConfig:
        return IngestConfig(self.endpoint, ipc_mode=self.ipc_mode)

    def simulated(self) -> SimulatedSourceConfig:
        return SimulatedSourceConfig(
            self.height_px, self.width_px, self.fps, self.seed, self.max_frames
        )


class ModelSection(_Section):
    name: str = Field("qpi", min_length=1)  # a shipped model (aglu-edge models); path wins
    path: Path | None = None  # a model file instead of the shipped one named by `name`
    precision: Literal["int8", "fp32"] = "int8"
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    intra_op_threads: int = Field(0, ge=0, le=256)
    allow_spinning: bool = False  # onnxruntime threads busy-wait between runs
    cpu_mem_arena: bool = True
    graph_optimization: Literal["all", "extended", "basic", "disable"] = "all"
    tile_px: int = Field(0, ge=0, le=65536)  # frames larger than this run tile by tile (0: never)
    max_side_px: int = Field(16384, ge=32, le=65536)  # larger frames are refused, never run
    # with tile_px = 0, frames over this many pixels still run tile by tile (2048 px tiles)
    whole_frame_max_px: int = Field(16_777_216, ge=1024, le=2**31)
    quality: bool = True  # the per-frame quality block (about 15 ms per frame on 2 cores)

    def session(self) -> SessionConfig:
        return SessionConfig(
            self.providers,
            self.intra_op_threads,
            self.allow_spinning,
            self.cpu_mem_arena,
            self.graph_optimization,
        )

    @model_validator(mode="after")
    def _shipped(self) -> ModelSection:
        if self.path is None:
            shipped_model_path(self.name, self.precision)  # a ConfigError naming the field
        return self

    def model_path(self) -> Path:
        """``path``, or the shipped model ``name`` in ``precision``."""
        return self.path or shipped_model_path(self.name, self.precision)


class PublishSection(_Section):
    endpoint: str = "tcp://127.0.0.1:5555"
    send_hwm: int = Field(16, ge=1, le=1_000_000)  # frames queued per subscriber
    status_interval_s: float = Field(1.0, gt=0, le=3600)
    publish_input: bool = True
    encoding: Literal["float32", "float16", "uint16"] = "float32"  # of dapi and sigma
    curve_secret_key: Path | None = None  # the daemon's NAME.key_secret (aglu-edge keys)
    curve_authorized_dir: Path | None = None  # public keys of the subscribers allowed in

    @model_validator(mode="after")
    def _curve_pair(self) -> PublishSection:
        if (self.curve_secret_key is None) != (self.curve_authorized_dir is None):
            raise ValueError("CURVE needs both curve_secret_key and curve_authorized_dir")
        return self

    def curve(self) -> CurveServerConfig | None:
        if self.curve_secret_key is None or self.curve_authorized_dir is None:
            return None
        return CurveServerConfig(self.curve_secret_key, self.curve_authorized_dir)

    def publisher(self) -> PublisherConfig:
        return PublisherConfig(self.endpoint, self.send_hwm, curve=self.curve())


class ControlSection(_Section):
    endpoint: str = "tcp://127.0.0.1:5556"  # "": none; loopback or ipc only; port 0: random
    ipc_mode: int = IPC_MODE  # ipc://: who may connect (0o600 owner only, 0o660 group)

    def control(self) -> ControlConfig:
        return ControlConfig(self.endpoint, self.ipc_mode)


class QueueSection(_Section):
    capacity: int = Field(2, ge=1, le=1024)


class RunSection(_Section):
    max_consecutive_errors: int = Field(20, ge=1, le=1_000_000)
    # no frame nor idle tick this long: no WATCHDOG
    source_stall_s: float = Field(30.0, gt=0, le=86400)


# What a reload applies; everything else needs a restart (sockets, source, queue).
RELOADABLE = ("model", "run")
RELOADABLE_PUBLISH = ("status_interval_s", "publish_input", "encoding")


class EdgeConfig(_Section):
    source: SourceSection = SourceSection()
    model: ModelSection = Field(default_factory=ModelSection)
    publish: PublishSection = PublishSection()
    queue: QueueSection = QueueSection()
    run: RunSection = RunSection()
    control: ControlSection = ControlSection()

    def reloaded_with(self, new: EdgeConfig) -> EdgeConfig:
        """This config with what a reload applies taken from ``new`` (the rest is logged:
        it applies after a restart)."""
        publish = self.publish.model_copy(
            update={k: getattr(new.publish, k) for k in RELOADABLE_PUBLISH}
        )
        merged = self.model_copy(
            update={**{k: getattr(new, k) for k in RELOADABLE}, "publish": publish}
        )
        for section in EdgeConfig.model_fields:
            if getattr(new, section) != getattr(merged, section):
                logger.warning("reload: [%s] changed; it applies after a restart", section)
        return merged


def parse_config(data: dict[str, object], origin: str = "config") -> EdgeConfig:
    """Validate a parsed TOML mapping; ConfigError names the first bad field."""
    try:
        cfg = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        value = (
            f" (got {err['input']!r})"
            if "input" in err and not isinstance(err["input"], dict)
            else ""
        )
        raise ConfigError(f"{origin}: field '{where}'", f"{err['msg']}{value}") from None
    check_publish_endpoint(cfg.publish.endpoint, cfg.publish.curve() is not None)
    if cfg.source.kind == "ingest":
        check_ingest_endpoint(cfg.source.endpoint)
    check_ipc_mode(cfg.source.ipc_mode, "source.ipc_mode")
    check_ipc_mode(cfg.control.ipc_mode, "control.ipc_mode")
    if cfg.control.endpoint:
        check_endpoint(cfg.control.endpoint, "control.endpoint")
        if not is_local_endpoint(cfg.control.endpoint):
            raise ConfigError("control.endpoint", "only 127.0.0.1 or ipc:// is allowed")
    return cfg


def load_config(path: Path | None) -> EdgeConfig:
    """Read and validate the TOML file at ``path`` (None: all defaults)."""
    if path is None:
        return EdgeConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})") from None
    return parse_config(data, str(path))
