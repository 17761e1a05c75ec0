/* pb.c: protobuf-c messages into buffers (see pb.h). */
#include "common/pb.h"

int ch_pb_append(const ProtobufCMessage *m, ch_buf *out, ch_err *err)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    if (ch_buf_reserve(out, size + 1) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory packing %zu bytes", size);
    }
    protobuf_c_message_pack(m, out->data + out->len);
    out->len += size;
    return 0;
}
