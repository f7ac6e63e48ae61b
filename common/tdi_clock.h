/* tdi_clock: the one clock reading every program times itself with (wall time for progress lines
 * and reports, process CPU time for rates and limits), and the repeat-until-timed loop the
 * benchmarks' limit measurements use. Non-goals: profiling, time zones, calendar time. */
#ifndef TDI_CLOCK_H
#define TDI_CLOCK_H

#include <time.h>

/* Seconds on clock id (CLOCK_MONOTONIC: wall; CLOCK_PROCESS_CPUTIME_ID: CPU of the process). */
static inline double tdi_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Repeats f(arg) until `seconds` of process CPU time have passed (at least once); returns the
 * CPU seconds per call. */
static inline double tdi_clock_per_call(void (*f)(void *), void *arg, double seconds)
{
    double t0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), t = 0;
    long calls = 0;
    do {
        f(arg);
        calls++;
        t = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - t0;
    } while (t < seconds);
    return t / (double)calls;
}

#endif
