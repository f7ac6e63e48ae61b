/* tdi_cli: start-up helpers of the programs in bin/ (see tdi_cli.h).
 * Why PASSIVE: spinning OpenMP threads beside busy neighbours made tdi-fit up to 80x slower on a
 * shared 2-core machine (issue 16: 106 s instead of 2.3 s; 3-4 s with OMP_WAIT_POLICY=PASSIVE).
 * Non-goal: changing a policy the user chose. */
#include "tdi_cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tdi_cli_omp_passive(const char *exe, char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return 0;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        return -1;
    execv(exe, argv);
    return -1;
}

int tdi_cli_start(int argc, char **argv, void (*usage)(FILE *))
{
    tdi_cli_omp_passive("/proc/self/exe", argv); /* idle OpenMP threads sleep */
    if (!tdi_cli_wants_help(argc, argv))
        return 0;
    usage(stdout);
    return 1;
}

int tdi_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}
