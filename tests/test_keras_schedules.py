"""minigrad.keras learning-rate schedules and LearningRateScheduler.

Each schedule is checked against Keras 3's (when installed) and against its formula written out
here (always) at steps that cross its corners (0, the decay end, past it, boundaries). Then the
schedule inside an optimizer: the rate of each update is the schedule at ``iterations`` (checked
by the update SGD makes), the config round-trips through ``save`` / ``load_model``, bad values
fail by name, and ``LearningRateScheduler`` drives a real ``fit``.
"""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import keras
from minigrad.keras import callbacks, layers
from minigrad.keras.optimizers import schedules

from _keras_ref import REFERENCES, need_keras

STEPS = [0, 1, 2, 7, 10, 11, 25, 99, 100, 101, 250]

CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
     lambda s: 0.1 * 0.5 ** (s / 10)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=True),
     lambda s: 0.1 * 0.5 ** math.floor(s / 10)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=7, decay_rate=0.3),
     lambda s: 0.2 / (1 + 0.3 * s / 7)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=7, decay_rate=0.3, staircase=True),
     lambda s: 0.2 / (1 + 0.3 * math.floor(s / 7))),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=100, end_learning_rate=0.01, power=2.0),
     lambda s: (0.1 - 0.01) * (1 - min(s, 100) / 100) ** 2 + 0.01),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=100, end_learning_rate=0.01, cycle=True),
     lambda s: (0.1 - 0.01) * (1 - s / (100 * max(1, math.ceil(s / 100)))) + 0.01),
    ("CosineDecay", dict(initial_learning_rate=0.003, decay_steps=100),
     lambda s: 0.003 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100))),
    ("CosineDecay", dict(initial_learning_rate=0.003, decay_steps=100, alpha=0.1),
     lambda s: 0.003 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100)) + 0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=100, warmup_target=0.01, warmup_steps=10),
     lambda s: 0.01 * s / 10 if s < 10 else
     0.01 * 0.5 * (1 + math.cos(math.pi * (min(s, 110) - 10) / 100))),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 100], values=[1.0, 0.5, 0.1]),
     lambda s: 1.0 if s <= 10 else 0.5 if s <= 100 else 0.1),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("ref", REFERENCES)
@pytest.mark.parametrize("name,kwargs,formula", CASES, ids=IDS)
def test_schedule_values(ref, name, kwargs, formula):
    ours = getattr(schedules, name)(**kwargs)
    got = np.array([ours(s) for s in STEPS])
    if ref == "keras":
        theirs = getattr(need_keras().optimizers.schedules, name)(**kwargs)
        want = np.array([float(theirs(s)) for s in STEPS])
        tol = 2e-6                      # Keras computes in float32 (1 + cos(x) near pi cancels)
    else:
        want = np.array([formula(s) for s in STEPS])
        tol = 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("name,kwargs,formula", CASES, ids=IDS)
def test_schedule_config_round_trip(name, kwargs, formula):
    ours = getattr(schedules, name)(**kwargs)
    again = schedules.deserialize(schedules.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert all(type(ours.get_config()[k]) is type(v) for k, v in kwargs.items())     # ints stay ints
    assert [again(s) for s in STEPS] == [ours(s) for s in STEPS]


@pytest.mark.parametrize("make,message", [
    (lambda: schedules.CosineDecay(0.1, decay_steps=0), "decay_steps"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=-5, decay_rate=0.5), "decay_steps"),
    (lambda: schedules.ExponentialDecay(float("nan"), 10, 0.5), "initial_learning_rate"),
    (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), "length of boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), "increase"),
    (lambda: schedules.PiecewiseConstantDecay([10, float("nan")], [1.0, 0.5, 0.1]), "boundaries"),
    (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), "Unknown learning rate schedule"),
])
def test_schedule_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_argument_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"PolynomialDecay: initial_learning_rate must be a number, got '0.1'"):
        schedules.PolynomialDecay("0.1", 10)
    with pytest.raises(TypeError, match=r"PiecewiseConstantDecay: boundaries must be a number, got 'a'"):
        schedules.PiecewiseConstantDecay([10, "a"], [1.0, 0.5, 0.1])


