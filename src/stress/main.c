/*
 * peerchain-stress: a load harness for peerchaind (issue 7, docs/performance.md).
 *
 *   peerchain-stress [OPTIONS] SCENARIO [SCENARIO OPTIONS]
 *
 * Parses the options, installs the SIGINT/SIGTERM handler (which stops
 * every node the run started, by PID), runs one scenario, prints its table
 * and writes --json. Exit codes: 0 done, 1 the run failed (unreachable
 * target, a wait ran out, a node did not exit cleanly), 2 bad options,
 * 130 interrupted.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peerchain/peerchain.h"
#include "proc.h"
#include "scenario.h"
#include "web.h"

#define DEFAULT_TIMEOUT_S 300u
#define MAX_TIMEOUT_S 3600u

static const char usage_text[] =
    "Usage: peerchain-stress [OPTIONS] SCENARIO [OPTIONS]\n"
    "Load harness for peerchaind: starts the nodes it needs (regtest, 127.0.0.1,\n"
    "temporary datadirs), drives them, prints a table, stops them.\n"
    "\n"
    "Scenarios:\n"
    "  sync       --blocks N            a fresh node syncs N blocks from a seed node\n"
    "  propagate  --nodes M --topology line|ring|mesh --blocks B\n"
    "                                   per-hop latency of B blocks mined on one end\n"
    "  api        --seconds S --concurrency C [--peers P]\n"
    "                                   POST /mineBlock rate and latency\n"
    "  connections --count K [--blocks N]\n"
    "                                   K idle handshaked peers; RSS each; does an\n"
    "                                   honest node still sync N blocks\n"
    "  flood      --peers F --kind garbage|oversized|valid|invalid-blocks|slow-reader\n"
    "             [--seconds S]         F hostile peers of each kind (a comma list)\n"
    "                                   against an honest peer's latestBlock round trip\n"
    "  churn      --seconds S [--peers P] [--seed N]\n"
    "                                   peers come, sync a little, go, while the node\n"
    "                                   mines; threads, fds and RSS back to baseline\n"
    "  limits     [--blocks N]          this machine: SHA-256, Jansson, loopback RTT,\n"
    "                                   libcurl empty-request rate\n"
    "\n"
    "Options:\n"
    "  --target HOST:PORT   use a running node (sync: its P2P port; api: its API\n"
    "                       port, with --token) instead of starting one; HOST in\n"
    "                       127.0.0.0/8\n"
    "  --token TOKEN        API bearer token for --target\n"
    "  --json FILE          also write the results as JSON\n"
    "  --smoke              small sizes that run in seconds (CI)\n"
    "  --timeout S          stop the run after S seconds (default 300)\n"
    "  --bin-dir DIR        where peerchaind is (default: next to this program)\n"
    "  --keep-tmp           keep the nodes' directories and logs\n"
    "  --quiet              no progress lines\n"
    "  --help, --version\n";

enum {
    OPT_BLOCKS = 256,
    OPT_NODES,
    OPT_TOPOLOGY,
    OPT_SECONDS,
    OPT_CONCURRENCY,
    OPT_PEERS,
    OPT_COUNT,
    OPT_KIND,
    OPT_SEED,
    OPT_TARGET,
    OPT_TOKEN,
    OPT_JSON,
    OPT_SMOKE,
    OPT_TIMEOUT,
    OPT_BIN_DIR,
    OPT_KEEP,
    OPT_QUIET,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"blocks", required_argument, NULL, OPT_BLOCKS},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"topology", required_argument, NULL, OPT_TOPOLOGY},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"peers", required_argument, NULL, OPT_PEERS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"kind", required_argument, NULL, OPT_KIND},
    {"seed", required_argument, NULL, OPT_SEED},
    {"target", required_argument, NULL, OPT_TARGET},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"json", required_argument, NULL, OPT_JSON},
    {"smoke", no_argument, NULL, OPT_SMOKE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"bin-dir", required_argument, NULL, OPT_BIN_DIR},
    {"keep-tmp", no_argument, NULL, OPT_KEEP},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    stress_stopping = 1;
    proc_signal_all();
}

/* A whole number in [lo, hi]; else a one-line error and false. */
static bool parse_num(const char *flag, const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        goto bad;
    *out = v;
    return true;
bad:
    stress_err("%s: want a whole number in %llu..%llu, not '%s'", flag, lo, hi, s);
    return false;
}

