/* test_cli_env: every program in bin/ runs with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads
 * sleep; tdi_cli_start re-executes the program once with it, common/tdi_cli.h) and keeps a value
 * the user set. Black box: each program is started on a FIFO as its input file; once it blocks
 * opening the FIFO (after any re-exec), its /proc/PID/environ is read; then it is killed. A
 * program in bin/ missing from the table below fails the test (add it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tdi_test.h"

#define SCR "build/test-cli-env"

/* each program's arguments with IN for the FIFO it opens first, OUT for an output path */
static const char *const progs[][8] = {
    {"tdi-budget", "IN"},
    {"tdi-cosim", "IN"},
    {"tdi-fit", "IN"},
    {"tdi-gen", "IN"},
    {"tdi-stack", "OUT", "p", "enc", "dec", "BUNDLE"},
    {"tdi-sweep", "IN"},
    {"tdi-unet", "train", "IN"},
};
#define NPROG (sizeof progs / sizeof progs[0])

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* the kernel function pid sleeps in ("wait_for_partner": opening a FIFO with no writer) */
static int blocked_on_fifo(pid_t pid)
{
    char p[64], w[64] = "";
    snprintf(p, sizeof p, "/proc/%d/wchan", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    size_t n = fread(w, 1, sizeof w - 1, f);
    fclose(f);
    w[n] = '\0';
    return strcmp(w, "wait_for_partner") == 0;
}

/* the value of OMP_WAIT_POLICY in pid's environment into val ("<unset>" when absent) */
static void env_of(pid_t pid, char *val, size_t vsz)
{
    char p[64], buf[65536];
    snprintf(val, vsz, "<unset>");
    snprintf(p, sizeof p, "/proc/%d/environ", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strncmp(buf + i, "OMP_WAIT_POLICY=", 16) == 0)
            snprintf(val, vsz, "%s", buf + i + 16);
}

/* starts program q with OMP_WAIT_POLICY = set (NULL: unset), waits until it blocks on its
 * input FIFO (at most 30 s), reads its OMP_WAIT_POLICY into val; 0 when it got there */
static int run_one(size_t q, const char *set, char *val, size_t vsz)
{
    char bin[256], in[256], out[256], bdl[256], log[256];
    snprintf(bin, sizeof bin, "bin/%s", progs[q][0]);
    snprintf(in, sizeof in, SCR "/%s.in", progs[q][0]);
    snprintf(bdl, sizeof bdl, SCR "/%s.bundle", progs[q][0]);
    snprintf(out, sizeof out, SCR "/%s.out", progs[q][0]);
    snprintf(log, sizeof log, SCR "/%s.log", progs[q][0]);
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/manifest.yaml", bdl);
    mkdir(bdl, 0755);
    unlink(in);
    unlink(fifo);
    if (mkfifo(in, 0600) || mkfifo(fifo, 0600))
        return -1;
    char *argv[8] = {bin};
    for (int i = 1; i < 8 && progs[q][i]; i++)
        argv[i] = (char *)(!strcmp(progs[q][i], "IN")       ? in
                           : !strcmp(progs[q][i], "OUT")    ? out
                           : !strcmp(progs[q][i], "BUNDLE") ? bdl
                                                            : progs[q][i]);
    pid_t pid = fork();
    if (pid == 0) {
        if (set)
            setenv("OMP_WAIT_POLICY", set, 1);
        else
            unsetenv("OMP_WAIT_POLICY");
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int got = 0;
    for (int t = 0; t < 3000 && !got; t++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1; /* exited before reaching its input */
        got = blocked_on_fifo(pid);
        if (!got)
            sleep_ms(10);
    }
    if (got)
        env_of(pid, val, vsz);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return got ? 0 : -1;
}

/* every tdi-* in bin/ is in the table */
static void check_table_complete(void)
{
    DIR *d = opendir("bin");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "tdi-", 4) != 0)
            continue;
        int found = 0;
        for (size_t q = 0; q < NPROG; q++)
            found |= !strcmp(progs[q][0], e->d_name);
        char nm[300];
        snprintf(nm, sizeof nm, "bin/%s is in this test's table", e->d_name);
        TDI_CHECK(found, nm);
    }
    if (d)
        closedir(d);
}

int main(void)
{
    if (system("rm -rf " SCR " && mkdir -p " SCR) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    check_table_complete();
    for (size_t q = 0; q < NPROG; q++) {
        char val[64] = "", nm[200];
        snprintf(nm, sizeof nm, "%s, OMP_WAIT_POLICY unset: reaches its input", progs[q][0]);
        if (!TDI_CHECK(run_one(q, NULL, val, sizeof val) == 0, nm))
            continue;
        snprintf(nm, sizeof nm, "%s runs with OMP_WAIT_POLICY=PASSIVE (observed %s)", progs[q][0],
                 val);
        TDI_CHECK(strcmp(val, "PASSIVE") == 0, nm);
        snprintf(nm, sizeof nm, "%s keeps the user's OMP_WAIT_POLICY=ACTIVE", progs[q][0]);
        TDI_CHECK(run_one(q, "ACTIVE", val, sizeof val) == 0 && strcmp(val, "ACTIVE") == 0, nm);
    }
    TDI_TEST_END();
}
