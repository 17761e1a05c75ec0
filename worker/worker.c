/* worker.c: the worker loop (see worker.h). */
#include "worker/worker.h"
#include "algorithms/algo.h"
#include "common/experiment.h"
#include "common/log.h"
#include "common/pb.h"
#include "common/schema_pb.h"
#include "common/wire.h"
#include "worker/heartbeat.h"
#include "worker/offers.h"

#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

typedef struct s_worker {
    const ch_worker_opts *o;
    void *zctx, *sock;
    char experiment[256];
    int32_t index;
    ch_experiment x;
    bool have_x;
    ch_table *silo; /* by-file: the table read from --data */
    ch_plan plan;
    ch_worker_env env;
    ch_table_lease *lease; /* on x.train, when it can be read again */
    void *st;
    ch_heartbeat *hb;
    bool curve;
    ch_keypair server;   /* the coordinator's public key */
    ch_keypair kp;       /* this worker's keypair */
    bool by_file;        /* the plan holds only this silo: global shard index -> local 0 */
    uint32_t silo_shard; /* by-file: the global shard index of this silo */
    ch_offers *offers;   /* updates announced, waiting for their GRANT */
} s_worker;

static void s_send_error(s_worker *w, const char *msg)
{
    Cohort__Error em = COHORT__ERROR__INIT;
    em.message = (char *)msg;
    ch_wire_send_msg(w->sock, NULL, 0, w->experiment, 0, w->index, COHORT__KIND__ERROR, &em.base,
                     NULL);
}

