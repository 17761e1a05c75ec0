/* engine.c: the coordinator's round engine (see engine.h). */
#include "coordinator/engine.h"
#include "algorithms/algo.h"
#include "common/checkpoint.h"
#include "common/events.h"
#include "common/experiment.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/model_file.h"
#include "common/schema_pb.h"
#include "common/tracking.h"
#include "common/wire.h"
#include "coordinator/hbserver.h"
#include "coordinator/launch.h"
#include "coordinator/outputs.h"
#include "coordinator/progress.h"
#include "coordinator/registry.h"
#include "coordinator/run_report.h"
#include "coordinator/uploads.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* The only process-wide mutable state: set from a signal handler. */
static volatile sig_atomic_t s_stop;

void ch_engine_request_stop(void)
{
    s_stop = 1;
}

bool ch_engine_stop_requested(void)
{
    return s_stop != 0;
}

typedef struct s_engine {
    const ch_run_opts *o;
    ch_experiment x;
    ch_table_lease *lease; /* on x.train, when it can be read again */
    void *zctx;
    void *router;
    char endpoint[512];
    ch_events *ev;
    ch_registry reg;
    ch_children kids;
    size_t n_workers;
    bool by_file;
    char run_id[160];
    char *run_dir;
    char *experiment_id; /* wire experiment id: the run id */
    ch_plan plan;
    size_t n_blocks;
    size_t n_train;
    void *st; /* algorithm coordinator state */
    uint32_t rounds_done;
    ch_ckpt_writer *ckw;    /* started with the first checkpoint */
    uint32_t resumed_round; /* the checkpoint a --resume started from */
    double t0;
    char *config_yaml;
    size_t rejected;
    ch_outputs out;
    ch_track *track; /* the tracking store; NULL if it could not be opened */
    ch_hbserver *hb; /* answers heartbeats while this thread is busy */
    bool curve;      /* CURVE on the task and heartbeat sockets */
    ch_keypair curve_kp;
    ch_zap *zap; /* admits only the authorised workers' keys */
    char hb_endpoint[512];
    ch_progress progress;
    double planned_rounds; /* from the algorithm's estimate; 0 if unknown */
} s_engine;

/* --- messages -------------------------------------------------------------- */

