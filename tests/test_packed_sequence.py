"""nn.utils.rnn: packing against a NumPy loop reference and PyTorch, gradients of pack/unpack/pad,
and RNN/LSTM/GRU on a PackedSequence equal to PyTorch's (outputs, h_n and every gradient)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                   pad_sequence, unpack_sequence, unpad_sequence)

rng = np.random.default_rng(11)


def ref_pack(x, lengths, batch_first):
    """Textbook packing: sort by decreasing length (stable), then step by step."""
    order = sorted(range(len(lengths)), key=lambda b: -lengths[b])
    rows, sizes = [], []
    for t in range(max(lengths)):
        active = [b for b in order if lengths[b] > t]
        sizes.append(len(active))
        rows += [x[b, t] if batch_first else x[t, b] for b in active]
    return np.array(rows), np.array(sizes), np.array(order)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[4, 1, 3], [5], [2, 2, 2], [1, 4, 4, 2, 3]])
def test_pack_and_pad_round_trip(batch_first, lengths):
    T, B = 5, len(lengths)
    shape = (B, T, 2) if batch_first else (T, B, 2)
    x = mg.tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
    p = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    rows, sizes, order = ref_pack(x.data, lengths, batch_first)
    np.testing.assert_array_equal(p.data.data, rows)
    np.testing.assert_array_equal(p.batch_sizes.data, sizes)
    np.testing.assert_array_equal(p.sorted_indices.data, order)
    np.testing.assert_array_equal(p.unsorted_indices.data[order], np.arange(B))
    padded, lens = pad_packed_sequence(p, batch_first=batch_first, padding_value=-1.0, total_length=T)
    np.testing.assert_array_equal(lens.data, lengths)
    mask = np.arange(T)[:, None] < np.array(lengths)[None, :]              # (T, B)
    if batch_first:
        mask = mask.T
    np.testing.assert_array_equal(padded.data, np.where(mask[..., None], x.data, -1.0))
    assert mg.gradcheck(lambda a: pack_padded_sequence(a, lengths, batch_first, enforce_sorted=False).data, [x])
    d = mg.tensor(p.data.data, requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(lambda a: pad_packed_sequence(PackedSequence(a, *p[1:]), batch_first, total_length=T)[0],
                        [d])


def test_sorted_input_has_no_permutation():
    x = np.arange(12.0).reshape(3, 2, 2)
    p = pack_padded_sequence(x, [3, 2])
    assert p.sorted_indices is None and p.unsorted_indices is None
    data, batch_sizes, _, _ = p                                           # unpacks like PyTorch's namedtuple
    assert batch_sizes.data.tolist() == [2, 2, 1] and data.shape == (5, 2)


def test_pad_sequence_and_pack_sequence():
    seqs = [mg.tensor(rng.standard_normal((n, 3)), requires_grad=True, dtype=np.float64) for n in (2, 4, 1)]
    out = pad_sequence(seqs, batch_first=True, padding_value=7.0)
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out.data[0, :2], seqs[0].data)
    assert (out.data[0, 2:] == 7).all() and (out.data[2, 1:] == 7).all()
    assert pad_sequence(seqs).shape == (4, 3, 3)
    assert mg.gradcheck(lambda a, b, c: pad_sequence([a, b, c]), seqs)
    p = pack_sequence(seqs, enforce_sorted=False)
    assert p.batch_sizes.data.tolist() == [3, 2, 1, 1]
    for back in (unpack_sequence(p), unpad_sequence(out, [2, 4, 1], batch_first=True)):
        assert [b.shape[0] for b in back] == [2, 4, 1]
        for a, b in zip(seqs, back):
            np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match=r"lengths \[2, 9, 1\] do not fit a padded batch of shape \(3, 4, 3\)"):
        unpad_sequence(out, [2, 9, 1], batch_first=True)


def test_packed_helpers_match_torch():
    torch = pytest.importorskip("torch")
    tu = torch.nn.utils.rnn
    lengths = [3, 5, 1, 4]
    x = mg.tensor(rng.standard_normal((4, 5, 2)), dtype=np.float64)
    tp = tu.pack_padded_sequence(torch.tensor(x.data), torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    for name in PackedSequence._fields:
        np.testing.assert_array_equal(getattr(p, name).data, getattr(tp, name).numpy(), err_msg=name)
    tpad, tlen = tu.pad_packed_sequence(tp, padding_value=2.5, total_length=6)
    pad, lens = pad_packed_sequence(p, padding_value=2.5, total_length=6)
    np.testing.assert_array_equal(pad.data, tpad.numpy())
    np.testing.assert_array_equal(lens.data, tlen.numpy())
    seqs = [mg.tensor(rng.standard_normal((n, 2)), dtype=np.float64) for n in (2, 3)]
    np.testing.assert_array_equal(pad_sequence(seqs, batch_first=True).data,
                                  tu.pad_sequence([torch.tensor(s.data) for s in seqs], batch_first=True).numpy())


@pytest.mark.parametrize("kind,proj", [("RNN", 0), ("LSTM", 0), ("GRU", 0), ("LSTM", 3)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(kind, proj, batch_first):
    torch = pytest.importorskip("torch")
    T, B, I, H, L = 5, 4, 3, 4, 2
    kw = dict(num_layers=L, bidirectional=True, batch_first=batch_first, **({"proj_size": proj} if proj else {}))
    tmod = getattr(torch.nn, kind)(I, H, **kw).double()
    mod = getattr(nn, kind)(I, H, **kw).double()
    mod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    lengths = [2, 5, 1, 4]
    x = mg.tensor(rng.standard_normal((B, T, I) if batch_first else (T, B, I)), dtype=np.float64)
    h0, c0 = rng.standard_normal((2 * L, B, proj or H)), rng.standard_normal((2 * L, B, H))  # LSTMP: h_0 of proj_size
    thx = (torch.tensor(h0), torch.tensor(c0)) if kind == "LSTM" else torch.tensor(h0)
    hx = (h0, c0) if kind == "LSTM" else h0

    tp = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x.data), torch.tensor(lengths), batch_first=batch_first,
                                                 enforce_sorted=False)
    tdata = tp.data.clone().requires_grad_()
    tout, thn = tmod(torch.nn.utils.rnn.PackedSequence(tdata, tp.batch_sizes, tp.sorted_indices,
                                                       tp.unsorted_indices), thx)
    p = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    data = mg.tensor(p.data.data, requires_grad=True, dtype=np.float64)
    out, hn = mod(PackedSequence(data, *p[1:]), hx)
    assert isinstance(out, PackedSequence)
    for name in PackedSequence._fields[1:]:
        np.testing.assert_array_equal(getattr(out, name).data, getattr(tout, name).numpy())
    np.testing.assert_allclose(out.data.data, tout.data.detach().numpy(), rtol=1e-10, atol=1e-12)
    thn, hn = (thn[0], hn[0]) if kind == "LSTM" else (thn, hn)
    np.testing.assert_allclose(hn.data, thn.detach().numpy(), rtol=1e-10, atol=1e-12)

    g = rng.standard_normal(out.data.shape)
    (tout.data * torch.tensor(g)).sum().add(thn.square().sum()).backward()
    ((out.data * g).sum() + (hn * hn).sum()).backward()
    np.testing.assert_allclose(data.grad, tdata.grad.numpy(), rtol=1e-9, atol=1e-11)
    tparams = dict(tmod.named_parameters())
    for name, prm in mod.named_parameters():
        np.testing.assert_allclose(prm.grad, tparams[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


def test_packed_argument_errors():
    x = np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match=r"lengths \[1, 3, 2\] must be sorted in decreasing order"):
        pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(ValueError, match="every length must be > 0, got 0"):
        pack_padded_sequence(x, [3, 0, 0])
    with pytest.raises(ValueError, match=r"length 6 exceeds the padded length 4"):
        pack_padded_sequence(x, [6, 3, 2])
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3"):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(TypeError, match="lengths must hold integers, got dtype float64"):
        pack_padded_sequence(x, [3.0, 2.0, 1.0])
    p = pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="total_length must be an int >= the longest length 3, got 2"):
        pad_packed_sequence(p, total_length=2)
    with pytest.raises(TypeError, match="expected a PackedSequence, got ndarray"):
        pad_packed_sequence(x)
    with pytest.raises(ValueError, match="do not pass lengths="):
        nn.GRU(2, 3).double()(p, lengths=[3, 2, 1])
    with pytest.raises(ValueError, match="non-empty list of tensors"):
        pad_sequence([])
