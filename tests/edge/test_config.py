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
        # issue 25: each was a traceback, or (inf) silently accepted
        ({"source": {"seed": -1}}, "source.seed"),
        ({"publish": {"send_hwm": 2**63 - 1}}, "publish.send_hwm"),
        ({"publish": {"status_interval_s": float("inf")}}, "publish.status_interval_s"),
        ({"run": {"source_stall_s": float("nan")}}, "run.source_stall_s"),
        ({"source": {"fps": float("inf")}}, "source.fps"),
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


def test_the_documented_config_block_is_valid_and_complete() -> None:
    """The documented TOML parses, and it documents every field the config has."""
    import tomllib

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    block = page.split("## Daemon configuration", 1)[1].split("```toml\n", 1)[1]
    data = tomllib.loads(block.split("```", 1)[0])
    cfg = parse_config(data, "docs/configuration.md")
    assert cfg.source.path is None and cfg.publish.curve() is None  # "" means unset
    for name, section in EdgeConfig.model_fields.items():
        documented = set(data.get(name, {}))
        assert documented == set(section.annotation.model_fields), name  # type: ignore[union-attr]
