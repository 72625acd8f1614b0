/* runtime.h - thread control and CPU feature detection for the minigrad C core.
 *
 * Threads: every parallel loop in csrc/ runs over an outer dimension that owns what it writes
 * and never splits a reduction, so results are bitwise identical for any thread count.
 * Without OpenMP the library is single-threaded and mg_set_num_threads is a no-op.
 *
 * Thread cap: a team of 100000 threads makes libgomp crash (SIGSEGV when thread creation fails)
 * or exit the process (it allocates its team bookkeeping up front: "Out of memory allocating
 * ..."). So the count in force is always clamped to [1, mg_max_threads()], where
 * mg_max_threads() = min(omp_get_thread_limit(), MG_THREADS_PER_PROC * omp_get_num_procs()):
 * the OpenMP thread limit (OMP_THREAD_LIMIT) and a small multiple of the processors this
 * process may run on. Oversubscription never speeds up these compute-bound loops; the margin
 * only lets a 1-core machine still run (and test) a 2-thread team. The clamp also applies to
 * the default taken from OMP_NUM_THREADS, and mg_get_num_threads reports the clamped count.
 *
 * Memory: mg_tune_malloc raises glibc's mmap and trim thresholds. A training step allocates and
 * frees the same few-megabyte buffers every step; with glibc's small default thresholds (which
 * its dynamic heuristic raises in some processes and not in others) every step returns them to
 * the kernel and faults them back in, page by page.
 *
 * CPU features: kernels with AVX2/FMA code paths (compiled through function target attributes,
 * so the binary stays portable) call mg_cpu_has_avx2_fma() once and fall back to generic C.
 */
#ifndef MG_RUNTIME_H
#define MG_RUNTIME_H
#include <stdint.h>

#define MG_THREADS_PER_PROC 4

// cdef-begin
/* Threads used by the parallel loops: n clamped to [1, mg_max_threads()] (see above). */
void mg_set_num_threads(int n);
int mg_get_num_threads(void);
/* The most threads the C core will use: min(OpenMP thread limit, 4 x processors); 1 without
 * OpenMP. */
int mg_max_threads(void);
int mg_has_openmp(void);
int mg_cpu_has_avx2_fma(void);
/* 1 = use the fastest available code paths (default), 0 = force the generic C paths (tests). */
void mg_set_simd(int enabled);
int mg_get_simd(void);
/* glibc only: mallopt(M_MMAP_THRESHOLD, mmap_threshold) and mallopt(M_TRIM_THRESHOLD,
 * trim_threshold). Returns 1 if both were applied, 0 otherwise (other C libraries: no-op). */
int mg_tune_malloc(long mmap_threshold, long trim_threshold);
// cdef-end

/* Number of threads for a loop of `work` units (e.g. flops or elements): 1 below `threshold`
 * so tiny calls never pay the cost of waking a thread team. */
int mg_threads_for(double work, double threshold);

#endif
