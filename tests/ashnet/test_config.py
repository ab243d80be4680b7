"""Run configs: strict YAML loading (unknown keys, wrong types, bad values), overrides, dump round trip,
packaged ones, and the rule that every key has a check."""

import dataclasses
import typing

import pytest

from ashnet.cli import main
from ashnet.config import Config, ConfigError, dump_config, load_config, packaged_configs
from ashnet.config.schema import Section
from ashnet.demo import baseline_of, twin_of


def test_packaged_configs_load_and_round_trip(tmp_path):
    assert {"demo", "baseline", "tiny"} <= set(packaged_configs())
    for name in packaged_configs():
        cfg = load_config(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(dump_config(cfg))
        assert load_config(path) == cfg


def test_baseline_yaml_is_the_demo_with_the_snn_off():
    baseline = load_config("baseline")
    assert baseline == baseline_of(load_config("demo"))
    assert not baseline.model.abstract.enabled
    assert not baseline.loss.st.enabled and not baseline.loss.stua.enabled


def test_twin_yaml_is_the_demo_with_analog_neurons_and_one_step():
    twin, demo = load_config("twin"), load_config("demo")
    assert twin == twin_of(demo)
    assert twin.model.abstract.neuron == "gelu" and twin.model.abstract.time_steps == 1
    assert not twin.loss.st.enabled and twin.train == demo.train and twin.data == demo.data
    with pytest.raises(ValueError, match="ANN twin"):
        load_config("twin", ["model.abstract.time_steps=4"])


def test_unknown_key_names_the_dotted_key_and_valid_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  abstract:\n    time_stepz: 4\n")
    with pytest.raises(ValueError, match=r"unknown config key 'model\.abstract\.time_stepz'.*time_steps"):
        load_config(path)
    with pytest.raises(ValueError, match=r"unknown config key 'trian'.*seed, data, model, loss, train, stua"):
        Config.from_dict({"trian": {}})


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"train": {"lr": "fast"}}, r"'train\.lr' must be float"),
        ({"train": {"epochs": 1.5}}, r"'train\.epochs' must be int"),
        ({"train": {"amp": 1}}, r"'train\.amp' must be bool"),
        ({"seed": True}, r"'seed' must be int"),
        ({"data": [1, 2]}, r"'data' must be a mapping"),
        ({"train": {"device": "tpu"}}, r"'train\.device' must be one of"),
        ({"model": {"abstract": {"dim": "wide"}}}, r"'model\.abstract\.dim' must be int"),
    ],
)
def test_wrong_types_are_errors(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Config.from_dict(data)


def test_values_checked_by_the_sections_are_reported_with_the_section():
    with pytest.raises(ValueError, match="model.abstract.*time_steps"):
        Config.from_dict({"model": {"abstract": {"time_steps": 0}}})


def test_defaults_ints_as_floats_and_none():
    cfg = Config.from_dict({"train": {"lr": 1, "max_steps": None, "grad_clip": None}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.grad_clip is None
    assert cfg.data == Config().data
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_overrides_and_missing_sources(tmp_path):
    cfg = load_config("tiny", ["train.lr=0.5", "model.abstract.enabled=false", "seed=3"])
    assert (cfg.train.lr, cfg.model.abstract.enabled, cfg.seed) == (0.5, False, 3)
    with pytest.raises(ValueError, match="section.key=value"):
        load_config("tiny", ["train.lr"])
    with pytest.raises(ValueError, match="unknown config key 'train.learning_rate'"):
        load_config("tiny", ["train.learning_rate=1"])
    with pytest.raises(FileNotFoundError, match="neither a file nor a packaged config"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(bad)


def test_dump_lists_every_key():
    text = dump_config(dataclasses.replace(Config(), seed=7))
    for key in ("seed: 7", "hard_negative_beta", "time_steps", "checkpoint_every", "warmup_steps"):
        assert key in text


def _sections(cls=Section):
    """Every section class defined so far (subclasses of ``cls``, recursively)."""
    return [c for sub in cls.__subclasses__() for c in [sub, *_sections(sub)]]


def _needs_check(tp) -> bool:
    """Fields whose type alone is not the whole rule: numbers, strings, lists (not bool, Literal, section)."""
    if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType):
        return any(_needs_check(t) for t in typing.get_args(tp) if t is not type(None))
    if typing.get_origin(tp) is typing.Literal or tp is bool:
        return False
    return not (isinstance(tp, type) and issubclass(tp, Section))


def test_every_key_names_a_check_and_every_section_its_path():
    import ashnet.lm.train  # noqa: F401  (defines the lm section)

    sections = _sections()
    assert {"Config", "ModelConfig", "MoVEConfig", "MoLEConfig", "LMRunConfig"} <= {
        c.__name__ for c in sections
    }
    unchecked = [
        cls.key(f.name)
        for cls in sections
        for f in dataclasses.fields(cls)
        if _needs_check(typing.get_type_hints(cls)[f.name]) and not f.metadata.get("checks")
    ]
    assert unchecked == []
    paths = [cls.key("x") for cls in sections if cls is not Config]
    assert len(set(paths)) == len(paths) and all(p != "x" for p in paths)  # each has its own path


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.batch_size=0", "config key 'data.batch_size' must be >= 1, got 0"),
        ("train.lr=-1", "config key 'train.lr' must be positive and finite, got -1.0"),
        ("train.lr=.nan", "config key 'train.lr' must be positive and finite, got nan"),
        (
            "model.fusion.ratio_init=1",
            "config key 'model.fusion.ratio_init' must be strictly between 0 and 1",
        ),
        ("loss.st.windows=1", "config key 'loss.st.windows' must be >= 2, got 1"),
        (
            "model.abstract.heads=3",
            "config key 'model.abstract.dim' (16) must be divisible by model.abstract.heads",
        ),
        ("train.init=''", "config key 'train.init' must be non-empty"),
        ("seed=-1", "config key 'seed' must be >= 0"),
        ("train.lr=[1", "override 'train.lr=[1': the value is not valid YAML"),
    ],
)
def test_bad_values_are_one_line_cli_errors(override, message, tiny_pairs, tmp_path, capsys):
    argv = ["train", "--config", "tiny", "--data", str(tiny_pairs), "--out", str(tmp_path / "run")]
    assert main(argv + ["--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ashnet train: error: ") and message in err
    assert err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "run").exists()


def test_a_broken_yaml_file_is_one_line_naming_the_place(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: 1\n   epochs: [2\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "\n" not in str(err.value) and "line 3" in str(err.value)


def test_sections_built_in_python_are_checked_too():
    from ashnet.config import DataConfig, LossConfig, TrainConfig

    with pytest.raises(ConfigError, match="'data.batch_size' must be >= 1"):
        DataConfig(batch_size=0)
    with pytest.raises(ConfigError, match="unknown config key 'loss.itc.beta'"):
        LossConfig(itc={"beta": 1.0})
    with pytest.raises(ConfigError, match="'train.max_steps' must be int | None"):
        TrainConfig(max_steps="many")
    with pytest.raises(ConfigError, match="'train.epochs' must be >= 1"):
        dataclasses.replace(TrainConfig(), epochs=0)
    assert isinstance(ConfigError("x"), ValueError)
