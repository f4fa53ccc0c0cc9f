/* stan_internal.h - the streaming server's state, shared by stan_server.c (protocol) and
 * stan_monitor.c (HTTP monitoring JSON). Not a public interface. */
#ifndef STAN_INTERNAL_H
#define STAN_INTERNAL_H

#include "stan_append.h"
#include "stan_map.h"
#include "stan_server.h"

#include <streamlog.h>

typedef struct stan_client stan_client;
typedef struct stan_channel stan_channel;

typedef struct stan_sub {
    stan_server *srv;
    stan_client *client;
    stan_channel *chan;
    char *inbox, *ack_inbox, *durable, *queue;
    int max_inflight, ack_wait_s;
    streamlog_sub *sl;
    uv_poll_t poll;
    int polling, in_drain, doomed, doomed_unsub;
    uint8_t *held;         /* a packed MsgProto waiting for its PubAck to go out (see deliver_one) */
    size_t held_len;
    uint64_t held_seq;
    struct stan_sub *next_in_client, *next_in_chan;
} stan_sub;

struct stan_client {
    stan_server *srv;
    char *id, *hb_inbox;
    uint8_t *conn_id;
    size_t conn_id_len;
    int hb_fails;
    uint64_t hb_req;       /* pending heartbeat request id, 0 when none */
    stan_sub *subs;
    stan_client *next, *prev;   /* registration order, for monitoring */
};

/* Room for a channel name and its NUL (the library's names are 1..255 bytes). */
#define STAN_CHAN_NAME_CAP 256

/* A durable seen since the start whose subscription is closed (its client closed it, closed its
 * connection or went away): listed by monitoring as an offline subscription, with the figures it
 * had when it closed. A durable queue group is offline when its last member closed. Durables
 * not seen since the start (a FILE store's, after a restart) are not known here. */
typedef struct stan_offline {
    char *client_id, *durable, *queue, *inbox, *ack_inbox;
    int max_inflight, ack_wait_s;
    uint64_t last_sent, pending;
    struct stan_offline *next;
} stan_offline;

struct stan_channel {
    char *name;
    streamlog_channel *ch;
    stan_appq q;
    stan_sub *subs;
    stan_offline *offline;
    int64_t last_active_ns;   /* last publish or subscription, for max_inactivity */
    stan_channel *next;   /* creation order */
};

struct stan_server {
    uv_loop_t *loop;
    stan_nats *nats;
    natsConnection *nc;
    stan_config cfg;
    char *cluster_id, *dir;
    int temp_dir;
    char server_id[32];
    streamlog_store *store;
    stan_appender *app;
    stan_map clients;        /* clientID -> stan_client */
    stan_map conn_ids;       /* connID bytes -> stan_client */
    stan_map channels;       /* name -> stan_channel */
    stan_map pending_ids;    /* clientID -> 1 while a duplicate check runs */
    stan_map acks;           /* ack inbox -> stan_sub */
    stan_client *clients_head, *clients_tail;
    stan_channel *chan_head, *chan_tail;
    size_t nsubs;
    size_t nheld;            /* subscriptions holding a message back for its PubAck */
    char pub_prefix[300], sub_subj[300], unsub_subj[300], subclose_subj[300], close_subj[300],
        discover_subj[300], pings_subj[300], acks_prefix[300];
    uv_timer_t hb_timer, inactivity_timer;
    int timers_closed;
    int64_t start_time_ns;
    _Atomic uint64_t in_msgs, in_bytes;   /* counted on the appender threads */
    uint64_t out_msgs, out_bytes;
    uint8_t *pack_buf;
    size_t pack_cap;
};

int64_t stan_now_ns(void);

/* Protocol request handlers, one per subject (also the fuzz target's entry points). */
void stan_on_discover(natsMsg *m, void *s);
void stan_on_client_ping(natsMsg *m, void *s);
void stan_on_pub(natsMsg *m, void *s);
void stan_on_sub_request(natsMsg *m, void *s);
void stan_on_unsub(natsMsg *m, void *s);
void stan_on_subclose(natsMsg *m, void *s);
void stan_on_close(natsMsg *m, void *s);
void stan_on_ack(natsMsg *m, void *s);

#endif
