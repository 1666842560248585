import re
from pathlib import Path

import pytest

from edge.config import EdgeConfig, load_config, parse_config
from edge.errors import ConfigError


def test_no_file_means_embedded_default() -> None:
    cfg = load_config(None)
    assert cfg == EdgeConfig()
    assert cfg.publish.endpoint.startswith("tcp://127.0.0.1:")
    assert cfg.source.kind == "simulated" and cfg.model.path is None


def test_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[source]\nfps = 12.5\n[model]\nprecision = "fp32"\n')
    cfg = load_config(path)
    assert cfg.source.fps == 12.5 and cfg.model.precision == "fp32"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"source": {"fps": -1}}, "source.fps"),
        ({"source": {"fsp": 3}}, "source.fsp"),
        ({"model": {"precision": "int4"}}, "model.precision"),
        ({"queue": {"capacity": 0}}, "queue.capacity"),
        ({"publish": {"endpoint": "tcp://0.0.0.0:5555"}}, "CURVE"),
        ({"publish": {"endpoint": "http://x"}}, "publish.endpoint"),
    ],
)
def test_bad_fields_are_named(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_config(data, "edge.toml")


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[source\nfps=")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(path)
