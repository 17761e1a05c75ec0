/* pb.h: a protobuf-c message packed into a cohort buffer, the step every
 * algorithm's task, update, checkpoint and model bytes go through. */
#ifndef CH_PB_H
#define CH_PB_H

#include "common/buf.h"
#include "common/err.h"

#include <protobuf-c/protobuf-c.h>

/* Appends m's packed bytes to out (out->data is non-NULL afterwards even
 * for an empty message). Returns 0 or CH_ENOMEM with err set. */
int ch_pb_append(const ProtobufCMessage *m, ch_buf *out, ch_err *err);

#endif
