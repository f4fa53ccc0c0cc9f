/* fuzz_nats_parser.c - libFuzzer target for the NATS protocol parser.
 *
 * Each input is parsed twice: in one chunk, and split into chunks whose sizes come from the
 * input itself. Both runs must produce the same operations and the same final error (the
 * parser's promise that splits do not matter). CONNECT JSON goes through nats_connect_parse()
 * and subjects through the sublist validators and a match.
 *
 * Built with -DNATS_FUZZ_STANDALONE it is a plain program replaying the files given as
 * arguments, so the seed corpus runs with any compiler. */
#include "nats_parser.h"
#include "nats_sublist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 4096

typedef struct rec {
    int type;
    uint64_t hash;      /* over all fields */
} rec;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    h ^= n + 0x9E37;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t op_hash(const nats_op *op)
{
    uint64_t h = 1469598103934665603ull;
    h = mix(h, &op->type, sizeof op->type);
    h = mix(h, op->subject.p, op->subject.len);
    h = mix(h, op->reply.p, op->reply.len);
    h = mix(h, op->queue.p, op->queue.len);
    h = mix(h, op->sid.p, op->sid.len);
    h = mix(h, op->json.p, op->json.len);
    h = mix(h, &op->max_msgs, sizeof op->max_msgs);
    h = mix(h, &op->hdr_len, sizeof op->hdr_len);
    h = mix(h, op->payload.p, op->payload.len);
    return h;
}

static void exercise(const nats_op *op, nats_sublist *sl)
{
    nats_connect_opts o;
    static nats_sublist_result res;
    static int dummies[64];
    switch (op->type) {
    case NATS_OP_CONNECT:
        nats_connect_parse(op->json.p, op->json.len, &o);
        break;
    case NATS_OP_SUB:
        if (nats_subject_valid_subscribe(op->subject.p, op->subject.len) && op->subject.len < 512) {
            char s[512], q[512];
            memcpy(s, op->subject.p, op->subject.len);
            s[op->subject.len] = '\0';
            size_t ql = op->queue.len < sizeof q ? op->queue.len : 0;
            memcpy(q, op->queue.p ? op->queue.p : "", ql);
            q[ql] = '\0';
            if (nats_sublist_count(sl) < 64)
                nats_sublist_insert(sl, s, q, &dummies[nats_sublist_count(sl)]);
        }
        break;
    case NATS_OP_PUB:
    case NATS_OP_HPUB:
        if (nats_subject_valid_publish(op->subject.p, op->subject.len))
            nats_sublist_match(sl, op->subject.p, op->subject.len, NULL, NULL, &res);
        break;
    default:
        break;
    }
}

/* Parses data in chunks; chunk sizes cycle through sizes[] (one chunk when nsizes == 0). */
static int run(const uint8_t *data, size_t size, const uint8_t *sizes, size_t nsizes, rec *out,
               size_t *nout, nats_sublist *sl)
{
    nats_parser p;
    size_t off = 0, k = 0;
    int err = 0;
    nats_parser_init(&p, 4096);
    *nout = 0;
    while (off < size && !err) {
        size_t chunk = nsizes ? (size_t)sizes[k++ % nsizes] % 64 + 1 : size;
        if (chunk > size - off)
            chunk = size - off;
        /* Copy the chunk so that views past its end would be caught by ASan. */
        char *buf = malloc(chunk);
        if (!buf)
            abort();
        memcpy(buf, data + off, chunk);
        size_t pos = 0;
        while (pos < chunk) {
            nats_op op;
            size_t used;
            int rc = nats_parser_next(&p, buf + pos, chunk - pos, &used, &op);
            pos += used;
            if (rc == NATS_PARSE_NEED_MORE)
                break;
            if (rc < 0) {
                err = rc;
                break;
            }
            if (*nout < MAX_OPS) {
                out[*nout].type = op.type;
                out[*nout].hash = op_hash(&op);
                (*nout)++;
            }
            if (sl)
                exercise(&op, sl);
        }
        free(buf);
        off += chunk;
    }
    nats_parser_free(&p);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rec a[MAX_OPS], b[MAX_OPS];
    size_t na, nb;
    nats_sublist *sl = nats_sublist_new();
    if (!sl)
        return 0;
    int ea = run(data, size, NULL, 0, a, &na, sl);
    /* Chunk sizes from the first bytes of the input. */
    size_t ns = size < 8 ? size : 8;
    int eb = run(data, size, ns ? data : (const uint8_t *)"\1", ns ? ns : 1, b, &nb, NULL);
    nats_sublist_free(sl);
    if (ea != eb || na != nb) {
        fprintf(stderr, "split mismatch: err %d vs %d, ops %zu vs %zu\n", ea, eb, na, nb);
        abort();
    }
    for (size_t i = 0; i < na; i++) {
        if (a[i].type != b[i].type || a[i].hash != b[i].hash) {
            fprintf(stderr, "split mismatch at op %zu\n", i);
            abort();
        }
    }
    return 0;
}

#ifdef NATS_FUZZ_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        /* Every prefix too: truncated streams must not crash either. */
        for (size_t k = 0; k < n; k++)
            LLVMFuzzerTestOneInput(buf, k);
        printf("%s: ok (%zu bytes)\n", argv[i], n);
    }
    return 0;
}
#endif
