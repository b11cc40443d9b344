/* Row tails of 1 to 3 f32 in an SSE register, loaded and stored piecewise so nothing past
 * p[k-1] is touched (movss and movsd zero the lanes above what they load). Shared by the
 * SSE2 tier and the two halves of the AVX2 tier's tails. */
#include <emmintrin.h>
#include <stddef.h>

static inline __m128 sse_load_part(const float *p, size_t k)
{
    /* movq, not movsd through a double pointer: p is only float-aligned. */
    __m128 v = k == 1 ? _mm_load_ss(p) : _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(const void *)p));
    return k == 3 ? _mm_movelh_ps(v, _mm_load_ss(p + 2)) : v;
}

static inline void sse_store_part(float *p, __m128 v, size_t k)
{
    if (k == 1) {
        _mm_store_ss(p, v);
        return;
    }
    _mm_storel_epi64((__m128i *)(void *)p, _mm_castps_si128(v));
    if (k == 3)
        _mm_store_ss(p + 2, _mm_movehl_ps(v, v));
}
