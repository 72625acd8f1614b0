"""The binding: the one package that talks to the C core ``minigrad._C`` through cffi.

Everything above this package (tensors, ops, layers) hands NumPy arrays to the functions here.
This package owns every check the C code relies on -- dtype, ndim, shapes, C-contiguity -- and
raises a clear ``TypeError``/``ValueError`` before any C code runs, so a bad call can never
crash the interpreter. Arrays are passed to C without copying (``ffi.from_buffer``) when they are
already C-contiguous float32/float64; anything else (a transposed view, a slice with steps) is
copied to a contiguous array first and still gives the right answer.

Naming: ``X`` is a Python-facing function; the C symbol is ``mg_<op>_<forward|backward>_<f32|f64>``.

Files: common.py (``ffi``/``lib``, the checks, threads, malloc tuning), dense.py (GEMM,
activations, the fused Adam update), cells.py (recurrent cells: steps, step plans, sequences).
"""
from .common import (as_float_array, cfunc, check_out, cpu_has_avx2_fma, ffi, get_num_threads,
                     has_openmp, lib, ptr, set_num_threads, set_simd, tune_malloc)
from .dense import (adam_update, exp_backward, exp_forward, exp_reference, gemm, gemm_batched,
                    sigmoid_backward, sigmoid_forward, sigmoid_reference, tanh_backward,
                    tanh_forward, tanh_reference)
from .cells import (StepPlan, gru_seq_backward, gru_seq_forward, gru_step_backward,
                    gru_step_forward, lstm_seq_backward, lstm_seq_forward, lstm_step_backward,
                    lstm_step_forward, rnn_seq_backward, rnn_seq_forward, rnn_step_backward,
                    rnn_step_forward)

__all__ = ["StepPlan", "adam_update", "as_float_array", "cfunc", "check_out", "cpu_has_avx2_fma",
           "exp_backward", "exp_forward", "exp_reference", "ffi", "gemm", "gemm_batched",
           "get_num_threads", "gru_seq_backward", "gru_seq_forward", "gru_step_backward",
           "gru_step_forward", "has_openmp", "lib", "lstm_seq_backward", "lstm_seq_forward",
           "lstm_step_backward", "lstm_step_forward", "ptr", "rnn_seq_backward", "rnn_seq_forward",
           "rnn_step_backward", "rnn_step_forward", "set_num_threads", "set_simd",
           "sigmoid_backward", "sigmoid_forward", "sigmoid_reference", "tanh_backward",
           "tanh_forward", "tanh_reference", "tune_malloc"]
