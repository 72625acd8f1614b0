/* crf.h - linear-chain conditional random field: the negative log-likelihood (the forward
 * algorithm), its gradient (forward-backward marginals) and Viterbi decoding, batched over
 * sequences. Python side: minigrad/kernels/crf.py (checks) and minigrad/nn/crf.py (the module).
 *
 * Dimension legend: B sequences, T padded length, K tags, L = lengths[b] in [1, T] (B = 0 is
 * allowed and does nothing), C = chunk (sequences per workspace slot; see Threads).
 *   em     emissions, element (b, t, k) at em[b*sb + t*st + k]: (sb, st) = (T*K, K) for a
 *          batch-first (B, T, K) array, (K, B*K) for a time-first (T, B, K) one; dem likewise
 *   tags   (B, T) int64, C-contiguous; only tags[b, t < L] are read, each in [0, K)
 *   start (K), end (K), trans (K, K): trans[i*K + j] is the score of tag i followed by tag j
 *   alpha  (B, T, K) double: alpha_t(j) (rows t >= L are not written)
 *   logz, nll, score (B,) double;  best (B, T) int64 (-1 at t >= L);  bp (B, T, K) int32
 *   work   double workspace, 3*K*K + 2*K + ceil(B/C) * (K*K + 6*K) elements (the references
 *          of crf_ref.c need (T + 1) * K)
 *
 * Equations, for one sequence y_0 .. y_{L-1} with emissions E_t (K) (A = trans, s = start,
 * e = end):
 *   score(y)   = s[y_0] + E_0[y_0] + sum_{t=1}^{L-1} (A[y_{t-1}, y_t] + E_t[y_t]) + e[y_{L-1}]
 *   alpha_0(j) = s[j] + E_0[j]
 *   alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + A[i, j]) + E_t[j]            t = 1 .. L-1
 *   log Z      = logsumexp_j(alpha_{L-1}(j) + e[j]);      nll = log Z - score(y)
 * Backward (beta_t(i): log-sum of the scores of every suffix after tag i at step t):
 *   beta_{L-1}(i) = e[i];   beta_{t-1}(i) = logsumexp_j(A[i, j] + E_t[j] + beta_t(j))
 *   p_t(j)     = exp(alpha_t(j) + beta_t(j) - log Z)                  (tag marginals)
 *   xi_t(i, j) = exp(alpha_{t-1}(i) + A[i, j] + E_t[j] + beta_t(j) - log Z)   (pair marginals)
 *   d nll/d E_t[j] = p_t(j) - [y_t = j]     d nll/d A[i, j] = sum_t xi_t(i, j) - #{t: y_{t-1} = i, y_t = j}
 *   d nll/d s[j]   = p_0(j) - [y_0 = j]     d nll/d e[j]    = p_{L-1}(j) - [y_{L-1} = j]
 * each scaled by g[b] and summed over b; dem is 0 at t >= L.
 * Viterbi: delta_0(j) = s[j] + E_0[j], delta_t(j) = max_i(delta_{t-1}(i) + A[i, j]) + E_t[j],
 *   bp_t(j) = the argmax; best path read back from argmax_j(delta_{L-1}(j) + e[j]). Ties go to
 *   the smallest tag index, so decoding is stable.
 *
 * Fast path: logsumexp_i(a_i + A[i, j]) = m + Amax + log(sum_i exp(a_i - m) W[i, j]) with
 * m = max_i a_i and W = exp(A - Amax) computed once per call: K exps and K*K multiply-adds a step
 * instead of K*K exps. The sum is at least exp(-(max A - min A)), so it is exact to rounding
 * unless the transitions span hundreds of nats; a sum below 1e-250 (or a pair-marginal scale
 * above exp(600)) falls back to the exact max-shifted logsumexp for that column / step.
 * Everything is computed in double whatever the dtype of em. Inputs must be finite (checked in
 * Python). crf_ref.c keeps the naive exact log-space kernels (same signatures, no fast path),
 * for the tests.
 *
 * Threads: OpenMP over chunks of C consecutive sequences (the outermost independent loop). Each
 * sequence owns its rows of every per-sequence output; the per-chunk partial sums of d trans,
 * d start, d end live in the chunk's workspace slot and are added up afterwards in chunk order,
 * so the results are bitwise identical for any thread count (C is fixed by the caller).
 */
