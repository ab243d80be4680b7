"""MetaICL meta-training and the vision prefix with each continual-learning method, on a tiny random Llama."""

import pytest
import torch

from ashnet.config import load_config
from ashnet.lm.loader import load_language_model
from ashnet.lm.prompts import collate, encode_episode
from ashnet.lm.text_tasks import HELD_OUT_TASKS, text_tasks
from ashnet.lm.train import LMRunConfig, attach, icl_episodes, load_lm_run, pretrain_icl
from ashnet.lm.vqa_data import load_captions
from ashnet.training import train


@pytest.fixture(scope="module")
def encoder_run(tiny_pairs, tmp_path_factory):
    out = tmp_path_factory.mktemp("encoder")
    train(load_config("tiny"), tiny_pairs, out, progress=False)
    return out


@pytest.fixture(scope="module")
def icl_run(tiny_llama, tmp_path_factory):
    out = tmp_path_factory.mktemp("icl") / "run"
    cfg = LMRunConfig(
        kind="icl", lm=str(tiny_llama), steps=12, batch_size=4, lora_rank=2, lr=1e-2, max_shots=2
    )
    pretrain_icl(cfg, out, progress=False)
    return out


def test_meta_training_episodes_skip_held_out_tasks(tiny_llama):
    from ashnet.lm.loader import load_language_model

    tok = load_language_model(tiny_llama).tokenizer
    held = {e.question for t in text_tasks() if t.name in HELD_OUT_TASKS for e in t.train}
    episodes = icl_episodes(tok, 50, 3, 256, seed=0)
    text = [tok.decode(e.ids) for e in episodes]
    assert not any(q in t for q in held for t in text)
    assert icl_episodes(tok, 5, 3, 256, seed=1)[0].ids == icl_episodes(tok, 5, 3, 256, seed=1)[0].ids


@pytest.mark.slow
def test_pretrain_icl_lowers_the_loss_and_reloads(icl_run):
    import json

    losses = [
        json.loads(line)["total"]
        for line in (icl_run / "metrics.jsonl").read_text().splitlines()
        if '"train"' in line
    ]
    assert losses[-1] < losses[0]
    vlm, features, cfg = load_lm_run(icl_run)
    assert features is None and cfg.kind == "icl"
    assert not hasattr(vlm.lm, "merge_and_unload")  # adapters merged into a plain model


def _lm_weights(vlm):
    return {k: v.clone() for k, v in vlm.base.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["frozen", "lora", "plain", "wise"])
def test_attach_methods_change_what_they_should(
    method, tiny_llama, tiny_pairs, encoder_run, icl_run, tmp_path
):
    cfg = LMRunConfig(
        lm=str(tiny_llama),
        icl=str(icl_run),
        encoder=str(encoder_run),
        source="abstract",
        n_tokens=2,
        captions=str(tiny_pairs),
        steps=3,
        batch_size=4,
        lr=1e-2,
        method=method,
        lora_rank=2,
    )
    start = _lm_weights(load_lm_run(icl_run)[0])
    attach(cfg, tmp_path / "run", progress=False)
    vlm, features, _ = load_lm_run(tmp_path / "run")
    end = _lm_weights(vlm)
    changed = any(not torch.equal(start[k], end[k]) for k in start)
    assert changed == (method != "frozen")
    # The reloaded run reproduces the trained model's loss on a caption.
    items = load_captions(tiny_pairs)[:2]
    batch = collate([encode_episode(vlm.tokenizer, [], e, 2, 256) for e in items], vlm.pad_id)
    assert torch.isfinite(vlm.loss(batch, features(batch.images)))


def _attach_config(tiny_llama, encoder_run, tiny_pairs, **changes) -> LMRunConfig:
    """An ``lm attach`` run on the tiny Llama: two fused-path prefix tokens, the tiny captions."""
    return LMRunConfig(
        lm=str(tiny_llama),
        encoder=str(encoder_run),
        source="fused",
        n_tokens=2,
        captions=str(tiny_pairs),
        batch_size=4,
        **changes,
    )


@pytest.mark.slow
def test_wise_lands_halfway_between_the_start_and_plain(tiny_llama, tiny_pairs, encoder_run, tmp_path):
    # The tiny Llama ties its embedding and output layer (as SmolLM2 does): a tied weight must move
    # halfway once, not twice (to a quarter) through its two names.
    lm = load_language_model(tiny_llama).model
    assert lm.get_output_embeddings().weight is lm.get_input_embeddings().weight
    start = {k: v.clone() for k, v in lm.state_dict().items()}
    ends = {}
    for method in ("plain", "wise"):
        cfg = _attach_config(tiny_llama, encoder_run, tiny_pairs, steps=3, lr=1e-2, method=method)
        attach(cfg, tmp_path / method, progress=False)
        ends[method] = _lm_weights(load_lm_run(tmp_path / method)[0])
    for k, w in start.items():
        assert not torch.equal(ends["plain"][k], w), k
        torch.testing.assert_close(ends["wise"][k], 0.5 * (w + ends["plain"][k]), msg=k)


@pytest.mark.slow
def test_rehearsal_and_distill_add_their_text_loss(tiny_llama, tiny_pairs, encoder_run, tmp_path):
    for method, key in (("rehearsal", "text"), ("distill", "distill")):
        cfg = _attach_config(tiny_llama, encoder_run, tiny_pairs, steps=2, method=method)
        result = attach(cfg, tmp_path / method, progress=False)
        assert key in result["losses"] and result["losses"][key] >= 0


def test_attach_needs_an_encoder_and_data():
    with pytest.raises(ValueError, match="--encoder"):
        LMRunConfig(captions="x.csv")
    with pytest.raises(ValueError, match="--captions"):
        LMRunConfig(encoder="runs/x")
    with pytest.raises(ValueError, match="lm.method.*must be one of"):
        LMRunConfig(encoder="runs/x", captions="x.csv", method="magic")


def test_eval_language_reports_perplexity_and_text_tasks(icl_run, capsys):
    import json

    from ashnet.cli import main

    args = [
        "eval",
        "--task",
        "language",
        "--checkpoint",
        str(icl_run),
        "--limit",
        "3",
        "--seeds",
        "1",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["perplexity"] > 1 and set(out["text_tasks"]) == set(HELD_OUT_TASKS)
    assert main(["eval", "--task", "vqa", "--checkpoint", str(icl_run)]) == 2
    assert "--data is required" in capsys.readouterr().err


@pytest.mark.slow
def test_vqa_examples_from_a_scenes_file(tmp_path):
    from pathlib import Path

    from ashnet.data import build_openmoji, build_scenes
    from ashnet.lm.vqa_data import load_vqa

    openmoji = tmp_path / "openmoji"
    build_openmoji(openmoji, size=32, limit=300, progress=False)
    scenes = build_scenes(
        tmp_path / "scenes", n_scenes=40, size=64, seed=3, openmoji_dir=openmoji, progress=False
    )
    train_items = load_vqa(scenes, "train")
    assert train_items and all(Path(e.image).is_file() and e.question and e.answer for e in train_items)
    assert len(load_vqa(scenes, "train", limit=5)) == 5
    with pytest.raises(FileNotFoundError, match="neither 'easy-vqa' nor a scenes file"):
        load_vqa(tmp_path / "missing.json", "train")