static void s_event(s_engine *e, const char *topic, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_event(s_engine *e, const char *topic, const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    ch_events_emit(e->ev, topic, body);
}

static int s_send(s_engine *e, ch_wslot *w, uint32_t round, Cohort__Kind kind,
                  const ProtobufCMessage *msg, ch_err *err)
{
    return ch_wire_send_msg(e->router, w->routing, w->routing_len, e->experiment_id, round, -1,
                            kind, msg, err);
}

static void s_lose(s_engine *e, ch_wslot *w, const char *why)
{
    if (w->state == CH_W_LOST || w->state == CH_W_DONE) {
        return;
    }
    char name[256];
    ch_registry_lose(w, why);
    ch_warn("%s lost: %s", ch_wslot_name(w, name, sizeof name), why);
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_printf(&b, "{\"worker\": %d, \"host\": ", w->index);
    ch_buf_json_str(&b, w->host);
    ch_buf_printf(&b, ", \"pid\": %d, \"reason\": ", w->pid);
    ch_buf_json_str(&b, why);
    ch_buf_puts(&b, "}");
    ch_events_emit(e->ev, "worker.lost", ch_buf_str(&b));
    ch_buf_free(&b);
    /* tell it to go, in case it is alive but late */
    Cohort__Bye bye = COHORT__BYE__INIT;
    bye.reason = (char *)"you were marked lost";
    ch_wire_send_msg(e->router, w->routing, w->routing_len, e->experiment_id, 0, -1,
                     COHORT__KIND__BYE, &bye.base, NULL);
}

/* Marks workers lost whose process died (local) or who stopped heartbeating.
 * Returns how many were newly lost. */
static size_t s_check_liveness(s_engine *e)
{
    size_t lost = 0;
    if (e->kids.n) {
        ch_children_poll(&e->kids);
    }
    int64_t now = ch_now_ms();
    for (size_t i = 0; i < e->reg.n; i++) {
        ch_wslot *w = &e->reg.w[i];
        if (w->state != CH_W_JOINED && w->state != CH_W_READY) {
            continue;
        }
        char why[200];
        /* local children: rank is the child index given on its command line */
        if (e->kids.n && w->rank >= 0 &&
            ch_children_dead(&e->kids, (size_t)w->rank, why, sizeof why)) {
            s_lose(e, w, why);
            lost++;
            continue;
        }
        int64_t beat = ch_hbserver_last(e->hb, w->index);
        if (beat > w->last_seen_ms) {
            w->last_seen_ms = beat;
        }
        if (now - w->last_seen_ms > e->x.rt.heartbeat_ms) {
            snprintf(why, sizeof why, "no heartbeat for %.1f s",
                     (double)(now - w->last_seen_ms) / 1000.0);
            s_lose(e, w, why);
            lost++;
        }
    }
    return lost;
}

/* Receives one message for the caller, answering heartbeats on the way.
 * Returns 0 with *m filled, CH_ELOST as soon as a worker is newly lost (the
 * caller reassigns its work), CH_ETIMEOUT when nothing came before the
 * deadline, CH_EINTR when a stop was requested, or CH_EIO. */
static int s_pump(s_engine *e, int64_t deadline_ms, ch_wire_msg *m, ch_err *err)
{
    for (;;) {
        if (s_stop) {
            return ch_err_set(err, CH_EINTR, "interrupted by a signal");
        }
        if (s_check_liveness(e) > 0) {
            return CH_ELOST;
        }
        int64_t now = ch_now_ms();
        if (now >= deadline_ms) {
            return CH_ETIMEOUT;
        }
        int wait = (int)(deadline_ms - now < 100 ? deadline_ms - now : 100);
        ch_err lerr;
        ch_err_clear(&lerr);
        int rc = ch_wire_recv(e->router, true, e->experiment_id, wait, m, &lerr);
        if (rc == CH_ETIMEOUT || rc == CH_EINTR) {
            continue;
        }
        if (rc == CH_EPROTO) {
            e->rejected++;
            ch_warn("rejected a message: %s", lerr.msg);
            s_event(e, "worker.rejected", "{\"reason\": \"protocol\"}");
            continue;
        }
        if (rc != 0) {
            return ch_err_set(err, rc, "%s", lerr.msg);
        }
        ch_wslot *w = ch_registry_get(&e->reg, m->env->sender);
        if (m->env->kind == COHORT__KIND__HEARTBEAT) {
            if (w && w->state != CH_W_LOST) {
                w->last_seen_ms = ch_now_ms();
            }
            ch_wire_send(e->router, m->routing, m->routing_len, e->experiment_id, 0, -1,
                         COHORT__KIND__HEARTBEAT, NULL, 0, NULL);
            ch_wire_msg_free(m);
            continue;
        }
        if (w && w->routing_len == m->routing_len &&
            memcmp(w->routing, m->routing, m->routing_len) == 0) {
            w->last_seen_ms = ch_now_ms();
        }
        return 0;
    }
}

/* The worker a message came from, checked against its routing id. */
static ch_wslot *s_sender(s_engine *e, const ch_wire_msg *m)
{
    ch_wslot *w = ch_registry_get(&e->reg, m->env->sender);
    if (!w || w->routing_len != m->routing_len ||
        memcmp(w->routing, m->routing, m->routing_len) != 0) {
        return NULL;
    }
    return w;
}

static int s_worker_error(s_engine *e, const ch_wire_msg *m, ch_err *err)
{
    ch_wslot *w = s_sender(e, m);
    Cohort__Error *em = cohort__error__unpack(NULL, m->env->payload.len, m->env->payload.data);
    char name[256];
    int rc =
        ch_err_set(err, CH_EINVAL, "%s: %s", w ? ch_wslot_name(w, name, sizeof name) : "a worker",
                   em && em->message ? em->message : "(unreadable error message)");
    if (em) {
        cohort__error__free_unpacked(em, NULL);
    }
    if (w) {
        w->state = CH_W_DONE;
    }
    return rc;
}

/* --- setup ----------------------------------------------------------------- */

static int s_bind(s_engine *e, ch_err *err)
{
    e->router = zmq_socket(e->zctx, ZMQ_ROUTER);
    if (!e->router) {
        return ch_err_set(err, CH_EIO, "cannot create a socket: %s", zmq_strerror(errno));
    }
    int one = 1;
    if (ch_wire_setup(e->router, e->x.rt.max_message, err) != 0 ||
        zmq_setsockopt(e->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0) {
        return ch_err_set(err, CH_EIO, "cannot configure the coordinator socket");
    }
    if (e->o->curve_key) {
        /* the authenticator must listen before a CURVE server binds */
        int rc = ch_curve_load(e->o->curve_key, true, &e->curve_kp, err);
        if (rc == 0 && e->o->curve_clients &&
            !(e->zap = ch_zap_start(e->zctx, e->o->curve_clients, err))) {
            rc = err ? err->code : CH_EIO;
        }
        if (rc == 0) {
            rc = ch_curve_server(e->router, &e->curve_kp, err);
        }
        if (rc) {
            return rc;
        }
        e->curve = true;
        ch_info("CURVE on: %s", e->zap ? "only the authorised workers may connect"
                                       : "encrypted; any worker with the server key may connect");
    }
    char want[512];
    if (e->o->mode == CH_LAUNCH_LOCAL) {
        snprintf(want, sizeof want, "ipc:///tmp/cohort-%ld-%s.ipc", (long)getpid(),
                 e->run_id + strlen(e->run_id) - 4);
    } else if (e->o->mode == CH_LAUNCH_MPI) {
        snprintf(want, sizeof want, "tcp://*:0");
    } else {
        snprintf(want, sizeof want, "%s", e->o->bind ? e->o->bind : "tcp://*:7000");
    }
    if (zmq_bind(e->router, want) != 0) {
        return ch_err_set(err, CH_EIO, "cannot bind %s: %s%s", want, zmq_strerror(errno),
                          errno == EADDRINUSE ? " (is another coordinator running? pick "
                                                "another port with --bind)"
                                              : "");
    }
    size_t n = sizeof e->endpoint;
    zmq_getsockopt(e->router, ZMQ_LAST_ENDPOINT, e->endpoint, &n);
    if (e->o->mode == CH_LAUNCH_MPI) {
        /* advertise a name the other ranks can reach */
        const char *host = getenv("COHORT_ADVERTISE_HOST");
        char hn[256];
        if (!host) {
            if (gethostname(hn, sizeof hn) != 0) {
                snprintf(hn, sizeof hn, "127.0.0.1");
            }
            hn[sizeof hn - 1] = 0;
            host = hn;
        }
        const char *port = strrchr(e->endpoint, ':');
        char adv[512];
        snprintf(adv, sizeof adv, "tcp://%s%s", host, port ? port : ":0");
        snprintf(e->endpoint, sizeof e->endpoint, "%s", adv);
    }
    return 0;
}

/* Registers the worker that sent HELLO m. Returns 0 with *out, 1 when the
 * peer was refused (it was told why), or a negative error. */
static int s_hello(s_engine *e, const ch_wire_msg *m, ch_wslot **out, ch_err *err)
{
    Cohort__Hello *h = cohort__hello__unpack(NULL, m->env->payload.len, m->env->payload.data);
    if (!h) {
        ch_warn("rejected a HELLO whose payload does not decode");
        return 1;
    }
    if (ch_registry_by_routing(&e->reg, m->routing, m->routing_len)) {
        cohort__hello__free_unpacked(h, NULL);
        return 1;
    }
    bool silo = h->data && h->data->rows > 0;
    if (silo != e->by_file) {
        Cohort__Error em = COHORT__ERROR__INIT;
        em.message = silo ? (char *)"this experiment's partition.scheme is not by-file; start "
                                    "the worker without --data"
                          : (char *)"this experiment's partition.scheme is by-file; start the "
                                    "worker with --data FILE";
        ch_wire_send_msg(e->router, m->routing, m->routing_len, e->experiment_id, 0, -1,
                         COHORT__KIND__ERROR, &em.base, NULL);
        ch_warn("refused worker %s pid %d: %s", h->host, h->pid, em.message);
        cohort__hello__free_unpacked(h, NULL);
        return 1;
    }
    ch_wslot *w = ch_registry_add(&e->reg, m->routing, m->routing_len);
    if (!w) {
        cohort__hello__free_unpacked(h, NULL);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    w->rank = e->kids.n ? h->rank : -1;
    w->pid = h->pid;
    snprintf(w->host, sizeof w->host, "%s", h->host ? h->host : "?");
    w->last_seen_ms = ch_now_ms();
    if (silo) {
        w->rows = h->data->rows;
        w->fingerprint = h->data->fingerprint;
        w->schema = ch_schema_from_pb(h->schema, err);
        if (!w->schema) {
            cohort__hello__free_unpacked(h, NULL);
            w->state = CH_W_DONE;
            return ch_err_prefix(err, "worker %d sent a bad schema", w->index);
        }
    }
    cohort__hello__free_unpacked(h, NULL);
    *out = w;
    return 0;
}

/* The heartbeat socket: next to the task socket (ipc: "<path>-hb"; tcp: a
 * free port on the same interface, advertised like the task endpoint). */
static int s_hb_start(s_engine *e, ch_err *err)
{
    char bind[600];
    if (strncmp(e->endpoint, "ipc://", 6) == 0) {
        snprintf(bind, sizeof bind, "%s-hb", e->endpoint);
    } else if (e->o->mode == CH_LAUNCH_STANDALONE && e->o->bind) {
        /* the interface the user chose, any free port */
        const char *colon = strrchr(e->o->bind, ':');
        snprintf(bind, sizeof bind, "%.*s:0", (int)(colon ? colon - e->o->bind : 0), e->o->bind);
    } else {
        snprintf(bind, sizeof bind, "tcp://*:0");
    }
    e->hb = ch_hbserver_start(e->zctx, bind, e->experiment_id, e->x.rt.max_message,
                              e->curve ? &e->curve_kp : NULL, err);
    if (!e->hb) {
        return err ? err->code : CH_EIO;
    }
    const char *got = ch_hbserver_endpoint(e->hb);
    if (strncmp(got, "tcp://", 6) == 0) {
        /* advertise the host of the task endpoint with the heartbeat port */
        const char *port = strrchr(got, ':');
        const char *hostend = strrchr(e->endpoint, ':');
        snprintf(e->hb_endpoint, sizeof e->hb_endpoint, "%.*s%s",
                 (int)(hostend ? hostend - e->endpoint : 0), e->endpoint, port ? port : "");
    } else {
        snprintf(e->hb_endpoint, sizeof e->hb_endpoint, "%s", got);
    }
    return 0;
}

static int s_join(s_engine *e, ch_err *err)
{
    int64_t deadline = ch_now_ms() + e->x.rt.join_timeout_ms;
    ch_info("waiting for %zu workers on %s", e->n_workers, e->endpoint);
    while (e->reg.n < e->n_workers) {
        ch_wire_msg m;
        int rc = s_pump(e, deadline, &m, err);
        if (rc == CH_ELOST) {
            char name[256];
            for (size_t i = 0; i < e->reg.n; i++) {
                if (e->reg.w[i].state == CH_W_LOST) {
                    return ch_err_set(err, CH_ELOST, "%s was lost while the others joined: %s",
                                      ch_wslot_name(&e->reg.w[i], name, sizeof name),
                                      e->reg.w[i].lost_reason);
                }
            }
            continue;
        }
        if (rc == CH_ETIMEOUT) {
            return ch_err_set(err, CH_ETIMEOUT,
                              "only %zu of %zu workers connected to %s within %.0f s "
                              "(runtime.join_timeout); start the missing workers or lower "
                              "'workers'",
                              e->reg.n, e->n_workers, e->endpoint,
                              (double)e->x.rt.join_timeout_ms / 1000);
        }
        if (rc) {
            return rc;
        }
        if (e->kids.n) {
            for (size_t i = 0; i < e->kids.n; i++) {
                char why[200];
                if (ch_children_dead(&e->kids, i, why, sizeof why)) {
                    ch_wire_msg_free(&m);
                    return ch_err_set(err, CH_ELOST, "worker process %zu %s before connecting", i,
                                      why);
                }
            }
        }
        if (m.env->kind != COHORT__KIND__HELLO) {
            ch_warn("ignoring a %s message from an unknown peer", ch_wire_kind_name(m.env->kind));
            ch_wire_msg_free(&m);
            continue;
        }
        ch_wslot *w = NULL;
        rc = s_hello(e, &m, &w, err);
        ch_wire_msg_free(&m);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            continue; /* refused, with a message to the peer */
        }
        char name[256];
        ch_info("%s joined (%zu/%zu)", ch_wslot_name(w, name, sizeof name), e->reg.n, e->n_workers);
        s_event(e, "worker.joined", "{\"worker\": %d, \"host\": \"%s\", \"pid\": %d}", w->index,
                w->host, w->pid);
    }
    return 0;
}

/* by-file: merge the silos' schemas; simulation: the plan over the training table. */
static int s_plan(s_engine *e, ch_err *err)
{
    if (!e->by_file) {
        int rc = ch_plan_make_or_empty(e->x.train, e->x.scheme, e->n_workers, e->x.alpha, e->x.seed,
                                       &e->plan, err);
        if (rc) {
            return rc;
        }
        e->n_blocks = e->plan.n_blocks;
        e->n_train = e->plan.n_rows;
        return 0;
    }
    ch_schema *merged = NULL;
    for (size_t i = 0; i < e->reg.n; i++) {
        ch_wslot *w = &e->reg.w[i];
        if (!merged) {
            merged = w->schema;
            w->schema = NULL;
        } else if (ch_schema_merge(merged, w->schema, err) != 0) {
            ch_schema_destroy(&merged);
            char name[256];
            return ch_err_prefix(err, "%s", ch_wslot_name(w, name, sizeof name));
        }
        size_t nb = w->rows < CH_PLAN_MAX_BLOCKS ? w->rows : CH_PLAN_MAX_BLOCKS;
        e->n_blocks += nb;
        e->n_train += w->rows;
    }
    if (merged && ch_schema_pick_target(merged, e->x.target, e->x.positive, e->x.weights, err)) {
        ch_schema_destroy(&merged);
        return err->code;
    }
    if (e->x.schema) {
        /* data.test was given: it must agree with the silos */
        int rc = ch_schema_merge(merged, e->x.schema, err);
        if (rc) {
            ch_schema_destroy(&merged);
            return ch_err_prefix(err, "data.test against the silos");
        }
        ch_schema_destroy(&e->x.schema);
    }
    e->x.schema = merged;
    if (e->x.test && ch_table_conform(e->x.test, merged, err) != 0) {
        return ch_err_prefix(err, "data.test");
    }
    return 0;
}

/* Sends every worker its assignment. In simulation the coordinator may still
 * be loading the same data: workers load theirs meanwhile and report its
 * fingerprint with READY (checked in s_wait_ready). */
static int s_assign_one(s_engine *e, ch_wslot *w, const Cohort__Schema *spb, ch_err *err)
{
    Cohort__Assign a = COHORT__ASSIGN__INIT;
    Cohort__DataSummary ds = COHORT__DATA_SUMMARY__INIT;
    a.worker = w->index;
    a.shard = (uint32_t)w->shard;
    a.n_workers = (uint32_t)e->n_workers;
    a.config_yaml = e->config_yaml;
    a.by_file = e->by_file;
    a.n_blocks = e->n_blocks;
    a.heartbeat = e->hb_endpoint;
    if (e->by_file) {
        a.schema = (Cohort__Schema *)spb;
        a.block_offset = w->block_offset;
    } else {
        ds.path = (char *)e->x.train_path;
        a.data = &ds;
    }
    int rc = s_send(e, w, 0, COHORT__KIND__ASSIGN, &a.base, err);
    if (rc == CH_ELOST) {
        s_lose(e, w, "disconnected before its assignment");
        return 0;
    }
    return rc;
}

static int s_assign_send(s_engine *e, ch_err *err)
{
    Cohort__Schema *spb = e->by_file ? ch_schema_to_pb(e->x.schema) : NULL;
    if (e->by_file && !spb) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    uint64_t offset = 0;
    int rc = 0;
    for (size_t i = 0; i < e->reg.n && rc == 0; i++) {
        ch_wslot *w = &e->reg.w[i];
        w->block_offset = offset;
        offset += w->rows < CH_PLAN_MAX_BLOCKS ? w->rows : CH_PLAN_MAX_BLOCKS;
        rc = s_assign_one(e, w, spb, err);
    }
    ch_schema_pb_free(spb);
    return rc;
}

/* Waits until every live worker has loaded its data; in simulation checks
 * that each read the same training table as the coordinator. */
static int s_wait_ready(s_engine *e, ch_err *err)
{
    uint64_t fp = !e->x.train || e->by_file ? 0
                  : e->lease                ? ch_table_lease_fingerprint(e->lease)
                                            : ch_table_fingerprint(e->x.train);
    /* wait for READY */
    int64_t deadline = ch_now_ms() + e->x.rt.join_timeout_ms;
    size_t ready = 0;
    for (;;) {
        ready = 0;
        size_t live = 0;
        for (size_t i = 0; i < e->reg.n; i++) {
            ready += e->reg.w[i].state == CH_W_READY;
            live += e->reg.w[i].state == CH_W_JOINED || e->reg.w[i].state == CH_W_READY;
        }
        if (ready == live) {
            break;
        }
        ch_wire_msg m;
        int rc = s_pump(e, deadline, &m, err);
        if (rc == CH_ELOST) {
            continue; /* recount */
        }
        if (rc == CH_ETIMEOUT) {
            return ch_err_set(err, CH_ETIMEOUT,
                              "only %zu of %zu workers loaded their data "
                              "within %.0f s (runtime.join_timeout)",
                              ready, e->n_workers, (double)e->x.rt.join_timeout_ms / 1000);
        }
        if (rc) {
            return rc;
        }
        ch_wslot *w = s_sender(e, &m);
        if (m.env->kind == COHORT__KIND__ERROR) {
            rc = s_worker_error(e, &m, err);
            ch_wire_msg_free(&m);
            return rc;
        }
        if (w && m.env->kind == COHORT__KIND__READY && w->state == CH_W_JOINED) {
            Cohort__Ready *r = cohort__ready__unpack(NULL, m.env->payload.len, m.env->payload.data);
            bool same = e->by_file || (r && r->data && r->data->fingerprint == fp &&
                                       r->data->rows == e->x.train->n_rows);
            uint64_t rows = r && r->data ? r->data->rows : 0;
            if (r) {
                cohort__ready__free_unpacked(r, NULL);
            }
            if (!same) {
                char name[256];
                ch_wire_msg_free(&m);
                return ch_err_set(err, CH_EINVAL,
                                  "%s read training data that differ from the coordinator's "
                                  "(%llu rows there, %zu here from %s): every worker must see "
                                  "the same file",
                                  ch_wslot_name(w, name, sizeof name), (unsigned long long)rows,
                                  e->x.train->n_rows, e->x.train_path);
            }
            w->state = CH_W_READY;
        }
        ch_wire_msg_free(&m);
    }
    if (ready == 0) {
        return ch_err_set(err, CH_ELOST, "no worker is left");
    }
    if (e->by_file && ready < e->reg.n) {
        return ch_err_set(err, CH_ELOST,
                          "a silo was lost before training; its data cannot be reached");
    }
    return 0;
}

/* --- rounds ------------------------------------------------------------------ */

typedef struct s_round {
    uint32_t round, op;
    const ch_buf *payload;
    ch_wire_shared *task_state; /* payload as one frame every task shares */
    size_t n_shards;
    bool *chosen;    /* shard takes part */
    int *owner;      /* shard -> worker slot computing it; -1 when done or skipped */
    int *backup;     /* shard -> worker slot running a backup copy (speculate), or -1 */
    bool *got;       /* shard's update accepted */
    uint8_t **state; /* shard -> update bytes (not kept with accumulate) */
    size_t *state_len;
    uint64_t *samples;
    size_t pending;
    ch_round_plan plan;
    ch_round_stats stats;
    ch_uploads up; /* upload flow control: offers and grants (plan.upload_slots) */
} s_round;

static void s_round_free(s_round *r)
{
    for (size_t s = 0; s < r->n_shards && r->state; s++) {
        free(r->state[s]);
    }
    ch_wire_shared_free(r->task_state);
    free(r->chosen);
    free(r->owner);
    free(r->backup);
    free(r->got);
    free(r->state);
    free(r->state_len);
    free(r->samples);
    ch_uploads_free(&r->up);
    memset(r, 0, sizeof *r);
}

static int s_send_task(s_engine *e, s_round *r, ch_wslot *w, const uint32_t *shards, size_t n,
                       ch_err *err)
{
    Cohort__Task t = COHORT__TASK__INIT;
    t.round = r->round;
    t.op = r->op;
    t.n_shards = n;
    t.shards = (uint32_t *)shards;
    t.announce = r->plan.upload_slots > 0;
    /* Task.state travels as a frame shared by every task of the round
     * (common/wire.h): ZeroMQ queues the global state once, not per worker */
    if (!r->task_state) {
        r->task_state = ch_wire_shared_new(r->payload->data, r->payload->len, err);
        if (!r->task_state) {
            return CH_ENOMEM;
        }
    }
    r->stats.bytes_out += (double)r->payload->len;
    return ch_wire_send_shared(e->router, w->routing, w->routing_len, e->experiment_id, r->round,
                               -1, COHORT__KIND__TASK, &t.base, "state", r->task_state, err);
}

/* The connected worker that holds shard s, or NULL. */
static ch_wslot *s_holder(s_engine *e, size_t shard)
{
    for (size_t i = 0; i < e->reg.n; i++) {
        ch_wslot *w = &e->reg.w[i];
        if (w->shard == (int)shard && w->state == CH_W_READY) {
            return w;
        }
    }
    return NULL;
}

/* The round of the last checkpoint on disk, for messages that point to it
 * (waits for the one being written). */
static uint32_t s_checkpointed(s_engine *e)
{
    if (!e->ckw) {
        return e->resumed_round;
    }
    ch_ckpt_writer_flush(e->ckw, NULL);
    uint32_t r = ch_ckpt_writer_round(e->ckw);
    return r ? r : e->resumed_round;
}

/* Pending shards whose worker is gone: reassigned to the live worker with
 * the fewest (all-shards rounds, rows reachable), given up (quorum rounds),
 * or the end of the run (a by-file silo in an all-shards round). */
static int s_reassign(s_engine *e, s_round *r, ch_err *err)
{
    for (size_t s = 0; s < r->n_shards; s++) {
        if (r->owner[s] < 0) {
            continue;
        }
        ch_wslot *w = ch_registry_get(&e->reg, r->owner[s]);
        if (w && w->state == CH_W_READY) {
            continue;
        }
        ch_wslot *b = r->backup[s] >= 0 ? ch_registry_get(&e->reg, r->backup[s]) : NULL;
        if (b && b->state == CH_W_READY) {
            r->owner[s] = b->index; /* its backup copy carries on */
            r->backup[s] = -1;
            continue;
        }
        r->backup[s] = -1;
        char name[256];
        if (r->plan.policy == CH_TASK_QUORUM) {
            r->owner[s] = -1; /* this round goes on without it */
            r->pending--;
            continue;
        }
        if (e->by_file) {
            return ch_err_set(err, CH_ELOST,
                              "%s was lost (%s); its silo's data cannot be reached from any other "
                              "worker, so training stops here (checkpoint of round %u in %s)",
                              w ? ch_wslot_name(w, name, sizeof name) : "a worker",
                              w ? w->lost_reason : "?", s_checkpointed(e), e->run_dir);
        }
        ch_wslot *best = NULL;
        size_t best_load = 0;
        for (size_t i = 0; i < e->reg.n; i++) {
            ch_wslot *c = &e->reg.w[i];
            if (c->state != CH_W_READY) {
                continue;
            }
            size_t load = 0;
            for (size_t t = 0; t < r->n_shards; t++) {
                load += r->owner[t] == c->index;
            }
            if (!best || load < best_load) {
                best = c;
                best_load = load;
            }
        }
        if (!best) {
            return ch_err_set(err, CH_ELOST, "every worker was lost (last: %s: %s)",
                              w ? ch_wslot_name(w, name, sizeof name) : "?",
                              w ? w->lost_reason : "?");
        }
        uint32_t shard = (uint32_t)s;
        ch_info("reassigning shard %u of %s to worker %d", shard,
                w ? ch_wslot_name(w, name, sizeof name) : "?", best->index);
        s_event(e, "worker.reassigned", "{\"shard\": %u, \"from\": %d, \"to\": %d}", shard,
                w ? w->index : -1, best->index);
        r->owner[s] = best->index;
        int rc = s_send_task(e, r, best, &shard, 1, err);
        if (rc == CH_ELOST) {
            s_lose(e, best, "disconnected");
            s--; /* try this shard again with another worker */
            continue;
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* A HELLO in the middle of a run: a silo or worker coming back. It takes
 * the shard of a lost worker (a silo: its own, recognised by its data) and
 * gets its assignment; it takes part from the next round on. */
static void s_rejoin(s_engine *e, const ch_wire_msg *m)
{
    ch_err err;
    ch_err_clear(&err);
    ch_wslot *w = NULL;
    if (s_hello(e, m, &w, &err) != 0 || !w) {
        if (err.code) {
            ch_warn("a worker could not rejoin: %s", err.msg);
        }
        return;
    }
    int shard = -1;
    ch_wslot *old = NULL;
    for (size_t i = 0; i < e->reg.n && shard < 0; i++) {
        ch_wslot *o = &e->reg.w[i];
        if (o == w || o->state != CH_W_LOST || o->shard < 0 || s_holder(e, (size_t)o->shard)) {
            continue;
        }
        if (e->by_file && (o->fingerprint != w->fingerprint || o->rows != w->rows)) {
            continue;
        }
        shard = o->shard;
        old = o;
    }
    char name[256];
    if (!old) {
        Cohort__Bye bye = COHORT__BYE__INIT;
        bye.reason = (char *)"every shard of this run has its worker";
        ch_wire_send_msg(e->router, w->routing, w->routing_len, e->experiment_id, 0, -1,
                         COHORT__KIND__BYE, &bye.base, NULL);
        ch_info("%s turned away: every shard has its worker", ch_wslot_name(w, name, sizeof name));
        w->state = CH_W_DONE;
        return;
    }
    w->shard = shard;
    w->block_offset = old->block_offset;
    old->shard = -1;
    Cohort__Schema *spb = e->by_file ? ch_schema_to_pb(e->x.schema) : NULL;
    if (s_assign_one(e, w, spb, &err) != 0) {
        ch_warn("%s: %s", ch_wslot_name(w, name, sizeof name), err.msg);
    }
    ch_schema_pb_free(spb);
    ch_info("%s rejoined in place of worker %d (shard %d)", ch_wslot_name(w, name, sizeof name),
            old->index, shard);
    s_event(e, "worker.rejoined", "{\"worker\": %d, \"shard\": %d, \"replaces\": %d}", w->index,
            shard, old->index);
}

/* Whether worker `worker` computes shard `shard` of the round (its owner or
 * its speculative backup): what an UPDATE, an OFFER and a GRANT are checked
 * against. */
static bool s_computes(const s_round *r, int worker, uint32_t shard)
{
    return shard < r->n_shards && (r->owner[shard] == worker || r->backup[shard] == worker);
}

/* One update: checked, then kept (or handed to accumulate). */
static int s_take_update(s_engine *e, s_round *r, ch_wslot *w, const ch_wire_msg *m, ch_err *err)
{
    const ch_algo *a = e->x.algo;
    Cohort__Update *u = cohort__update__unpack(NULL, m->env->payload.len, m->env->payload.data);
    char name[256];
    int rc = 0;
    r->stats.bytes_in += (double)m->env->payload.len;
    if (!u) {
        ch_warn("rejected an UPDATE from %s: payload does not decode",
                ch_wslot_name(w, name, sizeof name));
        r->stats.rejected++;
    } else if (u->round != r->round || m->env->round != r->round) {
        if (e->x.rt.speculate && u->round < r->round) {
            /* the slower copy of a shard a backup already delivered */
            ch_debug("discarded a late UPDATE for round %u from %s (round %u is running)", u->round,
                     ch_wslot_name(w, name, sizeof name), r->round);
        } else {
            ch_warn("discarded a late UPDATE for round %u from %s (round %u is running)", u->round,
                    ch_wslot_name(w, name, sizeof name), r->round);
        }
        r->stats.late++;
    } else if (e->x.rt.speculate && u->shard < r->n_shards && r->got[u->shard]) {
        r->stats.late++; /* the slower copy of a shard already delivered */
    } else if (!s_computes(r, w->index, u->shard)) {
        ch_warn("rejected an UPDATE for shard %u from %s: not its shard", u->shard,
                ch_wslot_name(w, name, sizeof name));
        r->stats.rejected++;
    } else {
        ch_update up = {u->shard, u->samples, u->state.data, u->state.len};
        if (u->compute_seconds > r->stats.compute_seconds && u->compute_seconds < 1e9) {
            r->stats.compute_seconds = u->compute_seconds;
        }
        if (a->accumulate) {
            ch_err aerr;
            ch_err_clear(&aerr);
            rc = a->accumulate(e->st, r->round, r->op, &up, &aerr);
            if (rc == CH_EPROTO) {
                ch_warn("rejected the update of %s for round %u: %s",
                        ch_wslot_name(w, name, sizeof name), r->round, aerr.msg);
                s_event(e, "worker.rejected", "{\"worker\": %d, \"round\": %u}", w->index,
                        r->round);
                r->stats.rejected++;
                rc = 0;
            } else if (rc) {
                rc = ch_err_set(err, rc, "%s", aerr.msg);
            } else {
                r->got[u->shard] = true;
            }
        } else {
            uint8_t *copy = malloc(u->state.len ? u->state.len : 1);
            if (!copy) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                if (u->state.len) {
                    memcpy(copy, u->state.data, u->state.len);
                }
                r->state[u->shard] = copy;
                r->state_len[u->shard] = u->state.len;
                r->got[u->shard] = true;
            }
        }
        if (rc == 0) {
            r->samples[u->shard] = u->samples;
            r->owner[u->shard] = -1;
            r->backup[u->shard] = -1;
            r->pending--;
            r->stats.received += r->got[u->shard];
        }
    }
    if (u && u->round == r->round && m->env->round == r->round && r->plan.upload_slots > 0) {
        if (ch_uploads_release(&r->up, w->index, u->shard)) {
            ch_debug("round %u: upload of shard %u from worker %d taken; %zu in flight", r->round,
                     u->shard, w->index, ch_uploads_inflight(&r->up));
        } else {
            /* taken all the same: it is in memory already, and a worker
             * that predates flow control sends this way */
            r->stats.ungranted++;
        }
    }
    if (u) {
        cohort__update__free_unpacked(u, NULL);
    }
    return rc;
}

/* An OFFER (upload flow control): the sender's update is ready. Queued for
 * a grant when it is for this round and a shard the sender is computing;
 * counted late when the round it is for has closed (its update would have
 * been); refused otherwise. Returns 0 or CH_ENOMEM. */
static int s_take_offer(s_round *r, ch_wslot *w, const ch_wire_msg *m, ch_err *err)
{
    Cohort__Offer *of = cohort__offer__unpack(NULL, m->env->payload.len, m->env->payload.data);
    char name[256];
    int rc = 0;
    if (!of) {
        ch_warn("rejected an OFFER from %s: payload does not decode",
                ch_wslot_name(w, name, sizeof name));
        r->stats.rejected++;
    } else if (of->round != r->round || m->env->round != r->round) {
        ch_warn("discarded a late OFFER for round %u from %s (round %u is running)", of->round,
                ch_wslot_name(w, name, sizeof name), r->round);
        r->stats.late++;
    } else if (of->shard < r->n_shards && r->got[of->shard]) {
        r->stats.late++; /* the slower copy of a shard already delivered */
    } else if (!s_computes(r, w->index, of->shard)) {
        ch_warn("rejected an OFFER for shard %u from %s: not its shard", of->shard,
                ch_wslot_name(w, name, sizeof name));
        r->stats.rejected++;
    } else if (r->plan.upload_slots == 0) {
        ch_warn("rejected an OFFER from %s: this round has no upload flow control",
                ch_wslot_name(w, name, sizeof name));
        r->stats.rejected++;
    } else if (ch_uploads_offer(&r->up, w->index, of->shard) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (of) {
        cohort__offer__free_unpacked(of, NULL);
    }
    return rc;
}

/* Upload flow control: frees the slots of workers that are gone, then
 * grants waiting offers, oldest first, while a slot is free. The sums are
 * order-independent (accumulate's contract), so the grant order cannot
 * change the result. An offer no longer wanted (its shard delivered by
 * another copy, its worker gone) is dropped. A worker found disconnected on
 * the way is marked lost and *lost set (its shard is the caller's to
 * reassign or skip). Returns 0 or an error. */
static int s_grant_uploads(s_engine *e, s_round *r, bool *lost, ch_err *err)
{
    if (r->plan.upload_slots == 0) {
        return 0;
    }
    for (size_t i = r->up.n_grant; i-- > 0;) {
        ch_wslot *w = ch_registry_get(&e->reg, r->up.grant[i].worker);
        if (!w || w->state != CH_W_READY) {
            int gone = r->up.grant[i].worker;
            ch_debug("round %u: worker %d is gone; its upload slot is free again", r->round, gone);
            ch_uploads_forget(&r->up, gone);
            i = r->up.n_grant; /* forget may have removed several */
        }
    }
    int worker;
    uint32_t shard;
    while (ch_uploads_next(&r->up, &worker, &shard)) {
        ch_wslot *w = ch_registry_get(&e->reg, worker);
        if (!w || w->state != CH_W_READY || !s_computes(r, worker, shard) || r->got[shard]) {
            continue;
        }
        Cohort__Grant g = COHORT__GRANT__INIT;
        g.round = r->round;
        g.shard = shard;
        int rc = s_send(e, w, r->round, COHORT__KIND__GRANT, &g.base, err);
        if (rc == CH_ELOST) {
            s_lose(e, w, "disconnected");
            *lost = true;
            continue;
        }
        if (rc) {
            return rc;
        }
        ch_uploads_grant(&r->up, worker, shard, ch_now_ms());
    }
    return 0;
}

/* Upload flow control: revokes the grants whose upload has not come within
 * runtime.grant_timeout (a silo that hangs after its grant with its
 * heartbeat still beating would otherwise hold the slot till the round's
 * deadline); s_grant_uploads then gives the slots to the next offers. The
 * silo keeps its shard: an update it sends later is still taken. */
static void s_revoke_grants(s_engine *e, s_round *r)
{
    ch_upload_ref g;
    int64_t now = ch_now_ms();
    while (ch_uploads_revoke_older(&r->up, now - e->x.rt.grant_timeout_ms, &g)) {
        ch_wslot *w = ch_registry_get(&e->reg, g.worker);
        char name[256];
        ch_warn("round %u: %s was granted its upload of shard %u %.1f s ago and has not sent it "
                "(runtime.grant_timeout); its upload slot goes to the next silo",
                r->round, w ? ch_wslot_name(w, name, sizeof name) : "a worker", g.shard,
                (double)(now - g.at) / 1000.0);
        r->stats.revoked++;
    }
}

/* runtime.speculate: a worker left with nothing to do in this round, once
 * half of the round's shards have arrived, also runs the oldest pending
 * shard that has no backup yet; whichever copy arrives first is taken (the
 * same bytes: a shard's result does not depend on the worker), the other is
 * dropped. Only where any worker can compute any shard (not by-file) and
 * every shard must answer. */
static int s_speculate(s_engine *e, s_round *r, ch_wslot *w, ch_err *err)
{
    if (!e->x.rt.speculate || e->by_file || r->plan.policy != CH_TASK_ALL_SHARDS ||
        r->pending == 0 || 2 * r->pending > r->stats.chosen || w->state != CH_W_READY) {
        return 0;
    }
    for (size_t s = 0; s < r->n_shards; s++) {
        if (s_computes(r, w->index, (uint32_t)s)) {
            return 0; /* still busy in this round */
        }
    }
    for (size_t s = 0; s < r->n_shards; s++) {
        if (r->owner[s] < 0 || r->owner[s] == INT32_MAX || r->backup[s] >= 0) {
            continue;
        }
        uint32_t shard = (uint32_t)s;
        int rc = s_send_task(e, r, w, &shard, 1, err);
        if (rc == CH_ELOST) {
            s_lose(e, w, "disconnected");
            return 0;
        }
        if (rc) {
            return rc;
        }
        r->backup[s] = w->index;
        r->stats.speculative++;
        ch_debug("round %u: worker %d also runs shard %zu (speculative)", r->round, w->index, s);
        return 0;
    }
    return 0;
}

static int s_round_run(s_engine *e, uint32_t round, uint32_t op, const ch_buf *payload, s_round *r,
                       ch_err *err)
{
    const ch_algo *a = e->x.algo;
    memset(r, 0, sizeof *r);
    r->round = round;
    r->op = op;
    r->payload = payload;
    r->n_shards = e->n_workers;
    size_t n = r->n_shards;
    r->chosen = calloc(n, sizeof *r->chosen);
    r->owner = calloc(n, sizeof *r->owner);
    r->backup = calloc(n, sizeof *r->backup);
    r->got = calloc(n, sizeof *r->got);
    r->state = calloc(n, sizeof *r->state);
    r->state_len = calloc(n, sizeof *r->state_len);
    r->samples = calloc(n, sizeof *r->samples);
    bool *live = calloc(n, sizeof *live);
    if (!r->chosen || !r->owner || !r->backup || !r->got || !r->state || !r->state_len ||
        !r->samples || !live) {
        free(live);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t s = 0; s < n; s++) {
        live[s] = s_holder(e, s) != NULL;
        r->chosen[s] = true;
    }
    r->plan.policy = CH_TASK_ALL_SHARDS;
    r->plan.timeout_seconds = (double)e->x.rt.round_timeout_ms / 1000.0;
    int rc = 0;
    if (a->participants) {
        rc = a->participants(e->st, round, live, n, r->chosen, &r->plan, err);
    }
    free(live);
    if (rc == 0 && ch_uploads_init(&r->up, r->plan.upload_slots) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc) {
        return rc;
    }
    r->stats.upload_slots = r->plan.upload_slots;
    int64_t t0 = ch_now_ms();
    for (size_t s = 0; s < n && rc == 0; s++) {
        r->owner[s] = -1;
        r->backup[s] = -1;
        if (!r->chosen[s]) {
            continue;
        }
        r->stats.chosen++;
        r->pending++;
        ch_wslot *w = s_holder(e, s);
        /* a shard without a worker: reassigned or skipped by s_reassign */
        r->owner[s] = w ? w->index : INT32_MAX;
        if (w) {
            uint32_t shard = (uint32_t)s;
            rc = s_send_task(e, r, w, &shard, 1, err);
            if (rc == CH_ELOST) {
                s_lose(e, w, "disconnected");
                rc = 0;
            }
        }
    }
    if (rc == 0) {
        rc = s_reassign(e, r, err);
    }
    int64_t timeout_ms = (int64_t)(r->plan.timeout_seconds * 1000.0);
    int64_t deadline = ch_now_ms() + (timeout_ms > 0 ? timeout_ms : e->x.rt.round_timeout_ms);
    while (rc == 0 && r->pending > 0) {
        ch_wire_msg m;
        /* wake up for the oldest grant's timeout too (flow control) */
        int64_t wake = deadline, oldest;
        if (ch_uploads_oldest(&r->up, &oldest) && oldest + e->x.rt.grant_timeout_ms < wake) {
            wake = oldest + e->x.rt.grant_timeout_ms;
        }
        rc = s_pump(e, wake, &m, err);
        if (rc == CH_ETIMEOUT && wake < deadline) {
            rc = 0;
            s_revoke_grants(e, r); /* the slots are granted again below */
        } else if (rc == CH_ELOST) {
            rc = 0; /* handled by the reassignment below */
        } else if (rc == CH_ETIMEOUT) {
            rc = 0;
            if (r->plan.policy == CH_TASK_QUORUM) {
                /* the round closes with whatever arrived; updates offered
                 * but not yet granted came too late, like those still on
                 * their way */
                for (size_t i = 0; i < r->up.n_wait; i++) {
                    uint32_t s = r->up.wait[i].shard;
                    r->stats.late += s < n && r->owner[s] == r->up.wait[i].worker;
                }
                for (size_t s = 0; s < n; s++) {
                    if (r->owner[s] >= 0) {
                        r->owner[s] = -1;
                        r->pending--;
                    }
                }
                break;
            }
            /* everyone still holding a shard missed the deadline */
            for (size_t s = 0; s < n; s++) {
                ch_wslot *w = r->owner[s] >= 0 ? ch_registry_get(&e->reg, r->owner[s]) : NULL;
                if (w) {
                    s_lose(e, w, "missed the round deadline (runtime.round_timeout)");
                }
            }
            deadline = ch_now_ms() + e->x.rt.round_timeout_ms;
        } else if (rc == 0) {
            ch_wslot *w = s_sender(e, &m);
            if (m.env->kind == COHORT__KIND__HELLO && !w) {
                s_rejoin(e, &m);
            } else if (m.env->kind == COHORT__KIND__READY && w && w->state == CH_W_JOINED) {
                w->state = CH_W_READY;
            } else if (m.env->kind == COHORT__KIND__ERROR && w && w->state == CH_W_READY) {
                if (r->plan.policy == CH_TASK_QUORUM) {
                    Cohort__Error *em =
                        cohort__error__unpack(NULL, m.env->payload.len, m.env->payload.data);
                    char why[300];
                    snprintf(why, sizeof why, "reported an error: %s",
                             em && em->message ? em->message : "?");
                    if (em) {
                        cohort__error__free_unpacked(em, NULL);
                    }
                    s_lose(e, w, why);
                } else {
                    rc = s_worker_error(e, &m, err);
                }
            } else if (m.env->kind == COHORT__KIND__UPDATE && w && w->state == CH_W_READY) {
                rc = s_take_update(e, r, w, &m, err);
                if (rc == 0) {
                    rc = s_speculate(e, r, w, err);
                }
            } else if (m.env->kind == COHORT__KIND__OFFER && w && w->state == CH_W_READY) {
                rc = s_take_offer(r, w, &m, err);
            } else if (m.env->kind == COHORT__KIND__UPDATE || m.env->kind == COHORT__KIND__OFFER) {
                r->stats.late++; /* from a worker already given up on */
            }
            ch_wire_msg_free(&m);
        }
        if (rc == 0) {
            rc = s_reassign(e, r, err);
        }
        bool lost = false;
        if (rc == 0) {
            rc = s_grant_uploads(e, r, &lost, err);
        }
        if (rc == 0 && lost) {
            rc = s_reassign(e, r, err);
        }
    }
    r->stats.round_seconds = (double)(ch_now_ms() - t0) / 1000.0;
    r->stats.max_inflight = r->up.max_inflight;
    if (rc == 0 && r->plan.policy == CH_TASK_QUORUM && r->stats.received < r->plan.min_updates) {
        rc = ch_err_set(err, CH_ELOST,
                        "round %u: only %zu of %zu chosen workers answered, fewer than the %zu "
                        "required (checkpoint of round %u in %s)",
                        round, r->stats.received, r->stats.chosen, r->plan.min_updates,
                        s_checkpointed(e), e->run_dir);
    }
    return rc;
}

/* Round metrics, stats, events, store, progress: what a round leaves. */
static void s_round_record(s_engine *e, uint32_t round, const ch_round_metrics *met,
                           const ch_round_stats *st, double agg_seconds)
{
    ch_buf body;
    ch_buf_init(&body);
    ch_buf_printf(&body, "{\"round\": %u, \"seconds\": %.3f, \"metrics\": {", round,
                  st->round_seconds + agg_seconds);
    for (size_t k = 0; k < met->n; k++) {
        ch_buf_printf(&body, "%s\"%s\": ", k ? ", " : "", met->key[k]);
        ch_buf_json_num(&body, met->value[k]);
        ch_outputs_metric(&e->out, met->key[k], round, met->value[k]);
        if (e->track) {
            ch_err terr;
            if (ch_track_metric(e->track, e->run_id, met->key[k], round, met->value[k], &terr) !=
                0) {
                ch_warn("tracking store: %s", terr.msg);
            }
        }
    }
    ch_buf_printf(&body,
                  "}, \"engine\": {\"chosen\": %zu, \"received\": %zu, \"rejected\": %zu, "
                  "\"late\": %zu, \"speculative\": %zu, \"bytes_out\": %.0f, \"bytes_in\": %.0f, "
                  "\"compute_seconds\": %.4f, \"gather_seconds\": %.4f, "
                  "\"aggregate_seconds\": %.4f, \"upload_slots\": %zu, \"max_inflight\": %zu, "
                  "\"ungranted\": %zu, \"revoked\": %zu}}",
                  st->chosen, st->received, st->rejected, st->late, st->speculative, st->bytes_out,
                  st->bytes_in, st->compute_seconds, st->round_seconds, agg_seconds,
                  st->upload_slots, st->max_inflight, st->ungranted, st->revoked);
    ch_events_emit(e->ev, "round.end", ch_buf_str(&body));
    ch_progress_round(&e->progress, round, st->round_seconds + agg_seconds, met->key, met->value,
                      met->n);
    ch_buf_free(&body);
}

static int s_rounds(s_engine *e, uint32_t first_round, ch_err *err)
{
    const ch_algo *a = e->x.algo;
    for (uint32_t round = first_round;; round++) {
        uint32_t op = 0;
        ch_buf payload;
        ch_buf_init(&payload);
        int rc = a->next_task(e->st, round, &op, &payload, err);
        if (rc == 1) {
            ch_buf_free(&payload);
            return 0;
        }
        if (rc) {
            ch_buf_free(&payload);
            return rc;
        }
        s_event(e, "round.start", "{\"round\": %u, \"op\": %u}", round, op);
        s_round r;
        rc = s_round_run(e, round, op, &payload, &r, err);
        ch_buf_free(&payload);
        if (rc) {
            s_round_free(&r);
            return rc;
        }
        /* updates in shard order (those that arrived; all of them in
         * all-shards rounds) */
        ch_update *ups = calloc(r.n_shards ? r.n_shards : 1, sizeof *ups);
        if (!ups) {
            s_round_free(&r);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        size_t nu = 0;
        for (size_t s = 0; s < r.n_shards && !a->accumulate; s++) {
            if (r.got[s]) {
                ups[nu].shard = (uint32_t)s;
                ups[nu].samples = r.samples[s];
                ups[nu].state = r.state[s];
                ups[nu].state_len = r.state_len[s];
                nu++;
            }
        }
        ch_round_metrics met = {0};
        met.stats = &r.stats;
        int64_t t_agg = ch_now_ms();
        rc = a->aggregate(e->st, round, op, ups, nu, &met, err);
        double agg_seconds = (double)(ch_now_ms() - t_agg) / 1000.0;
        free(ups);
        if (rc) {
            s_round_free(&r);
            return ch_err_prefix(err, "round %u", round);
        }
        e->rounds_done = round + 1;
        s_round_record(e, round, &met, &r.stats, agg_seconds);
        s_round_free(&r);
        if ((long)e->rounds_done % e->x.rt.checkpoint_every == 0) {
            ch_buf st;
            ch_buf_init(&st);
            rc = a->save(e->st, &st, err);
            if (rc == 0 && !e->ckw) {
                e->ckw = ch_ckpt_writer_new(e->run_dir, e->x.name, a->name, err);
                rc = e->ckw ? 0 : err->code;
            }
            if (rc == 0) { /* written while the next round runs */
                rc = ch_ckpt_writer_put(e->ckw, e->rounds_done, st.data, st.len, err);
                ch_buf_init(&st);
                if (rc) { /* the previous one failed */
                    return ch_err_prefix(err, "checkpoint (the last on disk is of round %u)",
                                         s_checkpointed(e));
                }
            }
            ch_buf_free(&st);
            if (rc) {
                return ch_err_prefix(err, "checkpoint after round %u", round);
            }
        }
    }
}

/* --- the run ------------------------------------------------------------------ */

static void s_bye_all(s_engine *e, const char *reason)
{
    Cohort__Bye bye = COHORT__BYE__INIT;
    bye.reason = (char *)reason;
    for (size_t i = 0; i < e->reg.n; i++) {
        ch_wslot *w = &e->reg.w[i];
        if (w->state == CH_W_JOINED || w->state == CH_W_READY) {
            ch_wire_send_msg(e->router, w->routing, w->routing_len, e->experiment_id, 0, -1,
                             COHORT__KIND__BYE, &bye.base, NULL);
            w->state = CH_W_DONE;
        }
    }
}

/* Events go to the tracking store too. */
static void s_track_event(void *ctx, double time, const char *topic, const char *body)
{
    s_engine *e = ctx;
    ch_err err;
    ch_err_clear(&err);
    if (e->track && ch_track_event(e->track, e->run_id, time, topic, body, &err) != 0) {
        ch_warn("tracking store: %s", err.msg);
    }
}

/* Records every scalar of the config as a param (dotted keys). */
static void s_track_params(s_engine *e, const char *path)
{
    size_t n = ch_config_len(e->x.cfg, path);
    for (size_t i = 0; i < n; i++) {
        char key[512];
        ch_cfg_type type = path[0] ? ch_config_type(e->x.cfg, path) : CH_CFG_MAP;
        if (type == CH_CFG_MAP) {
            const char *k = ch_config_key(e->x.cfg, path, i);
            snprintf(key, sizeof key, "%s%s%s", path, path[0] ? "." : "", k ? k : "");
        } else {
            snprintf(key, sizeof key, "%s.%zu", path, i);
        }
        ch_cfg_type t = ch_config_type(e->x.cfg, key);
        if (t == CH_CFG_SCALAR) {
            /* peek, not read: recording a key must not hide it from the
             * unknown-key check */
            const char *v = ch_config_peek(e->x.cfg, key);
            if (v) {
                ch_track_param(e->track, e->run_id, key, v, NULL);
            }
        } else if (t == CH_CFG_MAP || t == CH_CFG_SEQ) {
            s_track_params(e, key);
        }
    }
}

/* Opens the tracking store: $COHORT_DB, else runs/cohort.db. A store that
 * cannot be opened (locked, corrupt) stops the run before any work, with
 * the store's own message saying what to do. */
static int s_track_open(s_engine *e, ch_err *err)
{
    if (!e->x.rt.tracking) {
        return 0;
    }
    const char *path = getenv("COHORT_DB");
    char *dir = NULL;
    if (!path || !path[0]) {
        path = "runs/cohort.db";
    }
    const char *slash = strrchr(path, '/');
    if (slash) {
        dir = strndup(path, (size_t)(slash - path));
        if (!dir || ch_mkdirs(dir[0] ? dir : "/", err) != 0) {
            free(dir);
            return err ? err->code : CH_ENOMEM;
        }
        free(dir);
    }
    e->track = ch_track_open(path, err);
    if (!e->track) {
        return ch_err_prefix(err, "tracking store (set COHORT_DB to use another file)");
    }
    char *yaml = ch_config_emit(e->x.cfg);
    int rc = ch_track_run_begin(e->track, e->x.name, e->run_id, e->x.algo->name, e->run_dir,
                                yaml ? yaml : "", err);
    free(yaml);
    if (rc) {
        return ch_err_prefix(err, "tracking store %s", path);
    }
    s_track_params(e, "");
    return 0;
}

static int s_setup_dir(s_engine *e, ch_err *err)
{
    if (e->o->out_dir) {
        e->run_dir = strdup(e->o->out_dir);
    } else {
        e->run_dir = ch_path_join("runs", e->run_id);
    }
    if (!e->run_dir) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return ch_mkdirs(e->run_dir, err);
}

/* The table lease's loader: the training rows read again from data.train. */
static int s_reload_train(void *ctx, ch_table **out, ch_err *err)
{
    return ch_experiment_reload_train(ctx, out, err);
}

static int s_run(s_engine *e, ch_run_result *res, ch_err *err)
{
    const ch_run_opts *o = e->o;
    int rc = ch_experiment_configure(&e->x, o->cfg, err);
    if (rc) {
        return rc;
    }
    if (o->n_workers > 0) {
        char set[64];
        snprintf(set, sizeof set, "workers=%ld", o->n_workers);
        ch_config_set(e->x.cfg, set, NULL);
        long w;
        ch_cfg_int(e->x.cfg, "workers", 2, 1, 4096, &w, NULL);
        e->x.workers = w;
    }
    e->n_workers = (size_t)e->x.workers;
    e->by_file = e->x.scheme == CH_PART_BY_FILE;
    if (e->by_file && o->mode == CH_LAUNCH_LOCAL) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: partition.scheme by-file needs workers that each bring their own "
                          "file: start `cohort coordinator` and `cohort worker --data FILE`",
                          ch_config_where(e->x.cfg, "partition.scheme"));
    }
    ch_outputs_run_id(e->x.name, e->run_id, sizeof e->run_id);
    if (o->resume && o->out_dir) {
        /* keep the run id of the interrupted run: it is the directory name */
        const char *base = strrchr(o->out_dir, '/');
        snprintf(e->run_id, sizeof e->run_id, "%s", base ? base + 1 : o->out_dir);
    }
    e->experiment_id = e->run_id;
    if (!e->by_file) {
        /* a misspelt key outside model.* fails before any process starts;
         * model.* keys are checked once the data's columns are known */
        if ((rc = ch_experiment_check_common_keys(&e->x, err))) {
            return rc;
        }
    } else if (e->x.test_path) {
        /* the coordinator may hold a test file even when silos hold the training data */
        ch_table *t = ch_table_read(e->x.test_path, e->x.format, err);
        if (!t) {
            return ch_err_prefix(err, "data.test");
        }
        if (e->x.target && (rc = ch_table_set_target(t, e->x.target, e->x.positive, err))) {
            ch_table_destroy(&t);
            return ch_err_prefix(err, "data.test");
        }
        e->x.test = t;
        e->x.schema = ch_schema_from_table(t, e->x.positive);
    }
    if ((rc = s_setup_dir(e, err))) {
        return rc;
    }
    snprintf(res->run_dir, sizeof res->run_dir, "%s", e->run_dir);
    if ((rc = s_track_open(e, err))) {
        return rc;
    }
    e->zctx = zmq_ctx_new();
    if (!e->zctx) {
        return ch_err_set(err, CH_EIO, "cannot create a ZeroMQ context");
    }
    if ((rc = s_bind(e, err))) {
        return rc;
    }
    if ((rc = s_hb_start(e, err))) {
        return rc;
    }
    char *events_path = ch_path_join(e->run_dir, "events.jsonl");
    char pub[512];
    if (o->mode == CH_LAUNCH_LOCAL) {
        snprintf(pub, sizeof pub, "ipc:///tmp/cohort-%ld-%s-events.ipc", (long)getpid(),
                 e->run_id + strlen(e->run_id) - 4);
    } else {
        snprintf(pub, sizeof pub, "tcp://*:0");
    }
    e->ev = ch_events_new(e->zctx, pub, events_path, e->run_id, e->experiment_id, err);
    free(events_path);
    if (!e->ev) {
        return err ? err->code : CH_EIO;
    }
    ch_events_set_sink(e->ev, s_track_event, e);
    ch_outputs_begin(&e->out, e->run_dir, e->run_id, e->x.name, e->x.algo->name, e->endpoint,
                     ch_events_endpoint(e->ev));
    if (o->on_bound) {
        res->bound = true;
        if ((rc = o->on_bound(e->endpoint, o->on_bound_ctx, err))) {
            return rc;
        }
    }
    if (o->mode == CH_LAUNCH_LOCAL) {
        rc = ch_children_start(&e->kids, o->self_exe, e->endpoint, e->n_workers, err);
        if (rc) {
            return rc;
        }
    }
    if ((rc = s_join(e, err))) {
        return rc;
    }
    if (e->by_file) {
        /* the silos' columns are known only now */
        if ((rc = s_plan(e, err)) || (rc = ch_experiment_check_keys(&e->x, err))) {
            return rc;
        }
    }
    e->config_yaml = ch_config_emit(e->x.cfg);
    if (!e->config_yaml) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if ((rc = s_assign_send(e, err))) {
        return rc;
    }
    if (!e->by_file) {
        /* the workers load the same file meanwhile */
        if ((rc = ch_experiment_load(&e->x, NULL, err))) {
            return rc;
        }
        if (e->x.train_path && e->n_workers > e->x.train->n_rows) {
            return ch_err_set(err, CH_EINVAL,
                              "more workers (%zu) than training rows (%zu) in %s: use at most "
                              "%zu workers",
                              e->n_workers, e->x.train->n_rows, e->x.train_path,
                              e->x.train->n_rows);
        }
        if ((rc = ch_experiment_check_keys(&e->x, err)) || (rc = s_plan(e, err))) {
            return rc;
        }
        if (e->x.train_path &&
            !(e->lease = ch_table_lease_new(&e->x.train, s_reload_train, &e->x))) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        free(e->config_yaml);
        e->config_yaml = ch_config_emit(e->x.cfg); /* with the algorithm's defaults */
        if (!e->config_yaml) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if ((rc = ch_outputs_config(&e->out, e->config_yaml, err))) {
        return rc;
    }
    if (e->x.algo->estimate && e->x.schema && e->n_train) {
        ch_estimate est = {0};
        if (e->x.algo->estimate(e->x.cfg, e->x.schema, e->n_train, e->n_workers, e->n_blocks,
                                &est) == 0) {
            e->planned_rounds = est.rounds;
        }
    }
    ch_progress_init(&e->progress, e->x.name, e->planned_rounds);
    s_event(e, "run.start",
            "{\"name\": \"%s\", \"algorithm\": \"%s\", \"workers\": %zu, \"rounds\": %.0f}",
            e->x.name, e->x.algo->name, e->n_workers, e->planned_rounds);
    if ((rc = s_wait_ready(e, err))) {
        return rc;
    }
    ch_coord_env env = {
        .cfg = e->x.cfg,
        .schema = e->x.schema,
        .train = e->x.train,
        .lease = e->lease,
        .test = e->x.test,
        .n_train = e->n_train,
        .n_blocks = e->n_blocks,
        .n_shards = e->n_workers,
        .seed = e->x.seed,
        .run_dir = e->run_dir,
    };
    e->st = e->x.algo->coord_new(&env, err);
    if (!e->st) {
        return err ? err->code : CH_EINVAL;
    }
    uint32_t first = 0;
    if (o->resume) {
        ch_checkpoint ck;
        rc = ch_checkpoint_read(e->run_dir, &ck, err);
        if (rc == 0) {
            if (strcmp(ck.algorithm, e->x.algo->name) != 0) {
                rc = ch_err_set(err, CH_EINVAL, "the checkpoint in %s is for %s, not %s",
                                e->run_dir, ck.algorithm, e->x.algo->name);
            } else {
                rc = e->x.algo->load(e->st, ck.state, ck.len, err);
                first = ck.round;
                e->rounds_done = ck.round;
                e->resumed_round = ck.round;
                ch_info("resuming %s after round %u", e->run_dir, ck.round);
            }
            ch_checkpoint_free(&ck);
        } else if (rc == CH_ENOTFOUND) {
            ch_info("no checkpoint in %s: starting from round 0", e->run_dir);
            rc = 0;
        }
        if (rc) {
            return rc;
        }
    }
    if ((rc = s_rounds(e, first, err))) {
        return rc;
    }
    if (e->ckw && (rc = ch_ckpt_writer_flush(e->ckw, err))) {
        return ch_err_prefix(err, "the last checkpoint");
    }
    ch_progress_end(&e->progress);
    void *model = e->x.algo->finalize(e->st, err);
    if (!model) {
        return err ? err->code : CH_EINVAL;
    }
    s_bye_all(e, "finished");
    /* model.pb keeps the config that defines the model, not how it was run
     * (workers, runtime), so the same model is the same bytes however many
     * workers trained it */
    ch_config *mc = ch_config_copy(e->x.cfg);
    char *model_yaml = NULL;
    if (mc) {
        ch_config_remove(mc, "workers");
        ch_config_remove(mc, "runtime");
        model_yaml = ch_config_emit(mc);
        ch_config_destroy(&mc);
    }
    rc = ch_outputs_finish(&e->out, e->x.algo, model, e->x.schema, e->x.test,
                           model_yaml ? model_yaml : e->config_yaml, e->n_workers, e->rounds_done,
                           err);
    free(model_yaml);
    e->x.algo->model_destroy(&model);
    if (rc == 0) {
        for (size_t k = 0; k < e->out.n_final && e->track; k++) {
            ch_track_metric(e->track, e->run_id, e->out.final_key[k], e->rounds_done,
                            e->out.final_value[k], NULL);
        }
        static const char *const artifacts[] = {"model.pb", "summary.json", "config.yaml",
                                                "events.jsonl", "report.html"};
        for (size_t k = 0; k < sizeof artifacts / sizeof artifacts[0] && e->track; k++) {
            char *path = ch_path_join(e->run_dir, artifacts[k]);
            if (path) {
                ch_track_artifact(e->track, e->run_id, artifacts[k], path, NULL);
            }
            free(path);
        }
        s_event(e, "run.end", "{\"status\": \"finished\", \"rounds\": %u}", e->rounds_done);
    }
    return rc;
}

int ch_coordinator_run(const ch_run_opts *o, ch_run_result *res, ch_err *err)
{
    s_engine e;
    memset(&e, 0, sizeof e);
    memset(res, 0, sizeof *res);
    e.o = o;
    e.t0 = ch_wall_time();
    ch_outputs_init(&e.out);
    ch_registry_init(&e.reg);
    ch_log_role("coordinator");
    int rc = s_run(&e, res, err);
    ch_ckpt_writer_destroy(&e.ckw); /* on disk before the run is reported */
    const char *status = rc == 0 ? "finished" : (rc == CH_EINTR ? "killed" : "failed");
    snprintf(res->status, sizeof res->status, "%s", status);
    if (rc) {
        s_event(&e, "run.end", "{\"status\": \"%s\"}", status);
        ch_outputs_fail(&e.out, status, err ? err->msg : "error", e.n_workers, e.rounds_done);
        s_bye_all(&e, status);
    }
    if (e.out.dir) {
        /* the report is drawn from the run directory alone (cohort report
         * regenerates it); a failed run gets one too */
        ch_events_destroy(&e.ev);
        ch_err rerr;
        ch_err_clear(&rerr);
        if (ch_run_report(e.out.dir, &rerr) != 0) {
            ch_warn("report: %s", rerr.msg);
        }
    }
    if (e.track) {
        ch_err terr;
        if (ch_track_run_end(e.track, e.run_id, status, &terr) != 0) {
            ch_warn("tracking store: %s", terr.msg);
        }
        ch_track_close(&e.track);
    }
    if (e.kids.n) {
        ch_children_stop(&e.kids, 3000);
        ch_children_free(&e.kids);
    }
    if (e.x.algo && e.st) {
        e.x.algo->coord_destroy(&e.st);
    }
    ch_events_destroy(&e.ev);
    ch_hbserver_stop(&e.hb);
    if (e.router) {
        zmq_close(e.router);
    }
    ch_zap_stop(&e.zap);
    if (e.zctx) {
        zmq_ctx_term(e.zctx);
    }
    if (o->mode == CH_LAUNCH_LOCAL && e.endpoint[0]) {
        unlink(e.endpoint + strlen("ipc://"));
        char hbp[600];
        snprintf(hbp, sizeof hbp, "%.500s-hb", e.endpoint + strlen("ipc://"));
        unlink(hbp);
        char pub[600];
        snprintf(pub, sizeof pub, "%.*s-events.ipc", (int)(strlen(e.endpoint) - 10),
                 e.endpoint + strlen("ipc://"));
        unlink(pub);
    }
    ch_outputs_free(&e.out);
    ch_registry_free(&e.reg);
    ch_plan_free(&e.plan);
    ch_table_lease_destroy(&e.lease);
    free(e.config_yaml);
    free(e.run_dir);
    ch_experiment_free(&e.x); /* owns o->cfg since s_run's first step */
    return rc;
}
