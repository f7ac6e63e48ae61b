/* tdi_fuzz_loop: a seeded, bounded mutation fuzzer for the harnesses in tests/fuzz/ where clang's
 * libFuzzer is not installed (and for the short run inside make test). Runs every corpus entry
 * once, then N mutated inputs: bit flips, interesting bytes, truncations, byte insertions,
 * block duplications and splices of two corpus entries (1 to 4 per input, at most 64 KiB).
 * Same seed, same inputs. Findings are the sanitizers' (the build uses make asan's flags): a
 * report aborts the run, and the input that caused it is written to FUZZ_CRASH_FILE
 * (default ./fuzz-crash) first. Non-goal: coverage guidance (that is libFuzzer's job).
 * Usage: loop-HARNESS [-n N] [-s SEED] CORPUS_DIR ; prints "HARNESS: N inputs, T s, R/s". */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* From the sanitizer runtime when linked (weak: the loop also builds without it). */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

#define LOOP_MAX_INPUT (64u << 10)
#define LOOP_MAX_CORPUS 256

typedef struct loop_buf {
    uint8_t *p;
    size_t n;
} loop_buf;

static loop_buf loop_corpus[LOOP_MAX_CORPUS];
static size_t loop_ncorpus;
static uint8_t loop_cur[LOOP_MAX_INPUT];
static size_t loop_curn;

/* Writes the input under test where a crash leaves it. */
static void loop_save_crash(void)
{
    const char *p = getenv("FUZZ_CRASH_FILE");
    FILE *f = fopen(p && p[0] ? p : "fuzz-crash", "wb");
    if (f) {
        fwrite(loop_cur, 1, loop_curn, f);
        fclose(f);
    }
}

static void loop_on_signal(int sig)
{
    loop_save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* xorshift64*: the loop's own generator, so that a seed gives the same inputs everywhere. */
static uint64_t loop_state;
static uint64_t loop_rand(void)
{
    loop_state ^= loop_state >> 12;
    loop_state ^= loop_state << 25;
    loop_state ^= loop_state >> 27;
    return loop_state * UINT64_C(2685821657736338717);
}

static size_t loop_below(size_t n)
{
    return n ? (size_t)(loop_rand() % n) : 0;
}

static int loop_load_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) && loop_ncorpus < LOOP_MAX_CORPUS) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        loop_buf *b = &loop_corpus[loop_ncorpus];
        b->p = malloc(LOOP_MAX_INPUT);
        b->n = b->p ? fread(b->p, 1, LOOP_MAX_INPUT, f) : 0;
        fclose(f);
        if (b->p)
            loop_ncorpus++;
    }
    closedir(d);
    return loop_ncorpus ? 0 : -1;
}

/* One mutation of loop_cur in place. */
static void loop_mutate_once(void)
{
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '\n', ' ', ':', '-', '[', '{',
                                          '\'', '"', '9', 0x08, 0x03};
    size_t n = loop_curn;
    switch (loop_below(6)) {
    case 0: /* bit flip */
        if (n)
            loop_cur[loop_below(n)] ^= (uint8_t)(1u << loop_below(8));
        break;
    case 1: /* interesting byte */
        if (n)
            loop_cur[loop_below(n)] = interesting[loop_below(sizeof interesting)];
        break;
    case 2: /* truncation */
        loop_curn = loop_below(n + 1);
        break;
    case 3: /* byte insertion */
        if (n < LOOP_MAX_INPUT) {
            size_t at = loop_below(n + 1);
            memmove(loop_cur + at + 1, loop_cur + at, n - at);
            loop_cur[at] = (uint8_t)loop_rand();
            loop_curn = n + 1;
        }
        break;
    case 4: { /* duplicate a block (repeats a line, a dimension, a header) */
        size_t at = loop_below(n), len = 1 + loop_below(n - at < 64 ? n - at : 64);
        if (n && n + len <= LOOP_MAX_INPUT) {
            memmove(loop_cur + at + len, loop_cur + at, n - at);
            loop_curn = n + len;
        }
        break;
    }
    default: { /* splice: our head, another entry's tail */
        const loop_buf *o = &loop_corpus[loop_below(loop_ncorpus)];
        size_t head = loop_below(n + 1), from = loop_below(o->n + 1);
        size_t tail = o->n - from;
        if (head + tail > LOOP_MAX_INPUT)
            tail = LOOP_MAX_INPUT - head;
        memcpy(loop_cur + head, o->p + from, tail);
        loop_curn = head + tail;
    }
    }
}

static void loop_next_input(void)
{
    const loop_buf *b = &loop_corpus[loop_below(loop_ncorpus)];
    memcpy(loop_cur, b->p, b->n);
    loop_curn = b->n;
    for (size_t k = 1 + loop_below(4); k > 0; k--)
        loop_mutate_once();
}

int main(int argc, char **argv)
{
    long iters = 10000;
    unsigned long long seed = 1;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            iters = atol(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else
            dir = argv[i];
    }
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (!dir || iters < 0 || loop_load_corpus(dir) != 0) {
        fprintf(stderr, "usage: %s [-n N] [-s SEED] CORPUS_DIR (a directory of seed files)\n",
                name);
        return 2;
    }
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(loop_save_crash);
    signal(SIGSEGV, loop_on_signal);
    signal(SIGABRT, loop_on_signal);
    signal(SIGFPE, loop_on_signal);
    loop_state = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < loop_ncorpus; i++) {
        memcpy(loop_cur, loop_corpus[i].p, loop_corpus[i].n);
        loop_curn = loop_corpus[i].n;
        LLVMFuzzerTestOneInput(loop_cur, loop_curn);
    }
    for (long i = 0; i < iters; i++) {
        loop_next_input();
        LLVMFuzzerTestOneInput(loop_cur, loop_curn);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    long total = iters + (long)loop_ncorpus;
    printf("%s: %ld inputs (%zu seeds + %ld mutated, seed %llu), %.2f s, %.0f inputs/s\n", name,
           total, loop_ncorpus, iters, seed, s, s > 0 ? (double)total / s : 0.0);
    for (size_t i = 0; i < loop_ncorpus; i++)
        free(loop_corpus[i].p);
    return 0;
}
