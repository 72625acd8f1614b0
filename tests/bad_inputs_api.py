"""Bad-input cases for the PyTorch-named surface (issue 14): factories, in-place ops, shape methods,
nn.init, packed sequences, the data loader, LBFGS, the lr schedulers, Module helpers and save/load
with file objects -- plus sizes that no array can have. Run by test_bad_inputs.py (same prelude:
``T``, ``P``, ``path``...), judged the same way.
"""
from _cases import CKPT, IE, RE, TE, VE, C

HUGE = "1000000000000000000000000000000"          # 10**30 as printed

TENSOR_API = [
    C("tensor-index-str", "T(3)['a']", IE, "'a'"),
    C("tensor-clip-hi-str", "T(2).clip(0.0, 'b')", TE, "'b'"),
    C("tensor-clamp-array-str", "mg.clamp(T(2), np.array(['a', 'b']))", TE, "<U1"),
    C("tensor-clamp-inplace-str", "T(2).clamp_(min='a')", TE, "'a'"),
    C("tensor-add-none-grad", "mg.tensor([1.0, 2.0], requires_grad=True) + None", TE, "None"),
    C("tensor-sum-keepdim-str", "T(2, 3).sum(keepdim='yes')", TE, "'yes'"),
    C("tensor-requires-grad-inplace-str", "T(2).requires_grad_('yes')", TE, "'yes'"),
    C("tensor-requires-grad-attr-str", "x = T(2); x.requires_grad = 'yes'", TE, "'yes'"),
    C("tensor-requires-grad-attr-int", "x = mg.tensor([1, 2]); x.requires_grad = True", TE, "int64"),
    C("tensor-requires-grad-attr-nonleaf", "y = T(2, rg=True) * 2; y.requires_grad = False", RE, "detach"),
    C("tensor-copy-complex", "T(2).copy_(np.ones(2, complex))", TE, "complex"),
    C("tensor-fill-object", "T(2).fill_(np.array(None, dtype=object))", TE, "None"),
    C("tensor-view-negative", "T(6).view(-2, 3)", VE, "-2"),
    C("tensor-expand-huge", "T(1, 3).expand(10**30, 3)", VE, HUGE),
    C("tensor-narrow-float-start", "T(5).narrow(0, 1.5, 1)", TE, "1.5"),
    C("tensor-narrow-str-length", "T(5).narrow(0, 0, 'a')", TE, "'a'"),
    C("tensor-split-float", "T(2, 3).split(1.5)", TE, "1.5"),
    C("tensor-transpose-str", "T(2, 3).transpose(0, 'a')", TE, "'a'"),
    C("tensor-chunk-zero", "T(5).chunk(0)", VE, "got 0"),
    C("tensor-masked-fill-int-mask", "T(3).masked_fill(np.array([1, 0, 1]), 0.0)", TE, "int64"),
    C("tensor-to-float16", "T(3).to(dtype=np.float16)", TE, "float16"),
    C("tensor-type-bogus", "T(3).type('banana')", TE, "'banana'"),
    C("tensor-uniform-generator", "T(2).uniform_(generator='x')", TE, "'x'"),
]

CREATION = [
    C("zeros-huge", "mg.zeros(10**30)", VE, HUGE),
    C("zeros-huge-product", "mg.zeros(2**40, 2**40)", VE, "(1099511627776, 1099511627776)"),
    C("empty-huge", "mg.empty(10**30)", VE, HUGE),
    C("linspace-huge", "mg.linspace(0, 1, 10**30)", VE, HUGE),
    # possible in principle, not in this address space: NumPy's MemoryError names the shape
    C("zeros-too-large", "mg.zeros(2**20, 2**20)", MemoryError, "(1048576, 1048576)"),
    C("rand-generator-int", "mg.rand(2, generator=3)", TE, "int 3"),
    C("randint-high-huge", "mg.randint(0, 10**30, size=(2,))", VE, HUGE),
    C("randn-negative", "mg.randn(-2)", VE, "-2"),
    C("full-str", "mg.full((2,), 'a')", TE, "'a'"),
    C("full-tensor-value", "mg.full((2,), T(2))", VE, "full", "(2,)"),
    C("from-numpy-list", "mg.from_numpy([1, 2])", TE, "list"),
]

