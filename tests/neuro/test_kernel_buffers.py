"""neuro.kernels.buffers: large outputs reuse freed memory, never memory a tensor still uses."""

import torch

from neuro import functional as F
from neuro.kernels import buffers


def test_a_freed_buffer_is_reused_and_a_held_one_is_not():
    shape = (buffers.MIN_BYTES // 4 + 16,)
    a = buffers.empty(shape, torch.float32)
    a.fill_(1.0)
    view = a[5:9]  # a view keeps the storage, and so the map, in use
    ptr = a.data_ptr()
    del a
    b = buffers.empty(shape, torch.float32)
    assert b.data_ptr() != ptr
    del view
    c = buffers.empty(shape, torch.float32)
    assert c.data_ptr() == ptr
    assert torch.equal(b.fill_(2.0), torch.full(shape, 2.0)) and c.shape == shape


def test_small_requests_use_torch_and_large_ones_do_not_fault_again():
    assert buffers.empty((3, 4), torch.float64).untyped_storage().nbytes() == 96
    x = torch.rand(4, 8, buffers.MIN_BYTES // 4 // 32)
    p = F.LIFParameters()
    first, _ = F.lif_multi_step(x, None, p, "cpu")
    ptr = first.data_ptr()
    kept = first.clone()
    del first
    again, _ = F.lif_multi_step(x, None, p, "cpu")
    assert again.data_ptr() == ptr and torch.equal(again, kept)


def test_idle_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(buffers, "IDLE_LIMIT", 3 * buffers.MIN_BYTES)
    monkeypatch.setattr(buffers, "_MAPS", [])
    for n in range(1, 7):  # six sizes, each freed at once
        buffers.empty((n * buffers.MIN_BYTES // 4,), torch.float32)
    held = [buffers.empty((buffers.MIN_BYTES // 4,), torch.float32) for _ in range(5)]
    assert len({t.data_ptr() for t in held}) == 5  # in use: never handed out twice
    idle = sum(len(m) for m in buffers._MAPS) - sum(t.untyped_storage().nbytes() for t in held)
    assert idle <= 3 * buffers.MIN_BYTES
