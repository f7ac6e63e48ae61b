/* tdi_cosim_conv: a chip's converters (docs/nonideal.md): per channel a gain error, an offset
 * and a static INL curve, drawn from the chip's counter stream (tdi_gen_nonideal_gauss), around
 * tdi_cosim_quantize. Invariants: a channel's transfer depends only on (key, channel) and the
 * three sizes; with all sizes 0 it is tdi_cosim_quantize exactly. Non-goals: DNL, dynamic errors
 * (settling, jitter), a converter without bits (no LSB). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"

/* largest |c (1 - u^2) + s k u (1 - u^2)| over u in [-1, 1], k = 3 sqrt(3) / 2 (max of the S
 * curve 1), on a grid of 2001 points (the curve is smooth: the grid misses the maximum by less
 * than 1e-6 of it) */
static double conv_inl_max(double c, double s)
{
    double k = 1.5 * sqrt(3.0), m = 0;
    for (int q = 0; q <= 2000; q++) {
        double u = -1.0 + q / 1000.0, w = 1 - u * u;
        m = fmax(m, fabs(c * w + s * k * u * w));
    }
    return m;
}

int tdi_cosim_conv_init(tdi_cosim_conv *cv, size_t n, int adc, int bits, double fs,
                        double offset_lsb, double gain_err, double inl_lsb, uint64_t key,
                        tdi_err *err)
{
    memset(cv, 0, sizeof *cv);
    if (bits <= 0 || !(fs > 0))
        return tdi_err_set(err, TDI_EARG, "%s non-idealities need bits > 0 and a full scale > 0 "
                           "(offset and INL are in LSB)", adc ? "ADC" : "DAC");
    cv->n = n, cv->adc = adc, cv->bits = bits, cv->fs = fs;
    cv->gain = malloc((n ? n : 1) * sizeof *cv->gain);
    cv->offset = malloc((n ? n : 1) * sizeof *cv->offset);
    cv->w_bow = malloc((n ? n : 1) * sizeof *cv->w_bow);
    cv->w_s = malloc((n ? n : 1) * sizeof *cv->w_s);
    if (!cv->gain || !cv->offset || !cv->w_bow || !cv->w_s) {
        tdi_cosim_conv_destroy(cv);
        return tdi_err_set(err, TDI_ENOMEM, "converter: out of memory");
    }
    double lsb = 2.0 * fs / ldexp(1.0, bits);
    uint64_t w0 = adc ? TDI_GEN_NI_ADC_OFFSET : TDI_GEN_NI_DAC_OFFSET;
    uint64_t w1 = adc ? TDI_GEN_NI_ADC_GAIN : TDI_GEN_NI_DAC_GAIN;
    uint64_t w2 = adc ? TDI_GEN_NI_ADC_INL : TDI_GEN_NI_DAC_INL;
    for (size_t i = 0; i < n; i++) {
        cv->offset[i] = offset_lsb * lsb * tdi_gen_nonideal_gauss(key, i, w0);
        cv->gain[i] = 1.0 + gain_err * tdi_gen_nonideal_gauss(key, i, w1);
        /* the INL's shape: an angle from the draw's normal CDF, i.e. uniform on [0, 2 pi) */
        double phi = M_PI * (1.0 + erf(tdi_gen_nonideal_gauss(key, i, w2) / M_SQRT2));
        double c = cos(phi), s = sin(phi), m = conv_inl_max(c, s);
        cv->w_bow[i] = inl_lsb * lsb * c / m;
        cv->w_s[i] = inl_lsb * lsb * s * 1.5 * sqrt(3.0) / m;
    }
    return 0;
}

void tdi_cosim_conv_destroy(tdi_cosim_conv *cv)
{
    if (!cv)
        return;
    free(cv->gain);
    free(cv->offset);
    free(cv->w_bow);
    free(cv->w_s);
    memset(cv, 0, sizeof *cv);
}

double tdi_cosim_conv_distort(const tdi_cosim_conv *cv, size_t ch, double x)
{
    double u = fmax(-1.0, fmin(1.0, x / cv->fs)), w = 1 - u * u;
    return x * cv->gain[ch] + cv->offset[ch] + cv->w_bow[ch] * w + cv->w_s[ch] * u * w;
}

double tdi_cosim_conv_apply(const tdi_cosim_conv *cv, size_t ch, double x)
{
    if (cv->adc)
        return tdi_cosim_quantize(tdi_cosim_conv_distort(cv, ch, x), cv->bits, cv->fs);
    return tdi_cosim_conv_distort(cv, ch, tdi_cosim_quantize(x, cv->bits, cv->fs));
}
