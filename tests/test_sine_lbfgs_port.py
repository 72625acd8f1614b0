"""A small port of the 'time sequence prediction' pattern (two stacked LSTMCells and a Linear head
in float64, trained with LBFGS and MSELoss on sine waves): minigrad's loss curve equals PyTorch's
from the same initial weights, closure call by closure call."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import optim

H, B, T, STEPS = 5, 3, 10, 3


def sine_data():
    rng = np.random.default_rng(5)
    t = np.arange(T + 1)[None, :] + rng.integers(-20, 20, (B, 1))
    return np.sin(t / 4.0)                                    # (B, T+1)


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, H, dtype=np.float64)
        self.lstm2 = nn.LSTMCell(H, H, dtype=np.float64)
        self.linear = nn.Linear(H, 1, dtype=np.float64)

    def forward(self, x, future=0):
        zeros = mg.tensor(np.zeros((x.shape[0], H)), dtype=np.float64)
        s1, s2, outs = (zeros, zeros), (zeros, zeros), []
        for x_t in mg.split(x, 1, axis=1):                       # (B, 1) per step
            s1 = self.lstm1(x_t, s1)
            s2 = self.lstm2(s1[0], s2)
            outs.append(self.linear(s2[0]))
        for _ in range(future):                                # feed predictions back
            s1 = self.lstm1(outs[-1], s1)
            s2 = self.lstm2(s1[0], s2)
            outs.append(self.linear(s2[0]))
        return mg.concat(outs, axis=1)


def test_lbfgs_sine_curve_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TSeq(tnn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1, self.lstm2, self.linear = tnn.LSTMCell(1, H), tnn.LSTMCell(H, H), tnn.Linear(H, 1)

        def forward(self, x):
            z = torch.zeros(x.size(0), H, dtype=torch.double)
            s1, s2, outs = (z, z), (z, z), []
            for x_t in x.split(1, dim=1):
                s1 = self.lstm1(x_t, s1)
                s2 = self.lstm2(s1[0], s2)
                outs.append(self.linear(s2[0]))
            return torch.cat(outs, dim=1)

    torch.manual_seed(0)
    tmodel = TSeq().double()
    model = Seq()
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    data = sine_data()
    x, y = data[:, :-1], data[:, 1:]
    tx, ty = torch.tensor(x), torch.tensor(y)
    mx = mg.tensor(x, dtype=np.float64)
    topt = torch.optim.LBFGS(tmodel.parameters(), lr=0.8)
    opt = optim.LBFGS(model.parameters(), lr=0.8)
    crit, tcrit = nn.MSELoss(), tnn.MSELoss()
    ours, theirs = [], []

    def tclosure():
        topt.zero_grad()
        loss = tcrit(tmodel(tx), ty)
        loss.backward()
        theirs.append(loss.item())
        return loss

    def closure():
        opt.zero_grad()
        loss = crit(model(mx), y)
        loss.backward()
        ours.append(loss.item())
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # tiny matrices: OpenMP threads only spin on a busy machine
    try:
        for _ in range(STEPS):
            topt.step(tclosure)
            opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    assert len(ours) == len(theirs)
    # Every closure call agrees to ~1e-10 here; the only differences are the order of summation
    # in dot products and GEMMs (~1e-16 relative each), amplified along the optimisation path.
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * theirs[0])
    assert ours[-1] < 0.2 * ours[0]                            # it actually learns
    assert model(mx, future=4).shape == (B, T + 4)
