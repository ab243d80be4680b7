"""Recall@k under the COCO/Flickr protocol, checked against hand-made similarity matrices."""

import pytest
import torch

from ashnet.evaluate import recall_at_k


def reference_recall(sim, owners, k):
    """Loop version: rank every candidate by hand (ties by index), independent of the vectorised code."""
    n_img, n_txt = len(sim), len(sim[0])
    i2t = 0
    for i in range(n_img):
        order = sorted(range(n_txt), key=lambda j: (-sim[i][j], j))
        i2t += any(owners[j] == i for j in order[:k])
    t2i = 0
    for j in range(n_txt):
        order = sorted(range(n_img), key=lambda i: (-sim[i][j], i))
        t2i += owners[j] in order[:k]
    return 100.0 * i2t / n_img, 100.0 * t2i / n_txt


def test_known_answers_with_several_captions_per_image():
    # 3 images; image 0 owns captions 0,1; image 1 owns caption 2; image 2 owns captions 3,4.
    owners = torch.tensor([0, 0, 1, 2, 2])
    sim = torch.tensor(
        [
            [0.1, 0.9, 0.0, 0.5, 0.2],  # image 0: best text is caption 1 (its own) -> i2t hit at 1
            [0.8, 0.1, 0.7, 0.2, 0.0],  # image 1: best is caption 0 (image 0's), own caption 2 second
            [0.0, 0.2, 0.1, 0.3, 0.9],  # image 2: best is caption 4 (its own)
        ]
    )
    r = recall_at_k(sim, owners, ks=(1, 2, 3))
    assert r["i2t"] == pytest.approx({"r1": 200 / 3, "r2": 100.0, "r3": 100.0})
    # caption columns: c0 -> best image 1 (wrong), own image 0 second; c1 -> image 0 (hit);
    # c2 -> image 1 (hit); c3 -> image 0 (0.5) then image 2 (0.3): own at rank 2; c4 -> image 2 (hit)
    assert r["t2i"] == pytest.approx({"r1": 60.0, "r2": 100.0, "r3": 100.0})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_on_random_matrices(seed):
    g = torch.Generator().manual_seed(seed)
    n_img = 12
    owners = torch.cat([torch.arange(n_img), torch.randint(0, n_img, (20,), generator=g)])
    sim = torch.randn(n_img, len(owners), generator=g).round(decimals=1)  # rounding creates ties
    r = recall_at_k(sim, owners, ks=(1, 5, 10), chunk=5)
    for k in (1, 5, 10):
        i2t, t2i = reference_recall(sim.tolist(), owners.tolist(), k)
        assert r["i2t"][f"r{k}"] == pytest.approx(i2t)
        assert r["t2i"][f"r{k}"] == pytest.approx(t2i)


def test_perfect_and_reversed_similarity():
    owners = torch.arange(6)
    assert recall_at_k(torch.eye(6), owners)["t2i"]["r1"] == 100.0
    worst = recall_at_k(-torch.eye(6), owners, ks=(1, 5, 6))
    assert worst["i2t"] == pytest.approx({"r1": 0.0, "r5": 0.0, "r6": 100.0})


def test_rejects_image_without_caption_and_bad_shape():
    with pytest.raises(ValueError, match="at least one caption"):
        recall_at_k(torch.zeros(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        recall_at_k(torch.zeros(2, 2), torch.tensor([0, 1, 1]))
