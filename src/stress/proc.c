/*
 * peerchain-stress: starting, watching and stopping peerchaind children.
 * See proc.h.
 */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

#define PROC_STOP_TIMEOUT_MS 10000u

static struct node_proc nodes[PROC_MAX_NODES];
/* Read by the signal handler: the count only grows, each pid is written
 * before the count that covers it. */
static volatile sig_atomic_t n_nodes;
static char tmp_dir[PROC_PATH_BYTES];
static char peerchaind[PROC_PATH_BYTES];
static bool keep;

const char *proc_tmp_dir(void)
{
    return tmp_dir;
}

int proc_setup(const char *bin_dir, bool keep_tmp)
{
    const char *base = getenv("TMPDIR");
    keep = keep_tmp;
    if ((size_t)snprintf(peerchaind, sizeof peerchaind, "%s/peerchaind", bin_dir) >=
        sizeof peerchaind) {
        stress_err("--bin-dir is too long");
        return -1;
    }
    if (access(peerchaind, X_OK) != 0) {
        stress_err("no peerchaind at %s: %s", peerchaind, strerror(errno));
        return -1;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "%s/pc-stress-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmp_dir) == NULL) {
        stress_err("cannot make a temporary directory: %s", strerror(errno));
        tmp_dir[0] = '\0';
        return -1;
    }
    return 0;
}

void proc_signal_all(void)
{
    for (sig_atomic_t i = 0; i < n_nodes; i++)
        if (nodes[i].pid > 0)
            kill(nodes[i].pid, SIGTERM);
}

static const char *const base_args[] = {"--network",   "regtest", "--bind",     "127.0.0.1",
                                        "--p2p-port",  "0",       "--api-port", "0",
                                        "--log-level", "warn",    NULL};

