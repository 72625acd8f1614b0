"""Optimizers updating parameter arrays in place, with PyTorch's update rules and API.

    opt = Adam(model.parameters(), lr=1e-3)
    for batch in data:
        opt.zero_grad()
        loss = model(batch); loss.backward()
        opt.step()

Each optimizer lives in its own small module; ``Optimizer`` is the shared base class.
"""
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS", "lr_scheduler"]