/* The directory this program is in, for finding peerchaind next to it. */
static const char *self_dir(char buf[PATH_MAX])
{
    ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX - 1);
    if (n <= 0)
        return ".";
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    struct stress_opts o = {.timeout_s = DEFAULT_TIMEOUT_S, .topology = TOPO_LINE};
    bool have_blocks = false, have_nodes = false, have_seconds = false, have_conc = false;
    bool have_count = false, have_peers = false;
    const char *scenario = NULL;
    char exe_dir[PATH_MAX];
    unsigned long long v;
    int c;

    opterr = 0;
    /* "-": options before the scenario name and after it, in any order. */
    while ((c = getopt_long(argc, argv, "-", long_opts, NULL)) != -1) {
        switch (c) {
        case 1: /* a word that is not an option: the scenario */
            if (scenario != NULL) {
                stress_err("one scenario per run, not also '%s' (see --help)", optarg);
                return 2;
            }
            scenario = optarg;
            break;
        case OPT_BLOCKS:
            if (!parse_num("--blocks", optarg, 1, 10000000, &v))
                return 2;
            o.blocks = v;
            have_blocks = true;
            break;
        case OPT_NODES:
            if (!parse_num("--nodes", optarg, 2, 32, &v))
                return 2;
            o.nodes = (unsigned)v;
            have_nodes = true;
            break;
        case OPT_TOPOLOGY:
            if (strcmp(optarg, "line") == 0)
                o.topology = TOPO_LINE;
            else if (strcmp(optarg, "ring") == 0)
                o.topology = TOPO_RING;
            else if (strcmp(optarg, "mesh") == 0)
                o.topology = TOPO_MESH;
            else {
                stress_err("--topology: want line, ring or mesh, not '%s'", optarg);
                return 2;
            }
            break;
        case OPT_SECONDS:
            if (!parse_num("--seconds", optarg, 1, 3600, &v))
                return 2;
            o.seconds = (unsigned)v;
            have_seconds = true;
            break;
        case OPT_CONCURRENCY:
            if (!parse_num("--concurrency", optarg, 1, 64, &v))
                return 2;
            o.concurrency = (unsigned)v;
            have_conc = true;
            break;
        case OPT_PEERS:
            if (!parse_num("--peers", optarg, 0, 100, &v))
                return 2;
            o.peers = (unsigned)v;
            have_peers = true;
            break;
        case OPT_COUNT:
            if (!parse_num("--count", optarg, 1, 20000, &v))
                return 2;
            o.count = (unsigned)v;
            have_count = true;
            break;
        case OPT_KIND:
            o.kind = optarg;
            break;
        case OPT_SEED:
            if (!parse_num("--seed", optarg, 0, UINT32_MAX, &v))
                return 2;
            o.seed = (unsigned)v;
            break;
        case OPT_TARGET:
            o.target = optarg;
            break;
        case OPT_TOKEN:
            o.token = optarg;
            break;
        case OPT_JSON:
            o.json_path = optarg;
            break;
        case OPT_SMOKE:
            o.smoke = true;
            break;
        case OPT_TIMEOUT:
            if (!parse_num("--timeout", optarg, 1, MAX_TIMEOUT_S, &v))
                return 2;
            o.timeout_s = (unsigned)v;
            break;
        case OPT_BIN_DIR:
            o.bin_dir = optarg;
            break;
        case OPT_KEEP:
            o.keep_tmp = true;
            break;
        case OPT_QUIET:
            stress_quiet = true;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        case OPT_VERSION:
            printf("peerchain-stress %s\n", PC_VERSION_STRING);
            return 0;
        default:
            if (optopt != 0)
                stress_err("%s needs a value (see --help)", argv[optind - 1]);
            else
                stress_err("unknown option '%s' (see --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (scenario == NULL) {
        stress_err("no scenario given (see --help)");
        return 2;
    }
    int (*run)(const struct stress_opts *, struct results *) = NULL;
    if (strcmp(scenario, "sync") == 0) {
        run = scenario_sync;
        if (!have_blocks)
            o.blocks = o.smoke ? 500 : 10000;
    } else if (strcmp(scenario, "propagate") == 0) {
        run = scenario_propagate;
        if (!have_blocks)
            o.blocks = o.smoke ? 5 : 50;
        if (!have_nodes)
            o.nodes = o.smoke ? 3 : 5;
    } else if (strcmp(scenario, "api") == 0) {
        run = scenario_api;
        if (!have_seconds)
            o.seconds = o.smoke ? 1 : 5;
        if (!have_conc)
            o.concurrency = 1;
    } else if (strcmp(scenario, "connections") == 0) {
        run = scenario_connections;
        if (!have_count)
            o.count = o.smoke ? 40 : 1000;
        if (!have_blocks)
            o.blocks = o.smoke ? 300 : 10000;
    } else if (strcmp(scenario, "flood") == 0) {
        run = scenario_flood;
        if (!have_seconds)
            o.seconds = o.smoke ? 1 : 10;
        if (!have_blocks)
            o.blocks = o.smoke ? 300 : 2000;
        if (!have_peers)
            o.peers = o.smoke ? 4 : 50;
        if (o.kind == NULL)
            o.kind = "garbage,slow-reader";
    } else if (strcmp(scenario, "churn") == 0) {
        run = scenario_churn;
        if (!have_seconds)
            o.seconds = o.smoke ? 1 : 30;
        if (!have_blocks)
            o.blocks = o.smoke ? 300 : 2000;
        if (!have_peers)
            o.peers = o.smoke ? 4 : 16;
    } else if (strcmp(scenario, "limits") == 0) {
        run = scenario_limits;
        if (!have_blocks)
            o.blocks = o.smoke ? 500 : 10000;
    } else {
        stress_err("unknown scenario '%s' (see --help)", scenario);
        return 2;
    }
    if (o.target != NULL && run != scenario_sync && run != scenario_api) {
        stress_err("--target works with sync and api only");
        return 2;
    }
    if (o.bin_dir == NULL)
        o.bin_dir = self_dir(exe_dir);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct results res;
    int rc = 1;
    if (pc_crypto_init() != 0 || web_global_init() != 0 || results_init(&res, scenario) != 0) {
        stress_err("cannot initialise libsodium, libcurl or the results");
        return 1;
    }
    o.deadline_ns = now_ns() + (uint64_t)o.timeout_s * 1000000000u;
    results_param_int(&res, "timeout_s", o.timeout_s);
    results_param_int(&res, "smoke", o.smoke);
    bool needs_nodes = run != scenario_limits && !(run == scenario_api && o.target != NULL);
    if (!needs_nodes || proc_setup(o.bin_dir, o.keep_tmp) == 0)
        rc = run(&o, &res);
    if (proc_stop_all() != 0 && rc == 0)
        rc = 1;
    if (stress_stopping) {
        stress_err("interrupted; every node stopped");
        rc = 130;
    }
    if (rc == 0) {
        results_print(&res);
        if (o.json_path != NULL && results_write(&res, o.json_path) != 0)
            rc = 1;
    }
    results_destroy(&res);
    web_global_cleanup();
    return rc;
}
