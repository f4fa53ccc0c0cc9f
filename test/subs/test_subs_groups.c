/*
 * test_subs_groups.c - durables and queue groups seen without subscribing:
 * listing a channel's groups of every kind (and only that channel's),
 * reading a group's state (position, lag, pending, redelivered, members) as
 * subscriptions come and go, deleting a group (refused while it has
 * members; a later subscribe starts afresh), and bad input.
 *
 * Payloads are "m<seq>" (su_fill_to), checked on every delivery.
 */
#define _GNU_SOURCE
#include "subs_util.h"

static streamlog_sub *group_sub(streamlog_channel *ch, const char *queue, const char *durable)
{
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    if (queue)
        su_str(o, STREAMLOG_OPT_QUEUE, queue);
    if (durable)
        su_str(o, STREAMLOG_OPT_DURABLE, durable);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

static streamlog_group_stats gstats(streamlog_channel *ch, int kind, const char *name)
{
    streamlog_group_stats g;
    memset(&g, 0xAB, sizeof g);
    TU_OK(streamlog_group_get_stats(ch, kind, name, &g));
    ck_assert_uint_eq(g.kind, (uint32_t)kind);
    ck_assert_uint_eq(g.reserved, 0);
    return g;
}

START_TEST(list_every_kind_of_one_channel)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL), *other = tu_chan(st, "other", NULL);
    char buf[STREAMLOG_GROUP_NAME_CAP];
    int kind = -1;
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, buf, sizeof buf), STREAMLOG_ENOTFOUND);

    streamlog_sub *d1 = group_sub(ch, NULL, "d1"), *d2 = group_sub(ch, NULL, "d2");
    streamlog_sub *q = group_sub(ch, "q", NULL), *w = group_sub(ch, "w", "pool");
    streamlog_sub *x = group_sub(other, NULL, "elsewhere");
    TU_OK(streamlog_sub_close(d1)); /* a closed durable is still listed */

    int seen[4] = {0}, n = 0;
    int after_kind = 0;
    char after[STREAMLOG_GROUP_NAME_CAP] = "";
    int rc;
    while ((rc = streamlog_group_list_next(ch, after_kind, after, &kind, buf, sizeof buf)) == STREAMLOG_OK) {
        ck_assert_int_lt(n, 10);
        if (kind == STREAMLOG_GROUP_DURABLE && !strcmp(buf, "d1"))
            seen[0]++;
        else if (kind == STREAMLOG_GROUP_DURABLE && !strcmp(buf, "d2"))
            seen[1]++;
        else if (kind == STREAMLOG_GROUP_QUEUE && !strcmp(buf, "q"))
            seen[2]++;
        else if (kind == STREAMLOG_GROUP_DURABLE_QUEUE && !strcmp(buf, "w:pool"))
            seen[3]++;
        else
            ck_abort_msg("listed kind %d name '%s'", kind, buf);
        after_kind = kind;
        strcpy(after, buf);
        n++;
    }
    TU_RC(rc, STREAMLOG_ENOTFOUND);
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(seen[i], 1);
    /* the other channel lists its own only */
    TU_OK(streamlog_group_list_next(other, 0, NULL, &kind, buf, sizeof buf));
    ck_assert_int_eq(kind, STREAMLOG_GROUP_DURABLE);
    ck_assert_str_eq(buf, "elsewhere");
    TU_RC(streamlog_group_list_next(other, kind, buf, &kind, buf, sizeof buf), STREAMLOG_ENOTFOUND);

    TU_OK(streamlog_sub_close(d2));
    TU_OK(streamlog_sub_close(q)); /* a plain queue group goes with its last member */
    TU_OK(streamlog_sub_close(w));
    TU_OK(streamlog_sub_close(x));
    n = 0;
    after_kind = 0;
    while (streamlog_group_list_next(ch, after_kind, buf, &kind, buf, sizeof buf) == STREAMLOG_OK) {
        after_kind = kind;
        n++;
    }
    ck_assert_int_eq(n, 3);
    streamlog_channel_close(ch);
    streamlog_channel_close(other);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(durable_state_without_subscribing)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 10);
    streamlog_sub *s = group_sub(ch, NULL, "d");
    streamlog_group_stats g = gstats(ch, STREAMLOG_GROUP_DURABLE, "d");
    ck_assert_uint_eq(g.members, 1);
    ck_assert_uint_eq(g.next_seq, 1);
    ck_assert_uint_eq(g.lag, 10);
    ck_assert_uint_eq(g.pending, 0);
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    SU_EXPECT(s, 0, 3, 0);
    TU_OK(streamlog_ack(s, 1));
    TU_OK(streamlog_sub_close(s)); /* persists the ack, gives back what it did not deliver */
    g = gstats(ch, STREAMLOG_GROUP_DURABLE, "d");
    ck_assert_uint_eq(g.members, 0);
    ck_assert_uint_eq(g.next_seq, 4);
    ck_assert_uint_eq(g.lag, 7);
    ck_assert_uint_eq(g.pending, 2);
    ck_assert_uint_eq(g.redelivered, 0);
    su_fill_to(ch, 15);
    ck_assert_uint_eq(gstats(ch, STREAMLOG_GROUP_DURABLE, "d").lag, 12);

    /* resumed: 2 is delivered again, then the subscription closes */
    s = group_sub(ch, NULL, "d");
    SU_EXPECT(s, 0, 2, 1);
    TU_OK(streamlog_sub_close(s));
    g = gstats(ch, STREAMLOG_GROUP_DURABLE, "d");
    ck_assert_uint_eq(g.pending, 2);
    ck_assert_uint_eq(g.redelivered, 1);
    ck_assert_uint_eq(g.next_seq, 4);

    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, "nope", &g), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_QUEUE, "d", &g), STREAMLOG_ENOTFOUND);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(queue_group_state_counts_members)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 4);
    streamlog_sub *a = group_sub(ch, "w", "pool"), *b = group_sub(ch, "w", "pool");
    streamlog_group_stats g = gstats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool");
    ck_assert_uint_eq(g.members, 2);
    ck_assert_uint_eq(g.lag, 4);
    SU_EXPECT(a, 0, 1, 0);
    g = gstats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool");
    ck_assert_uint_ge(g.pending, 1);
    ck_assert_uint_le(g.lag, 3);
    TU_OK(streamlog_sub_close(a));
    ck_assert_uint_eq(gstats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool").members, 1);
    TU_OK(streamlog_sub_close(b));
    g = gstats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool");
    ck_assert_uint_eq(g.members, 0);
    ck_assert_uint_eq(g.pending, 1); /* #1, handed back unacked */
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(delete_group)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    su_fill_to(ch, 3);
    streamlog_sub *s = group_sub(ch, NULL, "d");
    SU_EXPECT(s, 0, 1, 0);
    TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, "d"), STREAMLOG_EBUSY);
    ck_assert_uint_eq(gstats(ch, STREAMLOG_GROUP_DURABLE, "d").members, 1); /* nothing deleted */
    TU_OK(streamlog_sub_close(s));
    TU_OK(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, "d"));
    streamlog_group_stats g;
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, "d", &g), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, "d"), STREAMLOG_ENOTFOUND);
    char buf[STREAMLOG_GROUP_NAME_CAP];
    int kind;
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, buf, sizeof buf), STREAMLOG_ENOTFOUND);
    /* a new subscribe under the name starts where it asks, with nothing pending */
    s = group_sub(ch, NULL, "d");
    SU_EXPECT(s, 0, 1, 0);
    SU_EXPECT(s, 0, 2, 0);
    TU_OK(streamlog_sub_close(s));

    /* a durable queue group with no member left */
    s = group_sub(ch, "w", "pool");
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_close(s));
    TU_OK(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool"));
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, "w:pool", &g), STREAMLOG_ENOTFOUND);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(bad_input)
{
    streamlog_store *st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_sub *s = group_sub(ch, NULL, "a-rather-long-durable-name");
    streamlog_group_stats g;
    char buf[STREAMLOG_GROUP_NAME_CAP], small[8];
    int kind;
    TU_RC(streamlog_group_list_next(NULL, 0, NULL, &kind, buf, sizeof buf), STREAMLOG_EINVAL);
    ck_assert_str_ne(streamlog_errmsg(), "");
    TU_RC(streamlog_group_list_next(ch, 0, NULL, NULL, buf, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, NULL, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, small, sizeof small), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, buf, 0), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, STREAMLOG_GROUP_DURABLE, NULL, &kind, buf, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, 99, "x", &kind, buf, sizeof buf), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_list_next(ch, -1, "x", &kind, buf, sizeof buf), STREAMLOG_EINVAL);

    TU_RC(streamlog_group_get_stats(NULL, STREAMLOG_GROUP_DURABLE, "d", &g), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, NULL, &g), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, "d", NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_get_stats(ch, 0, "d", &g), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_get_stats(ch, 4, "d", &g), STREAMLOG_EINVAL);
    char longname[260];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad_simple[] = {"", "a:b", longname};
    for (size_t i = 0; i < sizeof bad_simple / sizeof *bad_simple; i++) {
        TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, bad_simple[i], &g), STREAMLOG_EINVAL);
        TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_QUEUE, bad_simple[i], &g), STREAMLOG_EINVAL);
        TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, bad_simple[i]), STREAMLOG_EINVAL);
    }
    const char *bad_pair[] = {"nocolon", ":d", "q:", "q:d:e", ""};
    for (size_t i = 0; i < sizeof bad_pair / sizeof *bad_pair; i++) {
        TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE_QUEUE, bad_pair[i], &g), STREAMLOG_EINVAL);
        TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE_QUEUE, bad_pair[i]), STREAMLOG_EINVAL);
    }
    TU_RC(streamlog_group_delete(NULL, STREAMLOG_GROUP_DURABLE, "d"), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_group_delete(ch, 7, "d"), STREAMLOG_EINVAL);

    /* a deleted channel */
    TU_OK(streamlog_sub_close(s));
    TU_OK(streamlog_channel_delete(st, "c"));
    TU_RC(streamlog_group_list_next(ch, 0, NULL, &kind, buf, sizeof buf), STREAMLOG_ECLOSED);
    TU_RC(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, "d", &g), STREAMLOG_ECLOSED);
    TU_RC(streamlog_group_delete(ch, STREAMLOG_GROUP_DURABLE, "d"), STREAMLOG_ECLOSED);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *subs_groups_suite(void)
{
    Suite *s = suite_create("subs-groups");
    TCase *tc = tu_tcase("groups", 60);
    tcase_add_test(tc, list_every_kind_of_one_channel);
    tcase_add_test(tc, durable_state_without_subscribing);
    tcase_add_test(tc, queue_group_state_counts_members);
    tcase_add_test(tc, delete_group);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_groups_suite());
}