def _sgd_model(lr):
    mg.manual_seed(0)
    model = keras.Sequential([layers.Input((3,)), layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


def test_each_update_uses_the_schedule_at_iterations():
    """Plain SGD moves w by lr_t * g: the applied rate, recovered per step, is the schedule at t."""
    sched = schedules.PiecewiseConstantDecay([2, 4], [0.1, 0.01, 0.001])
    model = _sgd_model(sched)
    x = np.ones((1, 3), np.float32)
    y = np.full((1, 1), 5.0, np.float32)
    applied = []
    for t in range(7):
        assert model.optimizer.iterations == t and model.optimizer.learning_rate == sched(t)
        w = model.get_weights()[0].astype(np.float64)
        grad = 2 * (x @ w - y) * x.T                   # d mse / d w, batch of one
        model.train_on_batch(x, y)
        step = w - model.get_weights()[0]
        applied.append(float(step[0, 0] / grad[0, 0]))
    np.testing.assert_allclose(applied, [sched(t) for t in range(7)], rtol=2e-3)   # float32 weights


def test_a_scheduled_rate_is_not_settable_but_a_schedule_is():
    opt = keras.optimizers.Adam(schedules.ExponentialDecay(0.01, 10, 0.5))
    assert opt.learning_rate == 0.01
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5
    opt.learning_rate = schedules.CosineDecay(0.2, 10)
    assert opt.learning_rate == pytest.approx(0.2)
    plain = keras.optimizers.SGD(0.1)
    plain.learning_rate = schedules.CosineDecay(0.3, 10)      # a number can be swapped for a schedule
    assert plain.learning_rate == pytest.approx(0.3)


class _Bad(schedules.LearningRateSchedule):
    """Fine at step 0, NaN after; no get_config (the error message must not need one)."""

    def __call__(self, step):
        return float("nan") if step >= 1 else 0.1


def test_a_schedule_returning_garbage_fails_by_name():
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        keras.optimizers.Adam(lambda: 0.1)
    model = _sgd_model(_Bad())
    x, y = np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)
    model.train_on_batch(x, y)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"_Bad.*returned nan at step 1"):
        model.train_on_batch(x, y)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])     # nothing applied


def test_optimizer_with_schedule_saves_and_loads(tmp_path):
    sched = schedules.CosineDecay(0.05, decay_steps=20, alpha=0.1)
    model = _sgd_model(sched)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    again = loaded.optimizer.get_config()["learning_rate"]
    assert again == schedules.serialize(sched)
    assert loaded.optimizer.learning_rate == pytest.approx(sched(0))


def test_learning_rate_scheduler_sets_each_epoch_and_logs_it():
    model = _sgd_model(0.1)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = x[:, :1].copy()
    seen = []
    two_args = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    spy = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs=None: seen.append(model.optimizer.learning_rate))
    hist = model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[two_args, spy])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.025])
    np.testing.assert_allclose(hist.history["learning_rate"], [0.1, 0.05, 0.025])
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[one_arg])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e: 1)])
    with pytest.raises(TypeError, match="must be a function"):
        callbacks.LearningRateScheduler(0.1)


class HalfEvery(schedules.LearningRateSchedule):
    """A schedule of the user's own, saved by its config and found again through custom_objects."""

    def __init__(self, lr, every):
        self.lr, self.every = lr, every

    def __call__(self, step):
        return self.lr * 0.5 ** (step // self.every)

    def get_config(self):
        return {"lr": self.lr, "every": self.every}


def test_a_custom_schedule_loads_through_custom_objects(tmp_path):
    model = _sgd_model(HalfEvery(0.4, 3))
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'HalfEvery'"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, custom_objects={"HalfEvery": HalfEvery})
    assert loaded.optimizer.learning_rate == 0.4
    assert loaded.optimizer.get_config()["learning_rate"]["config"] == {"lr": 0.4, "every": 3}
