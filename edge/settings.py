"""The one config idiom: a frozen section base, one TOML reader, one error formatter.

Used by the daemon config (``edge.config``), the source sections (each in its source's
module), the model card (``edge.infer.card``), training recipes (``training.config``)
and compare specs. A choice of kind is a discriminated union on a ``kind`` field: each
kind's section owns its fields, so nothing says "field X only applies when kind is Y".
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from edge.errors import ConfigError

S = TypeVar("S", bound=BaseModel)


class Section(BaseModel):
    """Frozen, no unknown field, no inf/nan (``status_interval_s = inf`` is not a setting);
    ``""`` for an optional field (a path, a channel, a size) means "not set"."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: object) -> object:
        # A model validator, not a field one: a discriminator field ("kind") may have none.
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            k: None if v == "" and k in fields and fields[k].default is None else v
            for k, v in data.items()
        }


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a mapping; ConfigError naming the file if it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})") from None


def first_error(exc: ValidationError, origin: str, tags: Collection[str] = ()) -> ConfigError:
    """One line naming the first bad field (``section.field``) and the value given.
    ``tags``: the kinds of discriminated unions, which pydantic puts in the error's path
    (``source.simulated.fps``) and a user never writes: left out (``source.fps``)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if p not in tags) or "root"
    given = err.get("input")
    value = f" (got {given!r})" if "input" in err and not isinstance(given, dict) else ""
    return ConfigError(f"{origin}: field '{where}'", f"{err['msg']}{value}")


def validate(model: type[S], data: object, origin: str, tags: Collection[str] = ()) -> S:
    """``model`` validated from ``data``; ConfigError (``first_error``) if it is not."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, origin, tags) from None
