/* Half-precision row tails for ISAs without masked 16-bit memory operations: go through a
 * small stack buffer, so that nothing outside p[0..k) is read or
 * written. Needs vf_load_f16/vf_store_f16/vf_load_bf16/vf_store_bf16 and vf_store/vf_load. */
#include <stdint.h>
#include <string.h>

/* The first k (< NORM_W) elements of p, widened; the other lanes are +0.0f. */
static inline __attribute__((always_inline)) vf vf_load_f16_part(const uint16_t *p, size_t k)
{
    uint16_t buf[NORM_W] = {0};
    memcpy(buf, p, k * sizeof *p);
    return vf_load_f16(buf);
}

static inline __attribute__((always_inline)) vf vf_load_bf16_part(const uint16_t *p, size_t k)
{
    uint16_t buf[NORM_W] = {0};
    memcpy(buf, p, k * sizeof *p);
    return vf_load_bf16(buf);
}

/* Narrows the first k (< NORM_W) lanes of v into p[0..k). */
static inline __attribute__((always_inline)) void vf_store_f16_part(uint16_t *p, vf v, size_t k)
{
    uint16_t buf[NORM_W];
    vf_store_f16(buf, v);
    memcpy(p, buf, k * sizeof *p);
}

static inline __attribute__((always_inline)) void vf_store_bf16_part(uint16_t *p, vf v, size_t k)
{
    uint16_t buf[NORM_W];
    vf_store_bf16(buf, v);
    memcpy(p, buf, k * sizeof *p);
}