struct node_proc *proc_start(const char *name, const char *const *extra)
{
    if (n_nodes >= PROC_MAX_NODES) {
        stress_err("more than %d nodes", PROC_MAX_NODES);
        return NULL;
    }
    struct node_proc *n = &nodes[n_nodes];
    memset(n, 0, sizeof *n);
    if ((size_t)snprintf(n->dir, sizeof n->dir, "%s/%s", tmp_dir, name) >= sizeof n->dir ||
        mkdir(n->dir, 0700) != 0) {
        stress_err("cannot make %s: %s", n->dir, strerror(errno));
        return NULL;
    }
    unsigned char raw[PROC_TOKEN_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(n->token, sizeof n->token, raw, sizeof raw);

    char datadir[PROC_PATH_BYTES + 8], port_file[PROC_PATH_BYTES + 8];
    char api_file[PROC_PATH_BYTES + 16], log_path[PROC_PATH_BYTES + 8];
    snprintf(datadir, sizeof datadir, "%s/data", n->dir);
    snprintf(port_file, sizeof port_file, "%s/port", n->dir);
    snprintf(api_file, sizeof api_file, "%s/api-port", n->dir);
    snprintf(log_path, sizeof log_path, "%s/log", n->dir);

    const char *argv[64];
    size_t k = 0;
    argv[k++] = peerchaind;
    for (size_t i = 0; base_args[i] != NULL; i++)
        argv[k++] = base_args[i];
    const char *const fixed[] = {"--datadir",       datadir,  "--port-file", port_file,
                                 "--api-port-file", api_file, "--api-token", n->token};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[k++] = fixed[i];
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (i >= PROC_MAX_EXTRA_ARGS) {
            stress_err("too many flags for %s", name);
            return NULL;
        }
        argv[k++] = extra[i];
    }
    argv[k] = NULL;

    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0) {
        stress_err("cannot open %s: %s", log_path, strerror(errno));
        return NULL;
    }
    n->spawned_ns = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        stress_err("fork: %s", strerror(errno));
        close(logfd);
        return NULL;
    }
    if (pid == 0) {
        /* The child: die with the harness; log to the node's file. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* an ignored signal would outlive exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(peerchaind, (char *const *)argv);
        _exit(127);
    }
    close(logfd);
    n->pid = pid;
    n_nodes = n_nodes + 1;
    return n;
}

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%d", &port) != 1)
        port = 0;
    fclose(f);
    return port;
}

int proc_wait_ready(struct node_proc *n, unsigned timeout_ms)
{
    char port_file[PROC_PATH_BYTES + 8], api_file[PROC_PATH_BYTES + 16];
    snprintf(port_file, sizeof port_file, "%s/port", n->dir);
    snprintf(api_file, sizeof api_file, "%s/api-port", n->dir);
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!stress_stopping && now_ns() < deadline) {
        int st;
        if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
            n->pid = 0;
            n->exit_status = st;
            stress_err("node %s exited before listening (log: %s/log)", n->dir, n->dir);
            return -1;
        }
        if (n->p2p_port == 0 && (n->p2p_port = read_port(port_file)) != 0)
            n->listening_ns = now_ns();
        if (n->p2p_port != 0 && (n->api_port = read_port(api_file)) != 0)
            return 0;
        usleep(200);
    }
    stress_err("node %s did not start listening within %u ms", n->dir, timeout_ms);
    return -1;
}

int proc_stop(struct node_proc *n)
{
    if (n->pid <= 0)
        return n->exit_status;
    kill(n->pid, SIGTERM);
    uint64_t deadline = now_ns() + (uint64_t)PROC_STOP_TIMEOUT_MS * 1000000u;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(n->pid, &st, WNOHANG);
        if (r == n->pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (now_ns() > deadline) {
            stress_err("node %s ignored SIGTERM for %u ms; killing it", n->dir,
                       PROC_STOP_TIMEOUT_MS);
            kill(n->pid, SIGKILL);
            waitpid(n->pid, &st, 0);
            break;
        }
        usleep(1000);
    }
    n->pid = 0;
    n->exit_status = st;
    return st;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* True if the node's log holds a sanitizer report (an ASan/TSan build of
 * peerchaind may report and still exit 0 for some checks). */
static bool log_has_sanitizer_report(const struct node_proc *n)
{
    char path[PROC_PATH_BYTES + 8], line[512];
    bool found = false;
    snprintf(path, sizeof path, "%s/log", n->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error:") != NULL;
    fclose(f);
    return found;
}

int proc_stop_all(void)
{
    int bad = 0;
    proc_signal_all(); /* all at once: each then exits while we reap the others */
    for (sig_atomic_t i = 0; i < n_nodes; i++) {
        int st = proc_stop(&nodes[i]);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            stress_err("node %s did not exit cleanly (status %d; log: %s/log)", nodes[i].dir, st,
                       nodes[i].dir);
            bad++;
        } else if (log_has_sanitizer_report(&nodes[i])) {
            stress_err("node %s: sanitizer report in %s/log", nodes[i].dir, nodes[i].dir);
            bad++;
        }
    }
    if (tmp_dir[0] != '\0') {
        if (keep || bad)
            fprintf(stderr, "peerchain-stress: kept %s\n", tmp_dir);
        else
            nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return bad;
}

long proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            v = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

long proc_threads(pid_t pid)
{
    return proc_status_kib(pid, "Threads");
}

/* utime + stime in ms from a /proc .../stat line (fields 14 and 15, after
 * the parenthesised comm, which may hold spaces). -1 if unreadable. */
static double stat_cpu_ms(const char *path, char *comm, size_t comm_size)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (open == NULL || close == NULL || close < open)
        return -1;
    if (comm != NULL) {
        size_t len = (size_t)(close - open - 1);
        if (len >= comm_size)
            len = comm_size - 1;
        memcpy(comm, open + 1, len);
        comm[len] = '\0';
    }
    unsigned long long ut, st;
    /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime. */
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) * 1000.0 / (double)(hz > 0 ? hz : 100);
}

double proc_cpu_ms(pid_t pid, const char *thread_prefix)
{
    char path[96];
    if (thread_prefix == NULL) {
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        return stat_cpu_ms(path, NULL, 0);
    }
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    double sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char comm[32];
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/stat", (int)pid, e->d_name);
        double ms = stat_cpu_ms(path, comm, sizeof comm);
        if (ms >= 0 && strncmp(comm, thread_prefix, strlen(thread_prefix)) == 0)
            sum += ms;
    }
    closedir(d);
    return sum;
}

long proc_fds(pid_t pid)
{
    char path[64];
    long n = 0;
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}
