"""Evaluation of a model: embeddings of a table, recall consistency, firing rates, zero-shot accuracy."""

import pytest
import torch
from torch import nn

import neuro
from ashnet.data import caption_index, load_pairs
from ashnet.evaluate import embed_table, evaluate, recall_at_k, zero_shot_accuracy
from ashnet.models import build_model


@pytest.fixture(scope="module")
def tiny_model(tiny_model_config):
    torch.manual_seed(0)
    return build_model(tiny_model_config()).eval()


def test_evaluate_matches_recall_of_the_model_embeddings(tiny_model, tiny_pairs):
    table = load_pairs(tiny_pairs).split("val")
    index = caption_index(table)
    result = evaluate(tiny_model, table, image_size=16, batch_size=3, progress=False)
    assert (result.n_images, result.n_texts) == (4, len(index.texts))
    from ashnet.data import ImageTextDataset

    with torch.no_grad():
        images = torch.stack([ImageTextDataset(table, 16)[i][0] for i in range(4)])
        img = tiny_model.encode_image(images).embedding
        txt = tiny_model.encode_text(index.texts)
    expected = recall_at_k(img @ txt.t(), index.text_image)
    assert result.i2t == pytest.approx(expected["i2t"], abs=1e-4)
    assert result.t2i == pytest.approx(expected["t2i"], abs=1e-4)
    assert set(result.to_json()) == {"i2t", "t2i", "n_images", "n_texts", "firing_rate"}


def test_firing_rates_per_spiking_layer(tiny_model, tiny_pairs):
    table = load_pairs(tiny_pairs).split("test")
    emb = embed_table(tiny_model, table, 16, 2, "cpu", progress=False)
    spiking = {n for n, m in tiny_model.named_modules() if isinstance(m, neuro.SpikingNeuron)}
    assert emb.layer_firing_rates and set(emb.layer_firing_rates) <= spiking
    assert all(0.0 <= r <= 1.0 for r in emb.layer_firing_rates.values())
    assert not any(m.record_v for n, m in tiny_model.named_modules() if n in spiking)  # monitor removed


def test_model_evaluation_and_monitor_share_one_firing_rate(tiny_model, tiny_pairs):
    """Spikes over neuron-steps of every layer: the model's output, evaluate() in any batch size, Monitor."""
    from ashnet.data import ImageTextDataset

    table = load_pairs(tiny_pairs).split("test")
    images = torch.stack([ImageTextDataset(table, 16)[i][0] for i in range(len(table.images))])
    with neuro.Monitor(tiny_model) as monitor, torch.no_grad():
        model_rate = float(tiny_model.encode_image(images).firing_rate)
    spikes = {n: s[0] for n, s in monitor.spikes.items()}
    by_size = sum(float(s.sum()) for s in spikes.values()) / sum(s.numel() for s in spikes.values())
    by_layer = sum(float(s.mean()) for s in spikes.values()) / len(spikes)
    assert model_rate == pytest.approx(by_size) and float(monitor.firing_rate()) == pytest.approx(by_size)
    assert abs(by_size - by_layer) > 1e-4  # the layers differ in size, so the two means differ
    for batch_size in (1, 3):
        result = evaluate(tiny_model, table, 16, batch_size, progress=False)
        assert result.firing_rate == pytest.approx(100 * by_size)
        per_layer = {n: 100 * float(s.mean()) for n, s in spikes.items()}
        assert result.layer_firing_rates == pytest.approx(per_layer)


def test_ann_only_model_has_no_firing_rate(tiny_pairs, tiny_model_config):
    model = build_model(tiny_model_config(enabled=False))
    result = evaluate(model, load_pairs(tiny_pairs).split("test"), 16, progress=False)
    assert result.firing_rate is None and result.layer_firing_rates == {}


class PromptLookup(nn.Module):
    """Text side of a model whose prompt embeddings are fixed one-hot vectors per class word."""

    def __init__(self, words):
        super().__init__()
        self.words = words
        self.anchor = nn.Parameter(torch.zeros(1))

    def encode_text(self, captions):
        out = torch.zeros(len(captions), len(self.words))
        for i, c in enumerate(captions):
            out[i, [w in c for w in self.words].index(True)] = 1.0
        return out


def test_zero_shot_accuracy_uses_prompts_of_the_distinct_labels():
    words = ["cat", "dog", "owl"]
    model = PromptLookup(words)
    # Image embeddings point at: cat, dog, dog, owl; true labels: cat, dog, owl, owl -> 3 of 4 right.
    images = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0.9, 0.1], [0.2, 0, 0.8]])
    acc = zero_shot_accuracy(model, images, ["cat", "dog", "owl", "owl"], template="a photo of a {}")
    assert acc == pytest.approx(75.0)
    with pytest.raises(ValueError, match="labels for"):
        zero_shot_accuracy(model, images, ["cat"])


def test_empty_split_is_a_clear_error(tiny_model, tiny_pairs):
    empty = load_pairs(tiny_pairs).split("test")
    empty.images = []
    with pytest.raises(ValueError, match="no images"):
        evaluate(tiny_model, empty, 16, progress=False)


def test_zero_shot_classes_are_shared_concepts_for_emoji_data(tmp_path, tiny_pairs):
    from PIL import Image

    from ashnet.data import load_pairs
    from ashnet.evaluate import zero_shot_labels

    rows = [
        ("1F44D.png", "thumbs up"),
        ("1F44D-1F3FD.png", "thumbs up medium skin tone"),
        ("1F431.png", "cat"),
    ]
    for name, _ in rows:
        Image.new("RGB", (4, 4), "white").save(tmp_path / name)
    (tmp_path / "pairs.csv").write_text("image,caption\n" + "".join(f"{n},{c}\n" for n, c in rows))
    labels, kind = zero_shot_labels(load_pairs(tmp_path / "pairs.csv"))
    assert kind == "concept" and labels == ["thumbs up", "thumbs up", "cat face"]
    table = load_pairs(tiny_pairs)  # files not named by emoji: each image's first caption
    labels, kind = zero_shot_labels(table)
    assert kind == "caption" and labels == [r.captions[0] for r in table.images]
