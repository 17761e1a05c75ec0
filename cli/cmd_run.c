/* cmd_run.c: `cohort run` and `cohort coordinator`: run an experiment, with
 * local workers, under mpirun, or as a standalone coordinator. */
#include "cli/cli.h"
#include "common/curve.h"
#include "common/experiment.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "coordinator/outputs.h"
#include "coordinator/engine.h"
#include "coordinator/plan.h"
#include "coordinator/sweep.h"
#include "coordinator/workflow.h"
#include "worker/worker.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/wire.h"

#define S_MAX_SETS     256
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
    "only model statistics leave it.\n"
    "\n"
    "  --curve-key FILE      the coordinator's CURVE keypair (NAME.key from `cohort\n"
    "                        keygen NAME`): tasks and updates are encrypted\n"
    "  --curve-clients DIR   admit only workers whose public key (*.pub) is in DIR\n";

typedef struct s_args {
    const char *file;
    const char *out;
    const char *resume;
    const char *bind;
    const char *curve_key;
    const char *curve_clients;
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
                   (coordinator && ch_arg_value(argc, argv, &i, "--bind", &a->bind, &bad)) ||
                   (coordinator &&
                    ch_arg_value(argc, argv, &i, "--curve-key", &a->curve_key, &bad)) ||
                   (coordinator &&
                    ch_arg_value(argc, argv, &i, "--curve-clients", &a->curve_clients, &bad))) {
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

/* Broadcasts the coordinator's endpoint from rank 0 of the communicator
 * ctx points to (MPI_COMM_WORLD when ctx is NULL). */
static int s_bcast(const char *endpoint, void *ctx, ch_err *err)
{
    (void)err;
    char buf[S_ENDPOINT_MAX];
    memset(buf, 0, sizeof buf);
    snprintf(buf, sizeof buf, "%s", endpoint);
    MPI_Bcast(buf, S_ENDPOINT_MAX, MPI_CHAR, 0, ctx ? *(MPI_Comm *)ctx : MPI_COMM_WORLD);
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
        if (res->run_dir[0] && res->workflow) {
            fprintf(stderr, "cohort: %s: %s; `cohort run --resume %s` continues it\n", res->run_dir,
                    res->status, res->run_dir);
        } else if (res->run_dir[0]) {
            fprintf(stderr, "cohort: run %s: %s (see %s/summary.json)\n", res->run_dir, res->status,
                    res->run_dir);
        }
        return 1;
    }
    if (res->workflow) {
        printf("workflow finished: %s (open %s/index.html)\n", res->run_dir, res->run_dir);
        return 0;
    }
    /* the model's plain-text summary first (short ones only) */
    char path[1100];
    snprintf(path, sizeof path, "%s/summary.txt", res->run_dir);
    size_t len;
    uint8_t *text = ch_read_file(path, 64 << 10, &len, NULL);
    if (text) {
        fwrite(text, 1, len, stdout);
        printf("\n");
        free(text);
    }
    printf("run finished: %s\n", res->run_dir);
    printf("  summary  %s/summary.json\n", res->run_dir);
    printf("  model    %s/model.pb\n", res->run_dir);
    printf("  report   %s/report.html\n", res->run_dir);
    printf("  events   %s/events.jsonl\n", res->run_dir);
    return 0;
}

/* Fixes the sweep's directory and keeps its config there as sweep.yaml, so
 * that `cohort run --resume DIR` knows what to continue. */
