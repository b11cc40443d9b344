/* Row tails for ISAs without masked memory operations: go through a small stack buffer so
 * that nothing outside the row is ever read or written. Needs vf_load/vf_store. */
#include <string.h>

/* The first k (< NORM_W) elements of p; the other lanes are `fill`. */
static inline vf vf_load_part(const float *p, size_t k, vf fill)
{
    float buf[NORM_W];
    vf_store(buf, fill);
    memcpy(buf, p, k * sizeof *p);
    return vf_load(buf);
}

static inline void vf_store_part(float *p, vf v, size_t k)
{
    float buf[NORM_W];
    vf_store(buf, v);
    memcpy(p, buf, k * sizeof *p);
}
