/*
 * relay.c: the baseline of docs/performance.md, a bare durable relay in plain C on
 * rabbitmq-c 0.11. No Swift, no store, no rules: what the broker lets a confirmed relay do
 * on this machine.
 *
 *   relay fill  QUEUE N SIZE        publish N persistent messages of SIZE bytes to QUEUE
 *                                   (default exchange), pipelined confirms; waits for all
 *   relay relay IN OUT N PREFETCH   consume N messages from IN (basic.qos PREFETCH), publish
 *                                   each persistently to OUT with pipelined publisher
 *                                   confirms, ack each input after its output's confirm;
 *                                   prints "relayed N in S s: R msg/s"
 *   relay declare QUEUE TYPE        declare a durable queue (TYPE quorum|classic) and purge it
 *
 * Connection from the environment: DDR_AMQP_HOST (127.0.0.1), DDR_AMQP_PORT (5672),
 * DDR_AMQP_VHOST (/), DDR_AMQP_USER (guest), DDR_AMQP_PASSWORD (guest).
 *
 * Channel 1 consumes and acks, channel 2 publishes in confirm mode. Publishes are numbered
 * 1, 2, ... on channel 2 (confirm sequence numbers); seq s carries the input with delivery
 * tag in_tag[s]. A basic.ack with `multiple` confirms every seq up to its tag; the input of
 * the highest confirmed seq is then acked with multiple=true (inputs arrive in order and are
 * published in order, so everything below it is confirmed too).
 *
 * rabbitmq-c 0.11: amqp_consume_message returns AMQP_STATUS_UNEXPECTED_STATE when the next
 * frame is not a delivery (here: a confirm on channel 2); amqp_simple_wait_frame then reads it.
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static amqp_connection_state_t conn;

static void die(const char *what) {
    fprintf(stderr, "relay: %s\n", what);
    exit(1);
}

static void check_reply(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        fprintf(stderr, "relay: %s: %s\n", what, amqp_error_string2(r.library_error));
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        fprintf(stderr, "relay: %s: channel closed %u %.*s\n", what, m->reply_code, (int)m->reply_text.len,
                (char *)m->reply_text.bytes);
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        fprintf(stderr, "relay: %s: connection closed %u %.*s\n", what, m->reply_code, (int)m->reply_text.len,
                (char *)m->reply_text.bytes);
    } else {
        fprintf(stderr, "relay: %s: failed (%d)\n", what, r.reply_type);
    }
    exit(1);
}

static const char *env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void connect_broker(void) {
    conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket) die("cannot create socket");
    if (amqp_socket_open(socket, env("DDR_AMQP_HOST", "127.0.0.1"), atoi(env("DDR_AMQP_PORT", "5672"))))
        die("cannot open the TCP connection");
    check_reply(amqp_login(conn, env("DDR_AMQP_VHOST", "/"), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                           env("DDR_AMQP_USER", "guest"), env("DDR_AMQP_PASSWORD", "guest")),
                "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel 1");
    amqp_channel_open(conn, 2);
    check_reply(amqp_get_rpc_reply(conn), "channel 2");
    amqp_confirm_select(conn, 2);
    check_reply(amqp_get_rpc_reply(conn), "confirm.select");
}

static void disconnect_broker(void) {
    amqp_channel_close(conn, 2, AMQP_REPLY_SUCCESS);
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* Reads one frame that is not a delivery; returns the highest seq it confirms (0: none).
 * A nack counts as confirmed-but-failed in *nacked. */
static uint64_t read_confirm(int *nacked, int *multiple) {
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) die("connection lost while waiting for a frame");
    if (frame.frame_type != AMQP_FRAME_METHOD) return 0;
    switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *a = frame.payload.method.decoded;
        *multiple = a->multiple;
        return a->delivery_tag;
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *n = frame.payload.method.decoded;
        *multiple = n->multiple;
        (*nacked)++;
        return n->delivery_tag;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        die("broker closed the channel or connection");
    }
    return 0;
}

static void publish(const char *queue, amqp_bytes_t body) {
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes("application/octet-stream");
    if (amqp_basic_publish(conn, 2, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props, body) != AMQP_STATUS_OK)
        die("publish failed");
}

