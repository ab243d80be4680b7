"""Training: batch order and sharding, schedule, feature caching, objectives on/off, outputs, STUA init."""

import pytest
import torch

from ashnet.checkpoint import load_checkpoint
from ashnet.config import load_config
from ashnet.data import caption_index, load_pairs
from ashnet.demo import baseline_of
from ashnet.models import build_model
from ashnet.run import read_metrics
from ashnet.training import pretrain_stua, train
from ashnet.training.batches import batches_per_epoch, caption_choice, epoch_batches
from ashnet.training.features import cache_features
from ashnet.training.image_text import load_init
from ashnet.training.optim import build_optimizer, warmup_cosine


def test_two_shards_hold_exactly_the_single_process_global_batch():
    one = epoch_batches(23, 4, seed=5, epoch=2)
    shards = [epoch_batches(23, 2, seed=5, epoch=2, rank=r, world_size=2) for r in range(2)]
    assert len(one) == batches_per_epoch(23, 4) == 5 == len(shards[0]) == len(shards[1])
    for b, global_batch in enumerate(one):
        assert shards[0][b] + shards[1][b] == global_batch
    flat = [i for b in one for i in b]
    assert len(set(flat)) == len(flat) == 20  # no repeats; the incomplete last batch is dropped
    assert epoch_batches(23, 4, seed=5, epoch=2) == one  # same seed and epoch -> same order
    assert epoch_batches(23, 4, seed=5, epoch=3) != one
    with pytest.raises(ValueError, match="cannot fill one batch"):
        epoch_batches(3, 4, seed=0, epoch=0)


def test_caption_choice_stays_within_each_image_and_varies_by_epoch():
    counts = torch.tensor([1, 3, 2, 5] * 50)
    picks = [caption_choice(counts, seed=0, epoch=e) for e in range(3)]
    for p in picks:
        assert bool((p >= 0).all()) and bool((p < counts).all())
    assert not torch.equal(picks[0], picks[1])
    assert torch.equal(picks[0], caption_choice(counts, seed=0, epoch=0))


def test_warmup_then_cosine_to_zero():
    p = torch.nn.Parameter(torch.zeros(2, 2))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=3, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.25, 0.5, 0.75])
    assert lrs[3] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[3:-1], lrs[4:], strict=True))
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)


def test_optimizer_skips_frozen_and_exempts_vectors_from_decay():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)
    groups = build_optimizer(model, 1e-3, 0.1).param_groups
    assert [len(g["params"]) for g in groups] == [1, 1]
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(model, 1e-3, 0.1)


@pytest.mark.slow
def test_tiny_run_writes_config_checkpoint_metrics_and_tensorboard(tiny_pairs, tmp_path):
    cfg = load_config("tiny", ["train.max_steps=4", "train.checkpoint_every=2", "train.eval_every=2"])
    result = train(cfg, tiny_pairs, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert load_config(run / "config.yaml") == cfg
    state = load_checkpoint(run)
    assert state["step"] == result["step"] == 4
    events = read_metrics(run)
    assert [e["step"] for e in events if e["event"] == "train"] == [1, 2, 3, 4]
    assert [e["step"] for e in events if e["event"] == "eval"] == [2, 4]
    assert all(torch.isfinite(torch.tensor(e["total"])) for e in events if e["event"] == "train")
    assert 0 <= result["eval"]["i2t_r1"] <= 100 and result["eval"]["firing_rate"] >= 0
    assert any((run / "tb").iterdir())
    with pytest.raises(ValueError, match="already holds a run"):
        train(cfg, tiny_pairs, run, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "active"),
    [
        (["loss.st.enabled=false", "loss.stua.enabled=false"], {"itc"}),
        (["loss.itc.enabled=false", "loss.stua.enabled=false"], {"st"}),
        (["loss.itc.enabled=false", "loss.st.enabled=false"], {"stua"}),
        (["loss.st.mode=encodings", "model.abstract.encoding=poisson"], {"itc", "st", "stua"}),
        (["model.text.freeze=false", "loss.st.enabled=false"], {"itc", "stua"}),
        ("baseline", {"itc"}),
    ],
    ids=["itc-only", "st-only", "stua-only", "st-encodings", "text-trained", "snn-off"],
)
def test_each_objective_switches_on_and_off(tiny_pairs, tmp_path, overrides, active):
    cfg = load_config("tiny", ["train.max_steps=2"])
    if overrides == "baseline":
        cfg = baseline_of(cfg)
    else:
        cfg = load_config("tiny", ["train.max_steps=2", *overrides])
    train(cfg, tiny_pairs, tmp_path / "run", progress=False)
    first = next(e for e in read_metrics(tmp_path / "run") if e["event"] == "train")
    for name in ("itc", "st", "stua"):
        assert (first[name] > 0) == (name in active), (name, first)
    weights = {"itc": cfg.loss.itc.weight, "st": cfg.loss.st.weight, "stua": cfg.loss.stua.weight}
    assert first["total"] == pytest.approx(sum(weights[n] * first[n] for n in active), rel=1e-5)