#ifndef MG_CRF_H
#define MG_CRF_H
#include <stdint.h>

// cdef-begin
void mg_crf_forward_f32(double *nll, double *logz, double *alpha, double *work, const float *em,
                        const int64_t *tags, const int64_t *lengths, const float *start,
                        const float *end, const float *trans, int64_t B, int64_t T, int64_t K,
                        int64_t sb, int64_t st, int64_t chunk);
void mg_crf_forward_f64(double *nll, double *logz, double *alpha, double *work, const double *em,
                        const int64_t *tags, const int64_t *lengths, const double *start,
                        const double *end, const double *trans, int64_t B, int64_t T, int64_t K,
                        int64_t sb, int64_t st, int64_t chunk);
/* g (B,): d loss / d nll_b. Writes dem (every element), dstart, dend, dtrans (overwritten). */
void mg_crf_backward_f32(float *dem, double *dstart, double *dend, double *dtrans, double *work,
                         const double *g, const double *alpha, const double *logz,
                         const float *em, const int64_t *tags, const int64_t *lengths,
                         const float *start, const float *end, const float *trans, int64_t B,
                         int64_t T, int64_t K, int64_t sb, int64_t st, int64_t chunk);
void mg_crf_backward_f64(double *dem, double *dstart, double *dend, double *dtrans, double *work,
                         const double *g, const double *alpha, const double *logz,
                         const double *em, const int64_t *tags, const int64_t *lengths,
                         const double *start, const double *end, const double *trans, int64_t B,
                         int64_t T, int64_t K, int64_t sb, int64_t st, int64_t chunk);
void mg_crf_viterbi_f32(int64_t *best, double *score, int32_t *bp, double *work, const float *em,
                        const int64_t *lengths, const float *start, const float *end,
                        const float *trans, int64_t B, int64_t T, int64_t K, int64_t sb,
                        int64_t st, int64_t chunk);
void mg_crf_viterbi_f64(int64_t *best, double *score, int32_t *bp, double *work, const double *em,
                        const int64_t *lengths, const double *start, const double *end,
                        const double *trans, int64_t B, int64_t T, int64_t K, int64_t sb,
                        int64_t st, int64_t chunk);

/* The naive references (crf_ref.c): one sequence after another, every logsumexp exact. */
void mg_crf_forward_ref_f32(double *nll, double *logz, double *alpha, double *work,
                            const float *em, const int64_t *tags, const int64_t *lengths,
                            const float *start, const float *end, const float *trans, int64_t B,
                            int64_t T, int64_t K, int64_t sb, int64_t st, int64_t chunk);
void mg_crf_forward_ref_f64(double *nll, double *logz, double *alpha, double *work,
                            const double *em, const int64_t *tags, const int64_t *lengths,
                            const double *start, const double *end, const double *trans,
                            int64_t B, int64_t T, int64_t K, int64_t sb, int64_t st,
                            int64_t chunk);
void mg_crf_backward_ref_f32(float *dem, double *dstart, double *dend, double *dtrans,
                             double *work, const double *g, const double *alpha,
                             const double *logz, const float *em, const int64_t *tags,
                             const int64_t *lengths, const float *start, const float *end,
                             const float *trans, int64_t B, int64_t T, int64_t K, int64_t sb,
                             int64_t st, int64_t chunk);
void mg_crf_backward_ref_f64(double *dem, double *dstart, double *dend, double *dtrans,
                             double *work, const double *g, const double *alpha,
                             const double *logz, const double *em, const int64_t *tags,
                             const int64_t *lengths, const double *start, const double *end,
                             const double *trans, int64_t B, int64_t T, int64_t K, int64_t sb,
                             int64_t st, int64_t chunk);
void mg_crf_viterbi_ref_f32(int64_t *best, double *score, int32_t *bp, double *work,
                            const float *em, const int64_t *lengths, const float *start,
                            const float *end, const float *trans, int64_t B, int64_t T,
                            int64_t K, int64_t sb, int64_t st, int64_t chunk);
void mg_crf_viterbi_ref_f64(int64_t *best, double *score, int32_t *bp, double *work,
                            const double *em, const int64_t *lengths, const double *start,
                            const double *end, const double *trans, int64_t B, int64_t T,
                            int64_t K, int64_t sb, int64_t st, int64_t chunk);
// cdef-end

#endif
