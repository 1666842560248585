"""Shared click plumbing for the three CLIs: logging to stderr and one-line errors."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from edge.errors import AgluError


def setup_logging(debug: bool) -> None:
    """Handlers live only in CLIs; journald captures stderr."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("onnx_ir").setLevel(logging.DEBUG if debug else logging.WARNING)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool((root.obj or {}).get("debug") or root.params.get("debug"))


class _OneLineErrors:
    """An AgluError becomes 'error: ...' on stderr and exit 2; --debug keeps the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except AgluError as exc:
            if _debug(ctx):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


class AgluGroup(_OneLineErrors, click.Group):
    pass


class AgluCommand(_OneLineErrors, click.Command):
    pass