static int s_save_sweep(const ch_config *cfg, const char *out, ch_sweep_opts *so,
                        ch_run_result *res, ch_err *err)
{
    if (out) {
        snprintf(res->run_dir, sizeof res->run_dir, "%s", out);
    } else {
        const char *name = "sweep";
        char id[160];
        ch_config *c = ch_config_copy(cfg);
        if (c) {
            ch_cfg_str(c, "name", "sweep", &name, NULL);
        }
        ch_outputs_run_id(name, id, sizeof id);
        ch_config_destroy(&c);
        snprintf(res->run_dir, sizeof res->run_dir, "runs/%s", id);
    }
    so->out_dir = res->run_dir;
    int rc = ch_mkdirs(res->run_dir, err);
    ch_config *c = rc == 0 ? ch_config_copy(cfg) : NULL;
    if (c && ch_experiment_resolve_paths(c, err) == 0) {
        char *yaml = ch_config_emit(c);
        char *path = ch_path_join(res->run_dir, "sweep.yaml");
        if (yaml && path && !so->resume) {
            rc = ch_write_file_atomic(path, yaml, strlen(yaml), err);
        }
        free(yaml);
        free(path);
    }
    ch_config_destroy(&c);
    return rc;
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
            snprintf(resume_cfg, sizeof resume_cfg, "%s/sweep.yaml", a->resume);
        }
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
    if (ch_sweep_is(cfg) && mode == CH_LAUNCH_LOCAL) {
        ch_sweep sw;
        int rc = ch_sweep_expand(cfg, a->workers, &sw, err);
        if (rc == 0) {
            ch_sweep_opts so = {.out_dir = a->out,
                                .resume = a->resume != NULL,
                                .n_workers = a->workers,
                                .self_exe = ch_self_exe()};
            rc = s_save_sweep(cfg, a->out, &so, res, err);
            if (rc == 0) {
                rc = ch_sweep_run_local(&sw, &so, res->run_dir, sizeof res->run_dir, err);
            }
            ch_sweep_free(&sw);
        }
        ch_config_destroy(&cfg);
        snprintf(res->status, sizeof res->status, "%s", rc ? "failed" : "finished");
        res->workflow = true;
        return rc;
    }
    if (ch_workflow_is(cfg)) {
        if (mode != CH_LAUNCH_LOCAL) {
            ch_config_destroy(&cfg);
            return ch_err_set(err, CH_EINVAL,
                              "%s is a workflow: run it with `cohort run` outside mpirun (each "
                              "step starts its own local workers)",
                              file);
        }
        ch_workflow_opts wo = {
            .out_dir = a->out, .resume = a->resume != NULL, .n_workers = a->workers};
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
        .curve_key = a->curve_key,
        .curve_clients = a->curve_clients,
    };
    if (a->curve_clients && !a->curve_key) {
        ch_config_destroy(&cfg);
        return ch_err_set(err, CH_EINVAL, "--curve-clients needs --curve-key");
    }
    return ch_coordinator_run(&o, res, err);
}

/* A sweep under mpirun: the ranks are split into groups of (workers + 1);
 * in each group rank 0 coordinates the trials i with i % groups == group,
 * one after another, and the others are its workers. Ranks left over idle.
 * Rank 0 of the world writes the results table when every group is done. */
