/* cmd_run.c: `cohort run` and `cohort coordinator`: run an experiment, with
 * local workers, under mpirun, or as a standalone coordinator. */
#include "cli/cli.h"
#include "common/log.h"
#include "coordinator/engine.h"
#include "coordinator/plan.h"
#include "coordinator/workflow.h"
#include "worker/worker.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_SETS 256
#define S_ENDPOINT_MAX 512

static const char s_run_help[] =
    "usage: cohort run FILE.yaml [--workers N] [--out DIR] [--set KEY=VALUE ...]\n"
    "       cohort run --resume DIR\n"
    "\n"
    "Runs the experiment in FILE.yaml. Without mpirun the coordinator starts N\n"
    "local worker processes (default: the config's `workers`, else 2). Under\n"
    "`mpirun -np N+1 cohort run FILE.yaml` rank 0 coordinates and ranks 1..N work.\n"
    "\n"
    "  --workers N       number of workers (overrides `workers` in the file)\n"
    "  --out DIR         the run directory (default runs/<run id>)\n"
    "  --set KEY=VALUE   override a config key by its dotted path, e.g.\n"
    "                    --set model.intercept=false --set data.test_fraction=0.3\n"
    "  --resume DIR      continue an interrupted run from its last checkpoint\n"
    "\n"
    "Outputs in the run directory: config.yaml (resolved), summary.json,\n"
    "model.pb, model.txt, events.jsonl, checkpoints/.\n";

static const char s_coord_help[] =
    "usage: cohort coordinator FILE.yaml --bind ENDPOINT [--workers N] [--out DIR]\n"
    "                          [--set KEY=VALUE ...]\n"
    "\n"
    "Runs the experiment as a standalone coordinator that waits for N workers\n"
    "started elsewhere with `cohort worker --connect ENDPOINT [--data FILE]`.\n"
    "ENDPOINT is a ZeroMQ tcp endpoint such as tcp://*:7000. With\n"
    "partition.scheme: by-file every worker trains on its own --data file and\n"
    "only model statistics leave it.\n";

typedef struct s_args {
    const char *file;
    const char *out;
    const char *resume;
    const char *bind;
    long workers;
    const char *sets[S_MAX_SETS];
    int n_sets;
} s_args;

static int s_parse(int argc, char **argv, bool coordinator, s_args *a)
{
    memset(a, 0, sizeof *a);
    const char *help = coordinator ? s_coord_help : s_run_help;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 1;
        }
        if (ch_arg_value(argc, argv, &i, "--workers", &v, &bad)) {
            char *end;
            a->workers = bad ? 0 : strtol(v, &end, 10);
            if (bad || *end || a->workers < 1 || a->workers > 4096) {
                fprintf(stderr, "cohort %s: --workers needs a number from 1 to 4096, got '%s'\n",
                        argv[0], v ? v : "");
                return 2;
            }
        } else if (ch_arg_value(argc, argv, &i, "--out", &a->out, &bad) ||
                   ch_arg_value(argc, argv, &i, "--resume", &a->resume, &bad) ||
                   (coordinator && ch_arg_value(argc, argv, &i, "--bind", &a->bind, &bad))) {
            if (bad) {
                return 2;
            }
        } else if (ch_arg_value(argc, argv, &i, "--set", &v, &bad)) {
            if (bad) {
                return 2;
            }
            if (a->n_sets == S_MAX_SETS) {
                fprintf(stderr, "cohort %s: too many --set options\n", argv[0]);
                return 2;
            }
            a->sets[a->n_sets++] = v;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "cohort %s: unknown option '%s' (see cohort %s --help)\n", argv[0],
                    argv[i], argv[0]);
            return 2;
        } else if (!a->file) {
            a->file = argv[i];
        } else {
            fprintf(stderr, "cohort %s: unexpected argument '%s'\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (!a->file && !a->resume) {
        fputs(help, stderr);
        return 2;
    }
    if (coordinator && !a->bind) {
        fprintf(stderr, "cohort coordinator: --bind ENDPOINT is required, e.g. --bind "
                        "tcp://*:7000\n");
        return 2;
    }
    return 0;
}

