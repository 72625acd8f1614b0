"""Thread safety of the tape: grad mode and the running backward pass are per thread.

Python threads training independent models at the same time must get bitwise the results of the
same runs done one after another, and ``no_grad`` in one thread must not stop recording in
another (PyTorch keeps grad mode per thread); threads whose graphs share parameters lose none of
the gradients they accumulate into them. The overlaps are forced with barriers and events
(never sleeps); a very short GIL switch interval makes the threads interleave inside every op.
"""
import sys
import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad import optim

T, B, I, H, O = 5, 3, 4, 6, 2          # sequence length, batch, input, hidden, output sizes
STEPS = 4
WAIT = 30.0                            # seconds before a stuck event fails the test (never reached)


class Net(nn.Module):
    """Linear -> recurrent layer -> Linear on the last step, float64."""

    def __init__(self, kind, seed):
        super().__init__()
        self.inp = nn.Linear(I, H, dtype=np.float64)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](H, H, dtype=np.float64)
        self.out = nn.Linear(H, O, dtype=np.float64)
        rng = np.random.default_rng(seed)             # not the shared default generator
        for _, p in self.named_parameters():
            p.data[...] = rng.uniform(-0.5, 0.5, p.shape)

    def forward(self, x):
        y, _ = self.rnn(self.inp(x).tanh())
        return self.out(y[-1])


def data(seed):
    rng = np.random.default_rng(1000 + seed)
    return rng.standard_normal((T, B, I)), rng.standard_normal((B, O))


def train(kind, seed, barrier=None):
    """A few Adam steps, each followed by a no_grad evaluation; every number it produced."""
    model = Net(kind, seed)
    opt = optim.Adam(model.parameters(), lr=0.05)
    x, y = data(seed)
    record = []
    for _ in range(STEPS):
        if barrier is not None:
            barrier.wait(WAIT)            # every thread runs this step at the same time
        try:
            record += step(model, opt, x, y)
        except BaseException:
            if barrier is not None:
                barrier.abort()           # let the other threads fail now instead of waiting
            raise
    record += [p.data.copy() for p in model.parameters()]
    return record


def step(model, opt, x, y):
    """One training step and a no_grad evaluation: the loss, the gradients, the evaluation."""
    record = []
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    record.append(loss.data.copy())
    record += [p.grad.copy() for p in model.parameters()]
    opt.step()
    with mg.no_grad():
        ev = model(x)
        assert not ev.requires_grad
    assert mg.is_grad_enabled()
    record.append(ev.data.copy())
    return record


@pytest.fixture
def fast_switching():
    """Make the interpreter switch threads every few microseconds instead of every 5 ms."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def run_threads(targets):
    """Run each callable in its own thread; re-raise the first exception; return the results."""
    results, errors = [None] * len(targets), []

    def body(i):
        try:
            results[i] = targets[i]()
        except BaseException as e:                # noqa: BLE001 - reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * WAIT)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def assert_same_bits(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert np.array_equal(u, v), "a threaded run differs from the sequential run"


@pytest.mark.parametrize("n_threads", [2, 4])
def test_concurrent_training_matches_sequential(n_threads, fast_switching):
    kinds = ["lstm", "gru", "rnn", "lstm"][:n_threads]
    sequential = [train(k, s) for s, k in enumerate(kinds)]
    barrier = threading.Barrier(n_threads)
    threaded = run_threads([lambda k=k, s=s: train(k, s, barrier) for s, k in enumerate(kinds)])
    for seq, thr in zip(sequential, threaded):
        assert_same_bits(seq, thr)


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    entered, checked = threading.Event(), threading.Event()
    x = mg.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)

    def holder():                               # sits inside no_grad while the other thread works
        with mg.no_grad():
            entered.set()
            assert checked.wait(WAIT)
            return (x * 2).requires_grad, mg.is_grad_enabled()

    def worker():
        assert entered.wait(WAIT)
        try:
            y = (x * 3).sum()
            recorded = y.requires_grad, mg.is_grad_enabled()
            with mg.set_grad_enabled(False):    # and this thread's switch stays in this thread
                off = (x * 3).requires_grad
        finally:
            checked.set()
        return recorded, off

    (held, held_mode), (recorded, off) = run_threads([holder, worker])
    assert (held, held_mode) == (False, False)
    assert recorded == (True, True) and off is False
    assert mg.is_grad_enabled()                 # the main thread was never switched off


def test_new_thread_starts_with_grad_enabled_and_no_backward_running():
    with mg.no_grad():
        (mode,) = run_threads([mg.is_grad_enabled])
    assert mode is True


def test_interleaved_backward_passes_keep_their_own_engine():
    """Thread A pauses in a hook in the middle of its backward; thread B then starts its own backward
    and pauses too; A resumes and its Linear backward writes dW into the engine's gradient buffer:
    with a process-wide engine that buffer would be B's."""
    a_paused, b_paused, a_done = threading.Event(), threading.Event(), threading.Event()

    def loss_and_params(seed):
        lin = nn.Linear(3, 2, dtype=np.float64)
        rng = np.random.default_rng(seed)
        for p in lin.parameters():
            p.data[...] = rng.standard_normal(p.shape)
        h = lin(mg.tensor(rng.standard_normal((4, 3)), dtype=np.float64))
        return h, (h * h).sum(), lin

    def reference(seed):
        _, loss, lin = loss_and_params(seed)
        loss.backward()
        return [p.grad for p in lin.parameters()]

    def thread_a():
        h, loss, lin = loss_and_params(1)
        h.register_hook(lambda g: (a_paused.set(), b_paused.wait(WAIT))[0])
        loss.backward()
        a_done.set()
        return [p.grad for p in lin.parameters()]

    def thread_b():
        assert a_paused.wait(WAIT)
        h, loss, lin = loss_and_params(2)
        h.register_hook(lambda g: (b_paused.set(), a_done.wait(WAIT))[0])
        loss.backward()
        return [p.grad for p in lin.parameters()]

    got_a, got_b = run_threads([thread_a, thread_b])
    assert_same_bits(got_a, reference(1))
    assert_same_bits(got_b, reference(2))


def test_one_no_grad_object_shared_by_threads_and_nested():
    ctx = mg.no_grad()
    both = threading.Barrier(2)

    def body():
        with ctx:
            with ctx:                            # re-entered while active in two threads at once
                both.wait(WAIT)
            inner_exit = mg.is_grad_enabled()    # the inner exit restores the outer no_grad
            both.wait(WAIT)
        return inner_exit, mg.is_grad_enabled()

    assert run_threads([body, body]) == [(False, True), (False, True)]
    assert mg.is_grad_enabled()


def test_concurrent_backward_passes_into_shared_parameters_lose_nothing(fast_switching):
    """Four threads, four graphs, one shared leaf (one model, two batches), as PyTorch supports:
    every gradient arrives. NumPy releases the GIL inside `+=` on large arrays, so without the
    engine's accumulation lock updates were lost."""
    n, steps = 1 << 18, 60
    w = mg.tensor(np.zeros(n), requires_grad=True, dtype=np.float64)
    scales = [1.0, 2.0, 3.0, 4.0]
    start = threading.Barrier(len(scales))

    def body(scale):
        x = np.full(n, scale)
        start.wait(WAIT)
        for _ in range(steps):
            (w * x).sum().backward()

    run_threads([lambda s=s: body(s) for s in scales])
    assert np.array_equal(w.grad, np.full(n, sum(scales) * steps))