MODULE_API = [
    C("load-state-int-keys", "nn.Linear(3, 2).load_state_dict({1: 2})", TE, "int 1"),
    C("load-state-string-value", "m = nn.Linear(3, 2); m.load_state_dict(dict(m.state_dict(), weight='ab'))",
      TE, "'weight'", "<U2"),
    C("load-state-strict-str", "m = nn.Linear(3, 2); m.load_state_dict(m.state_dict(), strict='no')", TE, "'no'"),
    C("linear-huge-product", "nn.Linear(2**62, 2**62)", VE, "(4611686018427387904, 4611686018427387904)"),
    C("embedding-huge-product", "nn.Embedding(2**40, 2**20)", VE, "(1099511627776, 1048576)"),
    C("linear-too-large", "nn.Linear(2**20, 2**20)", MemoryError, "(1048576, 1048576)"),
    C("linear-input-none", "nn.Linear(3, 2)(None)", TE, "None"),
    C("module-to-banana", "nn.Linear(3, 2).to('banana')", RE, "'banana'"),
    C("module-to-int-dtype", "nn.Linear(3, 2).to(np.int32)", TE, "int32"),
    C("module-apply-not-callable", "nn.Linear(3, 2).apply(3)", TE, "int 3"),
    C("modulelist-extend-int", "nn.ModuleList([nn.Linear(2, 2)]).extend(3)", TE, "extend", "int 3"),
    C("moduledict-update-int", "nn.ModuleDict({'a': nn.Linear(2, 2)}).update(3)", TE, "update", "int 3"),
    C("parameterlist-extend-none", "nn.ParameterList([P(2)]).extend(None)", TE, "extend", "None"),
    C("register-buffer-persistent-str", "nn.Linear(2, 2).register_buffer('w', T(2), persistent='yes')",
      TE, "'yes'"),
    C("draw-tape-path-int", "mg.draw_tape((T(2, rg=True) * 2).sum(), path=3)", TE, "draw_tape", "int 3"),
    C("init-uniform-int", "nn.init.uniform_(mg.tensor([1, 2]))", TE, "int64"),
    C("init-xavier-1d", "nn.init.xavier_uniform_(T(3))", VE, "(3,)"),
    C("init-orthogonal-generator", "nn.init.orthogonal_(T(2, 3), generator=3)", TE, "int 3"),
    C("init-gain-str", "nn.init.calculate_gain('banana')", VE, "'banana'"),
]

SCHEDULERS = [
    C("lambdalr-returns-str", "lr_scheduler.LambdaLR(optim.SGD([P(3)], lr=0.1), lambda e: 'x')", TE, "'x'"),
    C("lambdalr-returns-nan", "lr_scheduler.LambdaLR(optim.SGD([P(3)], lr=0.1), lambda e: float('nan'))",
      VE, "nan"),
    C("scheduler-load-list", "lr_scheduler.StepLR(optim.SGD([P(3)], lr=0.1), 2).load_state_dict([1])", TE, "list"),
    C("scheduler-load-epoch-str", "lr_scheduler.StepLR(optim.SGD([P(3)], lr=0.1), 2).load_state_dict("
      "{'last_epoch': 'x'})", TE, "'x'"),
    C("scheduler-load-base-lrs", "lr_scheduler.StepLR(optim.SGD([P(3)], lr=0.1), 2).load_state_dict("
      "{'base_lrs': 3})", TE, "base_lrs", "int 3"),
    C("scheduler-last-epoch-str", "lr_scheduler.StepLR(optim.SGD([P(3)], lr=0.1), 2, last_epoch='x')", TE, "'x'"),
    C("cosine-eta-min-str", "lr_scheduler.CosineAnnealingLR(optim.SGD([P(3)], lr=0.1), 10, eta_min='x')",
      TE, "'x'"),
    C("onecycle-cycle-momentum-str", "lr_scheduler.OneCycleLR(optim.SGD([P(3)], lr=0.1), max_lr=1.0, "
      "total_steps=10, cycle_momentum='yes')", TE, "'yes'"),
    C("plateau-step-epoch-str", "lr_scheduler.ReduceLROnPlateau(optim.SGD([P(3)], lr=0.1)).step(1.0, epoch='x')",
      TE, "'x'"),
    C("lbfgs-load-list", "optim.LBFGS([P(3)]).load_state_dict([1])", TE, "list"),
    C("optim-load-missing-groups", "optim.SGD([P(3)], lr=0.1).load_state_dict({'state': {}})", VE,
      "param_groups", "'state'"),
    C("clip-norm-error-flag-str", "clip_grad_norm_([with_grad(3)], 1.0, error_if_nonfinite='yes')", TE, "'yes'"),
    C("clip-norm-ndarray-param", "clip_grad_norm_([np.ones(3)], 1.0)", TE, "element 0", "ndarray"),
    C("function-no-forward", "class G(mg.Function):\n    pass\nG.apply(T(2))", NotImplementedError, "G", "forward"),
    C("lbfgs-closure-none", "optim.LBFGS([P(3)]).step(lambda: None)", TE, "NoneType"),
    C("lbfgs-history-zero", "optim.LBFGS([P(3)], history_size=0)", VE, "0"),
]