static int s_hello(s_worker *w, ch_err *err)
{
    Cohort__Hello h = COHORT__HELLO__INIT;
    Cohort__DataSummary ds = COHORT__DATA_SUMMARY__INIT;
    char host[128];
    if (gethostname(host, sizeof host) != 0) {
        snprintf(host, sizeof host, "?");
    }
    host[sizeof host - 1] = 0;
    h.rank = w->o->rank;
    h.host = host;
    h.pid = (int32_t)getpid();
    Cohort__Schema *spb = NULL;
    ch_schema *schema = NULL;
    if (w->silo) {
        ds.rows = w->silo->n_rows;
        ds.cols = (uint32_t)w->silo->n_cols;
        ds.fingerprint = ch_table_fingerprint(w->silo);
        ds.path = (char *)w->o->data_path;
        h.data = &ds;
        schema = ch_schema_from_table(w->silo, NULL);
        spb = schema ? ch_schema_to_pb(schema) : NULL;
        if (!spb) {
            ch_schema_destroy(&schema);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        h.schema = spb;
    }
    int rc = ch_wire_send_msg(w->sock, NULL, 0, "", 0, -1, COHORT__KIND__HELLO, &h.base, err);
    ch_schema_pb_free(spb);
    ch_schema_destroy(&schema);
    return rc;
}

/* The table lease's loader: the training rows read again from data.train. */
static int s_reload_train(void *ctx, ch_table **out, ch_err *err)
{
    return ch_experiment_reload_train(ctx, out, err);
}

/* Builds the experiment from the Assign: config, data, plan, algorithm. */
static int s_setup(s_worker *w, const Cohort__Assign *a, ch_err *err)
{
    ch_config *cfg =
        ch_config_parse(a->config_yaml, strlen(a->config_yaml), "assigned config", err);
    if (!cfg) {
        return err->code;
    }
    int rc = ch_experiment_configure(&w->x, cfg, err);
    w->have_x = true;
    if (rc) {
        return rc;
    }
    if (a->n_workers == 0 || a->worker < 0 || (uint32_t)a->worker >= a->n_workers) {
        return ch_err_set(err, CH_EPROTO, "assignment for worker %d of %u", a->worker,
                          a->n_workers);
    }
    w->index = a->worker;
    char role[64];
    snprintf(role, sizeof role, "worker %d", w->index);
    ch_log_role(role);
    /* heartbeats start now: loading data can take a while */
    w->hb = ch_heartbeat_start(
        w->zctx, a->heartbeat && a->heartbeat[0] ? a->heartbeat : w->o->connect, w->experiment,
        w->index, w->x.rt.heartbeat_ms / 4 > 1000 ? 1000 : w->x.rt.heartbeat_ms / 4,
        w->x.rt.coordinator_timeout_ms, w->curve ? w->server.public_key : NULL, &w->kp, err);
    if (!w->hb) {
        return err->code;
    }
    if (a->by_file) {
        if (!w->silo) {
            return ch_err_set(err, CH_EINVAL, "by-file experiment but this worker has no --data");
        }
        ch_schema *merged = ch_schema_from_pb(a->schema, err);
        if (!merged) {
            return err->code;
        }
        if (w->x.weights && (rc = ch_table_set_weights(w->silo, w->x.weights, err))) {
            ch_schema_destroy(&merged);
            return ch_err_prefix(err, "%s", w->o->data_path);
        }
        rc = ch_table_conform(w->silo, merged, err);
        if (rc == 0 && !w->silo->has_target && w->x.algo->needs_target) {
            rc = ch_err_set(err, CH_EINVAL, "%s has no target column '%s'", w->o->data_path,
                            w->x.target);
        }
        w->x.schema = merged;
        if (rc) {
            return ch_err_prefix(err, "%s", w->o->data_path);
        }
        w->x.train = w->silo;
        w->silo = NULL;
        if ((rc = ch_plan_single(w->x.train->n_rows, &w->plan))) {
            return ch_err_set(err, rc, "%s: cannot plan %zu rows", w->o->data_path,
                              w->x.train->n_rows);
        }
        w->env.block_offset = a->block_offset;
        w->by_file = true;
        w->silo_shard = a->shard;
    } else {
        if ((rc = ch_experiment_load(&w->x, NULL, err))) {
            return rc;
        }
        if ((rc = ch_plan_make_or_empty(w->x.train, w->x.scheme, a->n_workers, w->x.alpha,
                                        w->x.seed, &w->plan, err))) {
            return rc;
        }
        w->env.block_offset = 0;
        /* a worker trains on its shard; the held-out rows are the
         * coordinator's */
        ch_table_destroy(&w->x.test);
        if (w->x.train_path &&
            !(w->lease = ch_table_lease_new(&w->x.train, s_reload_train, &w->x))) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if ((rc = w->x.algo->configure(w->x.cfg, w->x.schema, err))) {
        return rc;
    }
    w->env.cfg = w->x.cfg;
    w->env.schema = w->x.schema;
    w->env.train = w->x.train;
    w->env.lease = w->lease;
    w->env.plan = &w->plan;
    /* a silo's blocks are numbered among all silos'; a simulated worker's
     * plan is the whole plan */
    w->env.n_blocks_total = w->by_file ? a->n_blocks : w->plan.n_blocks;
    w->env.worker = w->index;
    w->env.seed = w->x.seed;
    if (w->env.block_offset + w->plan.n_blocks > w->env.n_blocks_total) {
        return ch_err_set(err, CH_EPROTO, "assigned blocks [%llu, +%zu) exceed the %llu blocks",
                          (unsigned long long)w->env.block_offset, w->plan.n_blocks,
                          (unsigned long long)a->n_blocks);
    }
    Cohort__Ready r = COHORT__READY__INIT;
    Cohort__DataSummary ds = COHORT__DATA_SUMMARY__INIT;
    r.train_rows = w->x.train->n_rows;
    if (!w->by_file) {
        /* the coordinator checks that every worker read the same data
         * (taken before worker_new, which may release the table) */
        ds.rows = w->x.train->n_rows;
        ds.cols = (uint32_t)w->x.train->n_cols;
        ds.fingerprint =
            w->lease ? ch_table_lease_fingerprint(w->lease) : ch_table_fingerprint(w->x.train);
        r.data = &ds;
    }
    w->st = w->x.algo->worker_new(&w->env, err);
    if (!w->st) {
        return err->code ? err->code : CH_EINVAL;
    }
    return ch_wire_send_msg(w->sock, NULL, 0, w->experiment, 0, w->index, COHORT__KIND__READY,
                            &r.base, err);
}

/* Fault injection for the test suite (as SQLite's tests inject faults):
 * COHORT_TEST_TASK_DELAY_MS makes every task wait, so a test can kill a
 * worker or the coordinator while a round is in flight. */
static void s_test_delay(void)
{
    const char *v = getenv("COHORT_TEST_TASK_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0 && ms < 600000) {
        usleep((useconds_t)ms * 1000);
    }
}

/* Upload flow control (docs/protocol.md): packs the update, holds it, and
 * announces it with an OFFER; s_grant sends it when the coordinator says. */
static int s_offer(s_worker *w, const Cohort__Update *u, ch_err *err)
{
    ch_buf packed;
    ch_buf_init(&packed);
    if (ch_pb_append(&u->base, &packed, err) != 0) {
        return CH_ENOMEM;
    }
    size_t size = packed.len;
    if (!w->offers && !(w->offers = ch_offers_new())) {
        ch_buf_free(&packed);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (ch_offers_hold_take(w->offers, u->round, u->shard, &packed) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    Cohort__Offer of = COHORT__OFFER__INIT;
    of.round = u->round;
    of.op = u->op;
    of.shard = u->shard;
    of.bytes = size;
    return ch_wire_send_msg(w->sock, NULL, 0, w->experiment, u->round, w->index,
                            COHORT__KIND__OFFER, &of.base, err);
}

/* Fault injection: COHORT_TEST_DIE_ON_GRANT=S1,S2 makes the worker of
 * shards S1, S2 kill itself (SIGKILL) when its upload is granted, so a test
 * can check that a slot held by a dead silo is reclaimed. */
static void s_test_die_on_grant(uint32_t shard)
{
    const char *v = getenv("COHORT_TEST_DIE_ON_GRANT");
    while (v && *v) {
        char *end;
        unsigned long s = strtoul(v, &end, 10);
        if (end == v) {
            return;
        }
        if (s == shard) {
            kill(getpid(), SIGKILL);
        }
        v = *end == ',' ? end + 1 : end;
    }
}

/* Fault injection: COHORT_TEST_HANG_ON_GRANT=S:SECONDS makes the worker of
 * shard S sleep that long when its upload is granted, before sending it,
 * its heartbeat thread still beating: a silo hung, not dead. */
static void s_test_hang_on_grant(uint32_t shard)
{
    const char *v = getenv("COHORT_TEST_HANG_ON_GRANT");
    char *end;
    unsigned long s = v ? strtoul(v, &end, 10) : 0;
    if (v && end != v && *end == ':' && s == shard) {
        double secs = strtod(end + 1, NULL);
        if (secs > 0 && secs < 3600) {
            ch_warn("test: hanging %.1f s on the grant of shard %u", secs, shard);
            struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
            while (nanosleep(&ts, &ts) != 0) {
            }
        }
    }
}

/* A GRANT: sends the held update it names. A grant for an update not held
 * (already dropped for a later round) is ignored. */
static int s_grant(s_worker *w, const Cohort__Envelope *env, ch_err *err)
{
    Cohort__Grant *g = cohort__grant__unpack(NULL, env->payload.len, env->payload.data);
    if (!g) {
        ch_warn("rejected a GRANT whose payload does not decode");
        return 0;
    }
    ch_buf up;
    ch_buf_init(&up);
    int rc = 0;
    if (w->offers && ch_offers_take(w->offers, g->round, g->shard, &up)) {
        s_test_die_on_grant(g->shard);
        s_test_hang_on_grant(g->shard);
        rc = ch_wire_send(w->sock, NULL, 0, w->experiment, g->round, w->index, COHORT__KIND__UPDATE,
                          up.data, up.len, err);
        ch_buf_free(&up);
    } else {
        ch_debug("a GRANT for round %u shard %u, which this worker does not hold", g->round,
                 g->shard);
    }
    cohort__grant__free_unpacked(g, NULL);
    return rc;
}

static int s_task(s_worker *w, const Cohort__Envelope *env, ch_err *err)
{
    s_test_delay();
    Cohort__Task *t = cohort__task__unpack(NULL, env->payload.len, env->payload.data);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "a TASK whose payload does not decode");
    }
    int rc = 0;
    for (size_t i = 0; i < t->n_shards && rc == 0; i++) {
        uint32_t shard = t->shards[i];
        uint32_t local = shard;
        if (w->by_file) {
            if (shard != w->silo_shard) {
                rc =
                    ch_err_set(err, CH_EPROTO, "task for silo %u sent to silo %d", shard, w->index);
                break;
            }
            local = 0;
        }
        if (local >= w->plan.n_shards) {
            rc = ch_err_set(err, CH_EPROTO, "task for shard %u; the plan has %zu", shard,
                            w->plan.n_shards);
            break;
        }
        ch_buf out;
        ch_buf_init(&out);
        uint64_t samples = 0;
        int64_t t0 = ch_now_ms();
        rc = w->x.algo->run_task(w->st, t->round, t->op, t->state.data, t->state.len, local, &out,
                                 &samples, err);
        if (rc == 0) {
            Cohort__Update u = COHORT__UPDATE__INIT;
            u.round = t->round;
            u.op = t->op;
            u.shard = shard;
            u.samples = samples;
            u.state.data = out.data;
            u.state.len = out.len;
            u.compute_seconds = (double)(ch_now_ms() - t0) / 1000.0;
            if (t->announce) {
                rc = s_offer(w, &u, err);
            } else {
                rc = ch_wire_send_msg(w->sock, NULL, 0, w->experiment, t->round, w->index,
                                      COHORT__KIND__UPDATE, &u.base, err);
            }
        }
        ch_buf_free(&out);
    }
    cohort__task__free_unpacked(t, NULL);
    return rc;
}

/* The next message if one is already waiting (no wait); false otherwise or
 * when it is not a well-formed message (it is then dropped, as the main
 * loop would drop it). */
static bool s_read_ahead(s_worker *w, ch_wire_msg *next)
{
    ch_err e;
    ch_err_clear(&e);
    return ch_wire_recv(w->sock, false, w->experiment[0] ? w->experiment : NULL, 0, next, &e) == 0;
}

static int s_loop(s_worker *w, ch_err *err)
{
    int rc = s_hello(w, err);
    if (rc) {
        return rc;
    }
    /* until assigned, the coordinator's silence is timed here */
    int64_t deadline = ch_now_ms() + w->o->timeout_ms;
    ch_wire_msg next; /* a message read ahead by s_skip_stale */
    bool have_next = false;
    for (;;) {
        ch_wire_msg m;
        ch_err lerr;
        ch_err_clear(&lerr);
        long wait = w->hb ? 1000 : 200;
        if (have_next) {
            m = next;
            have_next = false;
            rc = 0;
        } else {
            rc = ch_wire_recv(w->sock, false, w->experiment[0] ? w->experiment : NULL, (int)wait,
                              &m, &lerr);
        }
        if (rc == CH_ETIMEOUT || rc == CH_EINTR) {
            if (!w->hb && ch_now_ms() > deadline) {
                return ch_err_set(err, CH_ETIMEOUT, "no coordinator answered at %s within %.0f s",
                                  w->o->connect, (double)w->o->timeout_ms / 1000);
            }
            if (w->o->local && getppid() == 1) {
                return ch_err_set(err, CH_ELOST, "the coordinator process is gone");
            }
            continue;
        }
        if (rc == CH_EPROTO) {
            ch_warn("rejected a message: %s", lerr.msg);
            continue;
        }
        if (rc) {
            return ch_err_set(err, rc, "%s", lerr.msg);
        }
        Cohort__Envelope *env = m.env;
        switch (env->kind) {
        case COHORT__KIND__ASSIGN: {
            if (w->st) {
                ch_warn("ignoring a second assignment");
                break;
            }
            snprintf(w->experiment, sizeof w->experiment, "%s", env->experiment);
            Cohort__Assign *a = cohort__assign__unpack(NULL, env->payload.len, env->payload.data);
            if (!a) {
                rc = ch_err_set(err, CH_EPROTO, "an ASSIGN whose payload does not decode");
            } else {
                rc = s_setup(w, a, err);
                cohort__assign__free_unpacked(a, NULL);
            }
            break;
        }
        case COHORT__KIND__TASK:
            if (!w->st) {
                rc = ch_err_set(err, CH_EPROTO, "a TASK before any assignment");
                break;
            }
            if (w->offers && ch_offers_drop_before(w->offers, env->round) > 0) {
                /* the coordinator closed that round without granting them */
                ch_debug("dropped the ungranted updates of rounds before %u", env->round);
            }
            have_next = s_read_ahead(w, &next);
            if (have_next && next.env->round > env->round &&
                (next.env->kind == COHORT__KIND__TASK || next.env->kind == COHORT__KIND__BYE)) {
                /* a later round is already here, so the coordinator has this
                 * round's result from another worker (runtime.speculate) */
                ch_debug("skipping the stale task of round %u", env->round);
                break;
            }
            if (have_next && next.env->kind == COHORT__KIND__BYE) {
                break; /* the run is over */
            }
            rc = s_task(w, env, err);
            break;
        case COHORT__KIND__GRANT:
            rc = s_grant(w, env, err);
            break;
        case COHORT__KIND__BYE:
            ch_wire_msg_free(&m);
            return 0;
        case COHORT__KIND__ERROR: {
            Cohort__Error *em = cohort__error__unpack(NULL, env->payload.len, env->payload.data);
            rc = ch_err_set(err, CH_EINVAL, "the coordinator refused this worker: %s",
                            em && em->message ? em->message : "(no reason)");
            if (em) {
                cohort__error__free_unpacked(em, NULL);
            }
            break;
        }
        default:
            ch_debug("ignoring a %s message", ch_wire_kind_name(env->kind));
        }
        ch_wire_msg_free(&m);
        if (rc) {
            if (have_next) {
                ch_wire_msg_free(&next);
            }
            if (rc != CH_EPROTO || w->st) {
                s_send_error(w, err->msg);
            }
            return rc;
        }
    }
}

int ch_worker_main(const ch_worker_opts *o, ch_err *err)
{
    s_worker w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.index = -1;
    char role[64];
    snprintf(role, sizeof role, "worker");
    if (o->rank >= 0) {
        snprintf(role, sizeof role, "worker r%d", o->rank);
    }
    ch_log_role(role);
    /* one BLAS thread per worker: workers share the machine's cores, and a
     * fixed thread count keeps BLAS results reproducible */
    openblas_set_num_threads(1);
    int rc = 0;
    if (o->data_path) {
        w.silo = ch_table_read(o->data_path, CH_FORMAT_AUTO, err);
        if (!w.silo) {
            return err->code;
        }
        if (w.silo->n_rows == 0) {
            ch_table_destroy(&w.silo);
            return ch_err_set(err, CH_EINVAL, "%s has no data rows", o->data_path);
        }
    }
    if (o->curve_server) {
        if ((rc = ch_curve_load(o->curve_server, false, &w.server, err)) != 0) {
            ch_table_destroy(&w.silo);
            return rc;
        }
        if (o->curve_key) {
            rc = ch_curve_load(o->curve_key, true, &w.kp, err);
        } else if (zmq_curve_keypair(w.kp.public_key, w.kp.secret_key) != 0) {
            rc = ch_err_set(err, CH_EINVAL, "this ZeroMQ has no CURVE support");
        }
        if (rc) {
            ch_table_destroy(&w.silo);
            return rc;
        }
        w.curve = true;
    }
    w.zctx = zmq_ctx_new();
    w.sock = w.zctx ? zmq_socket(w.zctx, ZMQ_DEALER) : NULL;
    if (!w.sock || ch_wire_setup(w.sock, CH_DEFAULT_MAX_MESSAGE, err) != 0 ||
        (w.curve && ch_curve_client(w.sock, w.server.public_key, &w.kp, err) != 0) ||
        zmq_connect(w.sock, o->connect) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot connect to %s: %s", o->connect,
                        zmq_strerror(zmq_errno()));
    } else {
        rc = s_loop(&w, err);
    }
    ch_heartbeat_stop(&w.hb);
    ch_offers_destroy(&w.offers);
    if (w.st) {
        w.x.algo->worker_destroy(&w.st);
    }
    ch_plan_free(&w.plan);
    ch_table_lease_destroy(&w.lease);
    if (w.have_x) {
        ch_experiment_free(&w.x);
    }
    ch_table_destroy(&w.silo);
    if (w.sock) {
        zmq_close(w.sock);
    }
    if (w.zctx) {
        zmq_ctx_term(w.zctx);
    }
    return rc;
}