static int s_bcast(const char *endpoint, void *ctx, ch_err *err)
{
    (void)ctx;
    (void)err;
    char buf[S_ENDPOINT_MAX];
    memset(buf, 0, sizeof buf);
    snprintf(buf, sizeof buf, "%s", endpoint);
    MPI_Bcast(buf, S_ENDPOINT_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
    return 0;
}

static bool s_under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static int s_report(const ch_run_result *res, int rc, const ch_err *err)
{
    if (rc) {
        fprintf(stderr, "cohort: error: %s\n", err->msg);
        if (res->run_dir[0]) {
            fprintf(stderr, "cohort: run %s: %s (see %s/summary.json)\n", res->run_dir,
                    res->status, res->run_dir);
        }
        return 1;
    }
    if (res->workflow) {
        printf("workflow finished: %s (open %s/index.html)\n", res->run_dir, res->run_dir);
        return 0;
    }
    printf("run finished: %s\n", res->run_dir);
    printf("  summary  %s/summary.json\n", res->run_dir);
    printf("  model    %s/model.pb\n", res->run_dir);
    printf("  report   %s/report.html\n", res->run_dir);
    printf("  events   %s/events.jsonl\n", res->run_dir);
    return 0;
}

static int s_run(s_args *a, ch_launch_mode mode, ch_on_bound_fn on_bound, ch_run_result *res,
                 ch_err *err)
{
    ch_config *cfg;
    char resume_cfg[4096];
    const char *file = a->file;
    memset(res, 0, sizeof *res);
    if (a->resume) {
        /* a workflow directory keeps workflow.yaml, a run directory config.yaml */
        snprintf(resume_cfg, sizeof resume_cfg, "%s/workflow.yaml", a->resume);
        if (access(resume_cfg, R_OK) != 0) {
            snprintf(resume_cfg, sizeof resume_cfg, "%s/config.yaml", a->resume);
        }
        if (!file) {
            file = resume_cfg;
        }
        a->out = a->resume;
    }
    cfg = ch_cli_load_config(file, a->sets, a->n_sets);
    if (!cfg) {
        return ch_err_set(err, CH_EINVAL, "the configuration could not be loaded");
    }
    if (ch_workflow_is(cfg)) {
        if (mode != CH_LAUNCH_LOCAL) {
            ch_config_destroy(&cfg);
            return ch_err_set(err, CH_EINVAL,
                              "%s is a workflow: run it with `cohort run` outside mpirun (each "
                              "step starts its own local workers)",
                              file);
        }
        ch_workflow_opts wo = {.out_dir = a->out, .resume = a->resume != NULL,
                               .n_workers = a->workers};
        int rc = ch_workflow_run(cfg, file, &wo, res->run_dir, sizeof res->run_dir, err);
        snprintf(res->status, sizeof res->status, "%s", rc ? "failed" : "finished");
        res->workflow = true;
        return rc;
    }
    ch_run_opts o = {
        .cfg = cfg,
        .out_dir = a->out,
        .resume = a->resume != NULL,
        .mode = mode,
        .bind = a->bind,
        .n_workers = a->workers,
        .self_exe = ch_self_exe(),
        .on_bound = on_bound,
    };
    return ch_coordinator_run(&o, res, err);
}

static int s_mpi(s_args *a)
{
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ch_err err;
    ch_err_clear(&err);
    int status;
    if (rank == 0) {
        if (size < 2) {
            fprintf(stderr, "cohort: under mpirun rank 0 coordinates and the other ranks work: "
                            "use mpirun -np 2 or more\n");
            s_bcast("", NULL, NULL);
            MPI_Finalize();
            return 2;
        }
        if (a->workers && a->workers != size - 1) {
            fprintf(stderr, "cohort: --workers %ld ignored under mpirun: %d ranks give %d "
                            "workers\n",
                    a->workers, size, size - 1);
        }
        a->workers = size - 1;
        ch_run_result res;
        int rc = s_run(a, CH_LAUNCH_MPI, s_bcast, &res, &err);
        if (!res.bound) {
            s_bcast("", NULL, NULL);
        }
        status = s_report(&res, rc, &err);
    } else {
        char endpoint[S_ENDPOINT_MAX];
        MPI_Bcast(endpoint, S_ENDPOINT_MAX, MPI_CHAR, 0, MPI_COMM_WORLD);
        endpoint[S_ENDPOINT_MAX - 1] = 0;
        if (!endpoint[0]) {
            MPI_Finalize();
            return 1; /* the coordinator failed to start and said why */
        }
        ch_worker_opts wo = {.connect = endpoint, .rank = rank, .timeout_ms = 60000};
        int rc = ch_worker_main(&wo, &err);
        if (rc) {
            fprintf(stderr, "cohort: worker rank %d: error: %s\n", rank, err.msg);
        }
        status = rc ? 1 : 0;
    }
    /* No collective here: a dead rank must not hang the survivors (the
     * protocol, not MPI, decides what happened). */
    MPI_Finalize();
    return status;
}

int ch_cmd_run(int argc, char **argv)
{
    s_args a;
    int rc = s_parse(argc, argv, false, &a);
    if (rc) {
        return rc == 1 ? 0 : rc;
    }
    ch_cli_signals();
    if (s_under_mpirun()) {
        return s_mpi(&a);
    }
    ch_err err;
    ch_err_clear(&err);
    ch_run_result res;
    rc = s_run(&a, CH_LAUNCH_LOCAL, NULL, &res, &err);
    return s_report(&res, rc, &err);
}

int ch_cmd_coordinator(int argc, char **argv)
{
    s_args a;
    int rc = s_parse(argc, argv, true, &a);
    if (rc) {
        return rc == 1 ? 0 : rc;
    }
    ch_cli_signals();
    ch_err err;
    ch_err_clear(&err);
    ch_run_result res;
    rc = s_run(&a, CH_LAUNCH_STANDALONE, NULL, &res, &err);
    return s_report(&res, rc, &err);
}

static const char s_plan_help[] =
    "usage: cohort plan FILE.yaml [--workers N] [--set KEY=VALUE ...]\n"
    "\n"
    "Validates an experiment or workflow without running it and prints the\n"
    "resolved plan of every step: the algorithm, every parameter with its\n"
    "default filled in, the rows each worker gets, and the estimated memory per\n"
    "worker, bytes sent per round and floating-point work per round.\n";

int ch_cmd_plan(int argc, char **argv)
{
    s_args a;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(s_plan_help, stdout);
            return 0;
        }
    }
    int rc = s_parse(argc, argv, false, &a);
    if (rc) {
        return rc == 1 ? 0 : rc;
    }
    ch_config *cfg = ch_cli_load_config(a.file, a.sets, a.n_sets);
    if (!cfg) {
        return 1;
    }
    ch_err err;
    ch_err_clear(&err);
    if (ch_workflow_is(cfg)) {
        ch_workflow_opts wo = {.plan_only = true, .n_workers = a.workers};
        char dir[1024];
        rc = ch_workflow_run(cfg, a.file, &wo, dir, sizeof dir, &err);
    } else {
        ch_buf out;
        ch_buf_init(&out);
        rc = ch_plan_describe(cfg, a.workers, &out, &err);
        fputs(ch_buf_str(&out), stdout);
        ch_buf_free(&out);
        ch_config_destroy(&cfg);
    }
    if (rc) {
        fprintf(stderr, "cohort plan: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
