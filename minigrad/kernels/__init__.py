"""The binding: the one package that talks to the C core ``minigrad._C`` through cffi.

Everything above this package (tensors, ops, layers) hands NumPy arrays to the functions here.
This package owns every check the C code relies on -- dtype, ndim, shapes, C-contiguity, output
buffers that are writeable and overlap nothing they must not -- and raises a clear
``TypeError``/``ValueError`` naming the argument, its shape and dtype before any C code runs, so
a bad call can never crash the interpreter or return garbage. All checks run on the caller's
arrays before any copy or allocation (a wrong shape on a 16 GiB broadcast view is reported, not
copied first). Arrays are then passed to C without copying (``ffi.from_buffer``) when they are
already C-contiguous float32/float64; anything else (a transposed view, a slice with steps) is
copied to a contiguous array and still gives the right answer. Output aliasing: no output may
share memory with another output or with an input, except the exact in-place use a kernel
documents (the elementwise forward activations: ``out`` may be ``x`` itself).

Naming: ``X`` is a Python-facing function; the C symbol is ``mg_<op>_<forward|backward>_<f32|f64>``.

Files: common.py (``ffi``/``lib``, the checks, threads, malloc tuning), dense.py (GEMM,
activations), optim.py (the fused Adam update, per parameter and per parameter group),
cells.py (recurrent cells: steps, step plans, the shared checks), sequences.py (the
whole-sequence drivers), crf.py (the linear-chain CRF: forward algorithm, marginals, Viterbi;
imported as kernels.crf), softmax.py (row-wise softmax, log_softmax and cross-entropy).
"""
from .common import (cfunc, check_arrays, check_flag, check_float_array,
                     check_int, check_no_overlap, check_out, check_real, contiguous,
                     cpu_has_avx2_fma, ffi, get_num_threads, has_openmp, lib, max_num_threads, ptr,
                     set_num_threads, set_simd, tune_malloc)
from .optim import AdamGroup, adam_update
from .dense import (exp_backward, exp_forward, exp_reference, gemm, gemm_batched,
                    sigmoid_backward, sigmoid_forward, sigmoid_reference, tanh_backward,
                    tanh_forward, tanh_reference)
from .cells import (StepPlan, gru_step_backward, gru_step_forward, lstm_step_backward,
                    lstm_step_forward, rnn_step_backward, rnn_step_forward)
from .sequences import (gru_seq_backward, gru_seq_forward, lstm_seq_backward, lstm_seq_forward,
                        rnn_seq_backward, rnn_seq_forward)
from .softmax import (cross_entropy_backward, cross_entropy_forward, log_softmax_backward,
                      log_softmax_forward, log_softmax_reference, softmax_backward,
                      softmax_forward, softmax_reference)

__all__ = ["AdamGroup", "StepPlan", "adam_update", "cfunc", "check_arrays", "check_flag",
           "check_float_array", "check_int", "check_no_overlap", "check_out", "check_real",
           "contiguous", "cpu_has_avx2_fma", "cross_entropy_backward", "cross_entropy_forward",
           "exp_backward", "exp_forward", "exp_reference", "ffi", "gemm", "gemm_batched",
           "get_num_threads", "gru_seq_backward", "gru_seq_forward", "gru_step_backward",
           "gru_step_forward", "has_openmp", "lib", "log_softmax_backward", "log_softmax_forward",
           "log_softmax_reference", "lstm_seq_backward", "lstm_seq_forward",
           "lstm_step_backward", "lstm_step_forward", "max_num_threads", "ptr", "rnn_seq_backward", "rnn_seq_forward",
           "rnn_step_backward", "rnn_step_forward", "set_num_threads", "set_simd",
           "sigmoid_backward", "sigmoid_forward", "sigmoid_reference", "softmax_backward",
           "softmax_forward", "softmax_reference", "tanh_backward",
           "tanh_forward", "tanh_reference", "tune_malloc"]