@pytest.mark.slow
def test_cached_features_equal_live_encoder_outputs(tiny_pairs, tmp_path):
    cfg = load_config("tiny", ["model.concrete.freeze=true"])
    model = build_model(cfg.model).eval()
    table = load_pairs(tiny_pairs).split("train")
    texts = caption_index(table).texts
    cache = cache_features(model, table, texts, 16, 5, "cpu", tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    from ashnet.data import ImageTextDataset

    images = torch.stack([ImageTextDataset(table, 16)[i][0] for i in (3, 0, 7)])
    with torch.no_grad():
        live = model.encode_concrete(images)
        live_text = model.encode_text_features([texts[i] for i in (4, 1)])
    cached = cache.images([3, 0, 7], "cpu")
    torch.testing.assert_close(cached.tokens, live.tokens)
    cached_text = cache.captions([4, 1], "cpu")
    assert torch.equal(cached_text.mask, live_text.mask)
    torch.testing.assert_close(cached_text.tokens, live_text.tokens, atol=1e-5, rtol=1e-5)
    again = cache_features(model, table, texts, 16, 5, "cpu", tmp_path / "cache", progress=False)
    assert torch.equal(again.concrete.tokens, cache.concrete.tokens)  # loaded from disk
    torch.testing.assert_close(again.text.pooled, cache.text.pooled)


@pytest.mark.slow
def test_stua_pretraining_initialises_training(tiny_pairs, tmp_path):
    cfg = load_config("tiny", ["stua.steps=2"])
    result = pretrain_stua(cfg, tiny_pairs, tmp_path / "stua", progress=False)
    assert result["step"] == cfg.stua.steps
    assert [e["event"] for e in read_metrics(tmp_path / "stua")] == ["run"] + ["train"] * cfg.stua.steps
    trained = load_checkpoint(tmp_path / "stua")["model"]
    fresh = build_model(cfg.model)
    before = fresh.stua_adapter.weight.clone()
    assert load_init(fresh, tmp_path / "stua" / "checkpoint.pt") == len(fresh.state_dict())
    assert not torch.equal(before, fresh.stua_adapter.weight)
    assert torch.equal(fresh.stua_adapter.weight, trained["stua_adapter.weight"])
    txt = tmp_path / "captions.txt"
    txt.write_text("a red square\n\na blue disc\na green bar\nan orange ring\n")
    pretrain_stua(cfg, txt, tmp_path / "stua_txt", progress=False)
    with pytest.raises(ValueError, match="needs the spiking branch"):
        pretrain_stua(baseline_of(cfg), txt, tmp_path / "x", progress=False)


def test_same_seed_and_threads_give_identical_runs_and_both_are_logged(tiny_pairs, tmp_path):
    before = torch.get_num_threads()
    runs = {}
    for name, threads in (("a", 1), ("b", 1), ("c", 2)):
        cfg = load_config("tiny", ["train.max_steps=3", "seed=7", f"train.threads={threads}"])
        train(cfg, tiny_pairs, tmp_path / name, progress=False)
        runs[name] = tmp_path / name
        assert torch.get_num_threads() == before  # the pin is undone after the run
    a, b = load_checkpoint(runs["a"])["model"], load_checkpoint(runs["b"])["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_metrics(runs["a"]) == read_metrics(runs["b"])
    for name, threads in (("a", 1), ("c", 2)):
        (run,) = [e for e in read_metrics(runs[name]) if e["event"] == "run"]
        assert run["seed"] == 7 and run["threads"] == threads and run["step"] == 0
    with pytest.raises(ValueError, match="train.threads"):
        load_config("tiny", ["train.threads=0"])


def test_training_warns_when_images_would_be_upsampled(tiny_pairs, tmp_path, caplog):
    cfg = load_config("tiny", ["train.max_steps=1", "data.image_size=32"])  # the files are 16 px
    with caplog.at_level("WARNING", logger="ashnet.training.image_text"):
        train(cfg, tiny_pairs, tmp_path / "run", progress=False)
    assert "is 16 px but data.image_size is 32" in caplog.text


def test_stua_stage_runs_before_image_text_training_and_starts_it(tiny_pairs, tmp_path, monkeypatch):
    from ashnet.training import image_text

    starts = []
    monkeypatch.setattr(image_text, "load_init", lambda model, source: starts.append(source) or 1)
    cfg = load_config("tiny", ["train.max_steps=2", "stua.steps=2"])
    run = tmp_path / "run"
    result = train(cfg, tiny_pairs, run, progress=False)
    stage = run / "stua"
    assert starts == [str(stage / "checkpoint.pt")] and result["pretrain_s"] > 0
    stage_events = read_metrics(stage)
    assert [e["step"] for e in stage_events if e["event"] == "train"] == [1, 2]
    assert all(e["stua"] > 0 and e["itc"] == 0 for e in stage_events if e["event"] == "train")
    assert load_config(run / "config.yaml") == cfg  # the run's own config is unchanged
    assert train(cfg, tiny_pairs, run, resume=True, progress=False)["pretrain_s"] == 0  # done before
    assert read_metrics(stage) == stage_events and starts == [str(stage / "checkpoint.pt")]
    train(baseline_of(cfg), tiny_pairs, tmp_path / "baseline", progress=False)
    assert not (tmp_path / "baseline" / "stua").exists()  # no spiking branch, no stage
    with pytest.raises(ValueError, match="already holds a run"):  # refused before the stage runs
        train(cfg, tiny_pairs, run, progress=False)


def test_backbone_levels_are_cached_and_every_lever_trains(tiny_pairs, tmp_path):
    levers = [
        "model.concrete.backbone=test_efficientnet",
        "model.concrete.freeze=true",
        "data.image_size=64",
        "model.abstract.block=mlp",
        "model.abstract.stages=[2,3]",
        "model.abstract.stage_timing=cascade",
        "model.abstract.time_steps=3",
        "model.abstract.input_gain=2",
        "model.abstract.hard_mix=0.3",
        "model.abstract.token_dropout=0.2",
        "loss.itc.per_head=0.5",
    ]
    cfg = load_config("tiny", ["train.max_steps=2", *levers])
    model = build_model(cfg.model)
    table = load_pairs(tiny_pairs).split("train")
    cache = cache_features(model, table, None, 64, 8, "cpu", tmp_path / "cache", progress=False)
    assert cache.concrete.grid.shape == (len(table.images), 64, 32 + 48)
    batch = cache.images([2, 0], "cpu")
    torch.testing.assert_close(batch.grid, cache.concrete.grid[[2, 0]])
    plain = build_model(load_config("tiny", levers[:3]).model)
    cache_features(plain, table, None, 64, 8, "cpu", tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 2  # the levels have their own cache entry
    result = train(cfg, tiny_pairs, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    assert result["step"] == 2
    assert all(
        torch.isfinite(torch.tensor(e["total"])) for e in read_metrics(tmp_path / "run") if "total" in e
    )