static int s_mpi_sweep(s_args *a, ch_config *cfg, int rank, int size)
{
    ch_err err;
    ch_err_clear(&err);
    ch_sweep sw;
    memset(&sw, 0, sizeof sw);
    long workers = a->workers;
    if (workers <= 0) {
        ch_config *c = ch_config_copy(cfg);
        workers = 1;
        if (c) {
            ch_cfg_int(c, "workers", 1, 1, 4096, &workers, NULL);
        }
        ch_config_destroy(&c);
    }
    int ok = 1;
    if (rank == 0) {
        ok = ch_sweep_expand(cfg, workers, &sw, &err) == 0;
        if (!ok) {
            fprintf(stderr, "cohort: error: %s\n", err.msg);
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    int groups = size / (int)(workers + 1);
    if (ok && groups < 1) {
        if (rank == 0) {
            fprintf(stderr,
                    "cohort: a sweep with %ld workers per trial needs at least %ld ranks; "
                    "lower `workers` or raise -np\n",
                    workers, workers + 1);
        }
        ok = 0;
    }
    if (!ok) {
        ch_sweep_free(&sw);
        ch_config_destroy(&cfg);
        MPI_Finalize();
        return 1;
    }
    /* rank 0 fixes the directory and tells everyone */
    char dir[1024] = {0};
    ch_run_result res;
    memset(&res, 0, sizeof res);
    if (rank == 0) {
        ch_sweep_opts so = {.out_dir = a->resume ? a->resume : a->out, .resume = a->resume != NULL};
        if (s_save_sweep(cfg, so.out_dir, &so, &res, &err) != 0) {
            fprintf(stderr, "cohort: error: %s\n", err.msg);
        }
        snprintf(dir, sizeof dir, "%s", res.run_dir);
        printf("sweep: %zu trials on %d groups of %ld workers, in %s\n", sw.n, groups, workers,
               dir);
        fflush(stdout);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    unsigned long n_trials = sw.n;
    MPI_Bcast(&n_trials, 1, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        ok = ch_sweep_expand(cfg, workers, &sw, &err) == 0 || 1;
    }
    int color = rank < groups * (int)(workers + 1) ? rank / (int)(workers + 1) : MPI_UNDEFINED;
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &group);
    int status = 0;
    if (color != MPI_UNDEFINED) {
        int grank;
        MPI_Comm_rank(group, &grank);
        if (grank == 0) {
            for (size_t i = (size_t)color; i < n_trials && i < sw.n; i += (size_t)groups) {
                if (a->resume && ch_sweep_trial_done(dir, i)) {
                    continue;
                }
                char *yaml = ch_sweep_write_trial(dir, &sw.trials[i], &err);
                char *td = ch_sweep_trial_dir(dir, i);
                ch_config *tc = yaml ? ch_cli_load_config(yaml, NULL, 0) : NULL;
                ch_run_result tr;
                memset(&tr, 0, sizeof tr);
                int rc = CH_EINVAL;
                if (tc && td) {
                    ch_run_opts o = {.cfg = tc,
                                     .out_dir = td,
                                     .mode = CH_LAUNCH_MPI,
                                     .n_workers = workers,
                                     .self_exe = ch_self_exe(),
                                     .on_bound = s_bcast,
                                     .on_bound_ctx = &group};
                    rc = ch_coordinator_run(&o, &tr, &err);
                }
                if (!tr.bound) {
                    s_bcast("-", &group, NULL); /* this trial never started: skip it */
                }
                printf("  trial %zu %s%s%s\n", i, rc ? "failed: " : "finished", rc ? err.msg : "",
                       "");
                fflush(stdout);
                free(yaml);
                free(td);
                ch_err_clear(&err);
            }
            s_bcast("", &group, NULL); /* no more trials for this group */
        } else {
            for (;;) {
                char endpoint[S_ENDPOINT_MAX];
                MPI_Bcast(endpoint, S_ENDPOINT_MAX, MPI_CHAR, 0, group);
                endpoint[S_ENDPOINT_MAX - 1] = 0;
                if (!endpoint[0]) {
                    break;
                }
                if (!strcmp(endpoint, "-")) {
                    continue;
                }
                ch_worker_opts wo = {.connect = endpoint, .rank = rank, .timeout_ms = 60000};
                if (ch_worker_main(&wo, &err) != 0) {
                    fprintf(stderr, "cohort: worker rank %d: error: %s\n", rank, err.msg);
                }
            }
        }
        MPI_Comm_free(&group);
    }
    /* wait for every group without a blocking collective: a dead rank must
     * not hang the table (then its trials show as unfinished) */
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rank == 0) {
        int64_t last_progress = ch_now_ms();
        size_t last_done = 0;
        for (;;) {
            int flag = 0;
            MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
            size_t done = 0;
            for (size_t i = 0; i < sw.n; i++) {
                done += ch_sweep_trial_done(dir, i);
            }
            if (flag || done == sw.n) {
                break;
            }
            if (done != last_done) {
                last_done = done;
                last_progress = ch_now_ms();
            }
            if (ch_now_ms() - last_progress > 600000) {
                fprintf(stderr, "cohort: no trial finished for 10 minutes; writing the table\n");
                break;
            }
            usleep(100000);
        }
        status = ch_sweep_finish(&sw, dir, &err) == 0 ? 0 : 1;
        if (status) {
            fprintf(stderr, "cohort: error: %s\n", err.msg);
        }
    } else {
        int flag = 0;
        int64_t start = ch_now_ms();
        while (!flag && ch_now_ms() - start < 5000) {
            MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
            usleep(10000);
        }
    }
    ch_sweep_free(&sw);
    ch_config_destroy(&cfg);
    MPI_Finalize();
    return status;
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
    {
        /* a sweep splits the ranks into groups; everything else is one run */
        char resume_cfg[4096];
        const char *file = a->file;
        if (!file && a->resume) {
            snprintf(resume_cfg, sizeof resume_cfg, "%s/sweep.yaml", a->resume);
            file = resume_cfg;
        }
        ch_config *cfg = file && access(file, R_OK) == 0 ? ch_config_load(file, NULL) : NULL;
        for (int k = 0; cfg && k < a->n_sets; k++) {
            ch_config_set(cfg, a->sets[k], NULL);
        }
        if (cfg && ch_sweep_is(cfg)) {
            return s_mpi_sweep(a, cfg, rank, size);
        }
        ch_config_destroy(&cfg);
    }
    if (rank == 0) {
        if (size < 2) {
            fprintf(stderr, "cohort: under mpirun rank 0 coordinates and the other ranks work: "
                            "use mpirun -np 2 or more\n");
            s_bcast("", NULL, NULL);
            MPI_Finalize();
            return 2;
        }
        if (a->workers && a->workers != size - 1) {
            fprintf(stderr,
                    "cohort: --workers %ld ignored under mpirun: %d ranks give %d "
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

int ch_cmd_keygen(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs("usage: cohort keygen NAME\n\nWrites NAME.key (a CURVE keypair, mode 0600) and "
              "NAME.pub (its public key)\nfor `cohort coordinator --curve-key` and `cohort worker "
              "--curve-server/--curve-key`.\nGive workers the coordinator's .pub; put each "
              "worker's .pub in the\ncoordinator's --curve-clients directory.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    ch_err err;
    ch_err_clear(&err);
    if (ch_curve_keygen(argv[1], &err) != 0) {
        fprintf(stderr, "cohort keygen: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s.key (secret) and %s.pub\n", argv[1], argv[1]);
    return 0;
}