static int cmd_declare(const char *queue, const char *type) {
    connect_broker();
    amqp_table_entry_t entry;
    amqp_table_t args = amqp_empty_table;
    if (strcmp(type, "quorum") == 0) {
        entry.key = amqp_cstring_bytes("x-queue-type");
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = amqp_cstring_bytes("quorum");
        args.num_entries = 1;
        args.entries = &entry;
    }
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    check_reply(amqp_get_rpc_reply(conn), "queue.declare");
    amqp_queue_purge(conn, 1, amqp_cstring_bytes(queue));
    check_reply(amqp_get_rpc_reply(conn), "queue.purge");
    disconnect_broker();
    return 0;
}

static int cmd_fill(const char *queue, uint64_t n, size_t size) {
    connect_broker();
    char *buf = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) buf[i] = (char)('a' + i % 26);
    amqp_bytes_t body = {size, buf};
    uint64_t confirmed = 0, published = 0;
    int nacked = 0;
    const uint64_t window = 1000;
    double t0 = now_s();
    while (confirmed < n) {
        while (published < n && published - confirmed < window) {
            publish(queue, body);
            published++;
        }
        int multiple = 0;
        uint64_t tag = read_confirm(&nacked, &multiple);
        if (tag) confirmed = multiple ? tag : (tag > confirmed ? tag : confirmed);
    }
    double dt = now_s() - t0;
    printf("filled %llu in %.3f s: %.0f msg/s%s\n", (unsigned long long)n, dt, n / dt, nacked ? " (NACKS)" : "");
    free(buf);
    disconnect_broker();
    return nacked ? 1 : 0;
}

static int cmd_relay(const char *in, const char *out, uint64_t n, uint16_t prefetch) {
    connect_broker();
    amqp_basic_qos(conn, 1, 0, prefetch, 0);
    check_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(in), amqp_cstring_bytes("baseline-relay"), 0, 0, 0,
                       amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "basic.consume");

    /* in_tag[seq]: the input delivery tag carried by publish seq (1-based). */
    uint64_t *in_tag = calloc(n + 1, sizeof *in_tag);
    uint64_t published = 0, confirmed = 0, acked_inputs = 0;
    int nacked = 0;
    double t0 = 0;
    while (confirmed < n) {
        amqp_maybe_release_buffers(conn);
        amqp_envelope_t envelope;
        amqp_rpc_reply_t r = amqp_consume_message(conn, &envelope, NULL, 0);
        uint64_t tag = 0;
        int multiple = 0;
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            if (published == 0) t0 = now_s();
            if (published < n) {
                publish(out, envelope.message.body);
                published++;
                in_tag[published] = envelope.delivery_tag;
            }
            amqp_destroy_envelope(&envelope);
            continue;
        } else if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                   r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            tag = read_confirm(&nacked, &multiple);
        } else {
            check_reply(r, "consume");
        }
        if (tag == 0) continue;
        if (multiple || tag > confirmed) confirmed = tag > confirmed ? tag : confirmed;
        /* Single (non-multiple) confirms can arrive out of order only with several queues
         * behind an exchange; here one queue: in order. Ack every input up to `confirmed`. */
        if (confirmed > acked_inputs) {
            amqp_basic_ack(conn, 1, in_tag[confirmed], 1);
            acked_inputs = confirmed;
        }
    }
    double dt = now_s() - t0;
    printf("relayed %llu in %.3f s: %.0f msg/s%s\n", (unsigned long long)n, dt, n / dt, nacked ? " (NACKS)" : "");
    free(in_tag);
    disconnect_broker();
    return nacked ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "declare") == 0) return cmd_declare(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "fill") == 0)
        return cmd_fill(argv[2], strtoull(argv[3], NULL, 10), strtoul(argv[4], NULL, 10));
    if (argc == 6 && strcmp(argv[1], "relay") == 0)
        return cmd_relay(argv[2], argv[3], strtoull(argv[4], NULL, 10), (uint16_t)atoi(argv[5]));
    fprintf(stderr,
            "usage: relay declare QUEUE quorum|classic\n"
            "       relay fill QUEUE N SIZE\n"
            "       relay relay IN OUT N PREFETCH\n");
    return 2;
}
