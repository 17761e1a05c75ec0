/* wire.h: cohort's messages on ZeroMQ: one message is one Envelope protobuf.
 *
 * Sending packs the Envelope once into a buffer and hands it to ZeroMQ.
 * A message may also travel as several frames whose concatenation is the
 * packed Envelope (ch_wire_send_shared: a small per-peer head, then one
 * reference-counted frame shared by every peer, such as the global model a
 * task carries to 100 silos: ZeroMQ queues the bytes once, not 100 times).
 * Receiving treats the bytes as untrusted: at most CH_WIRE_MAX_FRAMES frames
 * and the socket's ZMQ_MAXMSGSIZE bytes in all, the frames joined, the
 * protobuf decoded by protobuf-c (which checks the encoding), then the
 * protocol version, the experiment id, the kind and the sender checked
 * before the payload is looked at. A rejected message leaves a reason in the
 * error context; the caller logs it and goes on. */
#ifndef CH_WIRE_H
#define CH_WIRE_H

#include "common/buf.h"
#include "common/err.h"
#include "proto/cohort.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_PROTOCOL_VERSION 1
/* Default bound on one message (ZMQ_MAXMSGSIZE); runtime.max_message_mb. */
#define CH_DEFAULT_MAX_MESSAGE (256LL << 20)
/* Frames one Envelope may be split into (routing id not counted). */
#define CH_WIRE_MAX_FRAMES 8

/* A decoded Envelope. `env` is owned (free with ch_wire_msg_free). */
typedef struct ch_wire_msg {
    Cohort__Envelope *env;
    uint8_t routing[256]; /* ROUTER: the peer's routing id */
    size_t routing_len;
} ch_wire_msg;

/* Socket options every cohort socket gets: linger, heartbeats, and the
 * message size bound on receiving sockets. Returns 0 or CH_EIO. */
int ch_wire_setup(void *sock, long long max_message, ch_err *err);

/* Packs and sends one Envelope. routing/routing_len: the peer's id on a
 * ROUTER socket (NULL on DEALER). The payload is copied into the message.
 * flags: ZMQ_DONTWAIT or 0. Returns 0, CH_ELOST (EHOSTUNREACH on a ROUTER:
 * the peer is gone), CH_ETIMEOUT (EAGAIN) or CH_EIO. */
int ch_wire_send(void *sock, const uint8_t *routing, size_t routing_len, const char *experiment,
                 uint32_t round, int32_t sender, Cohort__Kind kind, const uint8_t *payload,
                 size_t payload_len, ch_err *err);

/* Packs a protobuf-c message and sends it as the payload of an Envelope. */
int ch_wire_send_msg(void *sock, const uint8_t *routing, size_t routing_len, const char *experiment,
                     uint32_t round, int32_t sender, Cohort__Kind kind, const ProtobufCMessage *msg,
                     ch_err *err);

/* Bytes shared by many messages without a copy per message: copied once into
 * a reference-counted ZeroMQ frame (zmq_msg_init_data); every send takes a
 * reference, and the bytes are freed when ch_wire_shared_free has been called
 * and ZeroMQ has let go of the last copy (sent, or dropped with its peer).
 * Returns NULL with err set when out of memory. */
typedef struct ch_wire_shared ch_wire_shared;
ch_wire_shared *ch_wire_shared_new(const uint8_t *data, size_t len, ch_err *err);
void ch_wire_shared_free(ch_wire_shared *s);
/* Shared buffers not yet freed in this process (new minus freed by ZeroMQ):
 * for tests and leak checks. */
long ch_wire_shared_live(void);

/* Sends one Envelope whose payload is `msg` (a protobuf-c message) with its
 * bytes field `field` holding `tail`'s bytes, as frames whose concatenation
 * is that Envelope packed: [routing id], a head (the Envelope's fields, the
 * payload's tag and length, msg's other fields, `field`'s tag and length),
 * then the shared frame. Protobuf accepts fields in any order, so the
 * receiver decodes the joined frames as it would one packed Envelope. `field`
 * must be a singular bytes field of msg, left empty. Returns as
 * ch_wire_send, or CH_EINVAL for a bad field. */
int ch_wire_send_shared(void *sock, const uint8_t *routing, size_t routing_len,
                        const char *experiment, uint32_t round, int32_t sender, Cohort__Kind kind,
                        const ProtobufCMessage *msg, const char *field, ch_wire_shared *tail,
                        ch_err *err);

/* Receives one message, waiting at most timeout_ms (-1: forever).
 * router: the socket is a ROUTER (first frame is the routing id).
 * experiment: if not NULL, an Envelope for another experiment is rejected.
 * The frames after the routing id are joined (see ch_wire_decode_frames).
 * Returns 0 with *m filled, CH_ETIMEOUT when nothing came, CH_EPROTO for a
 * message that was received but rejected (err says why; *m is empty), CH_EIO
 * for a socket failure, CH_EINTR when a signal interrupted the wait. */
int ch_wire_recv(void *sock, bool router, const char *experiment, int timeout_ms, ch_wire_msg *m,
                 ch_err *err);

/* Checks an Envelope decoded from bytes (version, kind, experiment). Used by
 * ch_wire_recv and directly by the fuzz target. Returns a new Envelope or NULL
 * with err set. */
Cohort__Envelope *ch_wire_decode(const uint8_t *data, size_t len, const char *experiment,
                                 ch_err *err);

/* Checks and decodes an Envelope sent as n frames: at most
 * CH_WIRE_MAX_FRAMES frames (n >= 1) of max_message bytes in all (<= 0: no
 * bound), joined and handed to ch_wire_decode. Returns a new Envelope or
 * NULL with err set (CH_EPROTO, or CH_ENOMEM). Used by ch_wire_recv and the
 * fuzz target. */
Cohort__Envelope *ch_wire_decode_frames(const uint8_t *const *frames, const size_t *lens, size_t n,
                                        long long max_message, const char *experiment, ch_err *err);

void ch_wire_msg_free(ch_wire_msg *m);

/* Name of a kind for messages ("UPDATE"). */
const char *ch_wire_kind_name(int kind);

/* Monotonic milliseconds. */
int64_t ch_now_ms(void);
/* Wall-clock seconds since the epoch, with fractions. */
double ch_wall_time(void);

#endif
