/* tdi_unet_le: little-endian fixed-width fields of the tools/unet checkpoint formats
 * (tdi_unet_ckpt.c, tdi_unet_clf.c): byte i holds bits 8i..8i+7, whatever the host order.
 * Header-only. Non-goal: bounds checks (the callers size their buffers). */
#ifndef TDI_UNET_LE_H
#define TDI_UNET_LE_H

#include <stdint.h>

static inline void tdi_unet_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void tdi_unet_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t tdi_unet_get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t tdi_unet_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
