/* tdi_cli: start-up helpers of the programs in bin/ (see tdi_cli.h).
 * Why PASSIVE: spinning OpenMP threads beside busy neighbours made tdi-fit up to 80x slower on a
 * shared 2-core machine (issue 16: 106 s instead of 2.3 s; 3-4 s with OMP_WAIT_POLICY=PASSIVE).
 * Why OPENBLAS_CORETYPE (tdi-unet only, TDI_CLI_BLAS_AVX512): Debian's OpenBLAS 0.3.21 picks its
 * Haswell kernels on AMD CPUs with AVX-512; its SkylakeX kernels ran the U-Net's GEMMs about 30%
 * faster here (docs/unet.md, "Speed"). Non-goal: changing a policy or kernel the user chose. */
#include "tdi_cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tdi_cli_cpu_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's check includes the OS saving the AVX-512 registers (XCR0) */
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

int tdi_cli_env(const char *exe, char **argv, unsigned flags)
{
    int changed = 0;
    if (!getenv("OMP_WAIT_POLICY")) {
        if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
            return -1;
        changed = 1;
    }
    if ((flags & TDI_CLI_BLAS_AVX512) && !getenv("OPENBLAS_CORETYPE") && tdi_cli_cpu_avx512()) {
        if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) != 0)
            return -1;
        changed = 1;
    }
    if (!changed)
        return 0;
    execv(exe, argv);
    return -1;
}

int tdi_cli_omp_passive(const char *exe, char **argv)
{
    return tdi_cli_env(exe, argv, 0);
}

int tdi_cli_start_flags(int argc, char **argv, void (*usage)(FILE *), unsigned flags)
{
    tdi_cli_env("/proc/self/exe", argv, flags); /* idle OpenMP threads sleep; BLAS kernels */
    if (!tdi_cli_wants_help(argc, argv))
        return 0;
    usage(stdout);
    return 1;
}

int tdi_cli_start(int argc, char **argv, void (*usage)(FILE *))
{
    return tdi_cli_start_flags(argc, argv, usage, 0);
}

int tdi_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}
