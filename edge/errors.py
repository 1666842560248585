"""Package-level exceptions. Each carries the data that names what was wrong."""

from __future__ import annotations


class AgluError(Exception):
    """Base class of every error AGLU raises on purpose."""


class ConfigError(AgluError):
    """A configuration field is missing, unknown or out of range."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


class ModelError(AgluError):
    """A model file is missing, corrupt, or lacks a valid model card."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"model {path}: {message}")


class FrameError(AgluError):
    """A frame cannot be stained (wrong dtype, ndim, size, non-finite values)."""

    def __init__(self, frame_index: int, message: str) -> None:
        self.frame_index = frame_index
        super().__init__(f"frame {frame_index}: {message}")


class WireError(AgluError, ValueError):
    """A network message does not follow the AGLU wire protocol."""


class BindError(AgluError):
    """A socket could not bind (port in use, bad address)."""

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"cannot bind {endpoint}: {message}")


class LoadRefused(AgluError):
    """A model load asked over the control socket was not done (off, or the model failed
    its checks: the running model keeps serving)."""


class InferenceError(AgluError):
    """The model failed on a frame that passed validation (an onnxruntime error, or
    outputs that are not finite): the model's fault, not the input's."""
