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


def documented_fields(data: dict) -> None:  # type: ignore[type-arg]
    """Every section of a parsed TOML documents every field its config has."""
    cfg = parse_config(data, "documented config")
    for name in EdgeConfig.model_fields:
        section = getattr(cfg, name)
        assert set(data.get(name, {})) == set(type(section).model_fields), name


def test_the_documented_config_blocks_are_valid_and_complete() -> None:
    """The documented TOML parses and documents every field of every section; the blocks
    of the other source kinds document each kind's fields, and every kind is there."""
    import tomllib

    from edge.config import SOURCE_KINDS

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    part = page.split("## Daemon configuration", 1)[1].split("## Security", 1)[0]
    blocks = [tomllib.loads(b.split("```", 1)[0]) for b in part.split("```toml\n")[1:]]
    main = blocks[0]
    documented_fields(main)
    assert parse_config(main, "docs").publish.curve() is None  # "" means unset
    kinds = [b["source"]["kind"] for b in blocks]
    assert sorted(kinds) == sorted(SOURCE_KINDS)
    for block in blocks[1:]:
        cfg = parse_config(block, "docs")
        assert set(block["source"]) == set(type(cfg.source).model_fields), block["source"]["kind"]


def test_a_field_of_another_source_kind_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"field 'source.loop'"):
        parse_config({"source": {"kind": "simulated", "loop": True}}, "edge.toml")
    with pytest.raises(ConfigError, match=r"field 'source'.*'camera'.*'mm-sidecar'"):
        parse_config({"source": {"kind": "camera"}}, "edge.toml")
