"""Run configs: strict YAML loading (unknown keys, wrong types), overrides, dump round trip, packaged ones."""

import dataclasses

import pytest

from ashnet.config import Config, config_from_dict, config_to_dict, dump_config, load_config, packaged_configs
from ashnet.training.demo import baseline_of


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


def test_unknown_key_names_the_dotted_key_and_valid_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  abstract:\n    time_stepz: 4\n")
    with pytest.raises(ValueError, match=r"unknown config key 'model\.abstract\.time_stepz'.*time_steps"):
        load_config(path)
    with pytest.raises(ValueError, match=r"unknown config key 'trian'.*seed, data, model, loss, train, stua"):
        config_from_dict({"trian": {}})


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
    with pytest.raises((TypeError, ValueError), match=pattern):
        config_from_dict(data)


def test_values_checked_by_the_sections_are_reported_with_the_section():
    with pytest.raises(ValueError, match="model.abstract.*time_steps"):
        config_from_dict({"model": {"abstract": {"time_steps": 0}}})


def test_defaults_ints_as_floats_and_none():
    cfg = config_from_dict({"train": {"lr": 1, "max_steps": None, "grad_clip": None}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.grad_clip is None
    assert cfg.data == Config().data
    assert config_from_dict(config_to_dict(cfg)) == cfg


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