SEQUENCES_AND_DATA = [
    C("pack-batch-first-str", "nn.utils.rnn.pack_padded_sequence(T(5, 2, 3), [5, 5], batch_first='yes')",
      TE, "'yes'"),
    C("pack-enforce-sorted-str", "nn.utils.rnn.pack_padded_sequence(T(5, 2, 3), [5, 5], enforce_sorted='no')",
      TE, "'no'"),
    C("pack-lengths-float", "nn.utils.rnn.pack_padded_sequence(T(5, 2, 3), [5, 1.5])", TE, "float64"),
    C("pad-packed-value-str", "R = nn.utils.rnn; R.pad_packed_sequence(R.pack_padded_sequence(T(5, 2, 3), [5, 5]), "
      "padding_value='a')", TE, "'a'"),
    C("pad-sequence-value-str", "nn.utils.rnn.pad_sequence([T(2), T(3)], padding_value='a')", TE, "'a'"),
    C("pad-sequences-value-str", "D.pad_batch([np.ones(2), np.ones(3)], padding_value=None)", TE, "None"),
    C("dataloader-shuffle-str", "from minigrad.utils.data import DataLoader; DataLoader([1, 2], shuffle='yes')",
      TE, "'yes'"),
    C("sampler-replacement-str", "from minigrad.utils.data import RandomSampler; "
      "RandomSampler([1, 2], replacement='yes')", TE, "'yes'"),
    C("collate-dict-keys", "from minigrad.utils.data import DataLoader; "
      "list(DataLoader([{'a': 1}, {'b': 2}], batch_size=2))", VE, "'a'", "'b'"),
    C("dropout-training-str", "F.dropout(T(3), training='yes')", TE, "'yes'"),
    C("minibatches-shuffle-str", "list(D.minibatches(10, 2, shuffle='yes'))", TE, "'yes'"),
    C("load-idx-none", "datasets.load_idx(None)", TE, "load_idx", "None"),
    C("load-mnist-int", "datasets.load_mnist(3)", TE, "load_mnist", "int 3"),
    C("dataloader-batch-size-str", "from minigrad.utils.data import DataLoader; DataLoader([1, 2], batch_size='2')",
      VE, "'2'"),
]

FILE_OBJECTS = [
    C("save-write-only-stream-error", """
class W:
    def write(self, b):
        raise OSError('disk full')
mg.save({'a': 1}, W())""", OSError, "disk full"),
    C("save-write-only-stream", """
class W:
    def __init__(self):
        self.parts = []
    def write(self, b):
        self.parts.append(bytes(b))
w = W(); mg.save({'a': 1}, w)
OK = mg.load(io.BytesIO(b''.join(w.parts))) == {'a': 1}""", "<no exception>"),
    C("load-reader-returns-str", """
class R:
    def read(self, n=-1):
        return 'text'
mg.load(R())""", TE, "str"),
    C("load-at-end-of-stream", "f = io.BytesIO(); mg.save({'a': 1}, f); mg.load(f)", CKPT, "offset", "seek(0)"),
    C("save-bytes-path", "mg.save({'a': 1}, path('b.ckpt').encode()); OK = mg.load(path('b.ckpt').encode()) == {'a': 1}",
      "<no exception>"),
    C("load-idx-fifo-name", "p = path('i2.fifo'); os.mkfifo(p); datasets.load_idx(p)", ("IDXError",), "i2.fifo", "FIFO"),
]

API_CASES = TENSOR_API + CREATION + MODULE_API + SCHEDULERS + SEQUENCES_AND_DATA + FILE_OBJECTS
