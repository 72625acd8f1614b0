/* runtime.c - thread count and run-time CPU feature checks (see runtime.h). */
#include "runtime.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif

static int mg_omp_default_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int g_num_threads = 0; /* 0: not set yet, use the OpenMP default (all cores) */
static int g_simd = 1;

int mg_max_threads(void) {
#ifdef _OPENMP
    /* Computed once: omp_get_num_procs() asks the kernel for the affinity mask at every call,
     * and mg_threads_for runs at every kernel call. (A benign race: every thread stores the
     * same value.) */
    static int cached = 0;
    if (cached == 0) {
        int procs = omp_get_num_procs(), limit = omp_get_thread_limit();
        if (procs < 1) procs = 1;
        if (limit < 1) limit = 1;
        const long cap = (long)MG_THREADS_PER_PROC * procs; /* long: no int overflow */
        cached = cap < limit ? (int)cap : limit;
    }
    return cached;
#else
    return 1;
#endif
}

static int clamp_threads(int n) {
    const int hi = mg_max_threads();
    return n < 1 ? 1 : (n > hi ? hi : n);
}

void mg_set_num_threads(int n) {
    g_num_threads = clamp_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(g_num_threads);
#endif
}

int mg_get_num_threads(void) {
    /* Unset: OpenMP's default (OMP_NUM_THREADS, else all cores), bounded by the same rule. */
    return g_num_threads ? g_num_threads : clamp_threads(mg_omp_default_threads());
}

int mg_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int mg_threads_for(double work, double threshold) {
    int n = mg_get_num_threads();
    return (work < threshold) ? 1 : n;
}

int mg_cpu_has_avx2_fma(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached && g_simd;
#else
    return 0;
#endif
}

void mg_set_simd(int enabled) { g_simd = enabled ? 1 : 0; }
int mg_get_simd(void) { return g_simd; }

int mg_tune_malloc(long mmap_threshold, long trim_threshold) {
#ifdef __GLIBC__
    /* Setting either value also switches off glibc's dynamic threshold adjustment, so the two
     * are set together: buffers up to mmap_threshold come from the heap, and free memory at
     * the top of the heap is returned to the kernel only beyond trim_threshold. */
    int ok = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    ok = mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) && ok;
    return ok ? 1 : 0;
#else
    (void)mmap_threshold;
    (void)trim_threshold;
    return 0;
#endif
}
