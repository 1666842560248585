"""The daemon's one TOML config, validated once at start-up.

Every field has a default, so an empty file (or none) runs the embedded default:
the simulated microscope and the shipped int8 model on 127.0.0.1.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from edge.errors import ConfigError, LoadRefused
from edge.infer.model import SessionConfig, shipped_model_path
from edge.net.control import ControlConfig
from edge.net.endpoints import IPC_MODE, check_endpoint, check_ipc_mode, is_local_endpoint
from edge.net.publisher import PublisherConfig, check_publish_endpoint
from edge.net.security import CurveServerConfig
from edge.settings import Section as _Section
from edge.settings import first_error, read_toml, validate
from edge.sources import SOURCE_MODULES, SourceSection, section_types

logger = logging.getLogger(__name__)

# [source] is the section of the kind it names; each source module owns its section
# (edge.sources: SOURCE_MODULES). ``kind`` may be left out: "simulated".
if TYPE_CHECKING:
    AnySource = SourceSection
else:
    AnySource = Annotated[Union[section_types()], Field(discriminator="kind")]  # noqa: UP007
SOURCE_KINDS = tuple(SOURCE_MODULES)


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

    def loading(self, target: str, precision: str | None = None) -> ModelSection:
        """This section with the model ``target`` (an .onnx file, or a shipped model's
        name) and ``precision``; LoadRefused naming what is wrong."""
        path = Path(target)
        update: dict[str, Any] = (
            {"path": path}
            if path.suffix == ".onnx" or path.exists()
            else {"name": target, "path": None}
        )
        if precision is not None:
            update["precision"] = precision
        try:
            return ModelSection.model_validate({**self.model_dump(), **update})
        except ValidationError as exc:
            raise LoadRefused(str(first_error(exc, "load"))) from None
        except ConfigError as exc:  # an unknown shipped name
            raise LoadRefused(str(exc)) from None

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
    # `aglu-edge ctl load`: swap the model over the socket. Off: the socket is read-only.
    allow_load: bool = False

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


def _default_source() -> SourceSection:
    return section_types()[0].model_validate({})  # the simulated microscope


class EdgeConfig(_Section):
    source: AnySource = Field(default_factory=_default_source)
    model: ModelSection = Field(default_factory=ModelSection)
    publish: PublishSection = PublishSection()
    queue: QueueSection = QueueSection()
    run: RunSection = RunSection()
    control: ControlSection = ControlSection()

    @field_validator("source", mode="before")
    @classmethod
    def _simulated_by_default(cls, value: object) -> object:
        if isinstance(value, dict) and "kind" not in value:
            return {"kind": "simulated", **value}
        return value

    def for_load(self, target: str, precision: str | None = None) -> EdgeConfig:
        """This config with the model ``aglu-edge ctl load`` asks for; LoadRefused if
        loading over the control socket is off, or the model is unknown."""
        if not self.control.allow_load:
            raise LoadRefused("load is off: set [control] allow_load = true")
        return self.model_copy(update={"model": self.model.loading(target, precision)})

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


def parse_config(data: dict[str, Any], origin: str = "config") -> EdgeConfig:
    """Validate a parsed TOML mapping; ConfigError names the first bad field."""
    cfg = validate(EdgeConfig, data, origin, SOURCE_KINDS)
    check_publish_endpoint(cfg.publish.endpoint, cfg.publish.curve() is not None)
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
    return parse_config(read_toml(path), str(path))
