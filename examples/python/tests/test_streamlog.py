"""The streamlog Python package against the real library (run by `meson test --suite python`)."""
import gc
import os
import re
import threading
import time

import pytest

import streamlog

DEADLINE_S = 60  # generous bound for waits on 2 busy cores; never a timing assertion


@pytest.fixture
def store(tmp_path):
    with streamlog.open(str(tmp_path / "store"), sync="none") as st:
        yield st


def test_append_get_iter_stats(store):
    ch = store.channel("orders", create=True)
    assert ch.append(b"apples") == 1
    assert ch.append("pears") == 2  # str is UTF-8
    assert ch.append_batch([b"a", b"", "c"]) == 3
    m = ch.get(2)
    assert (m.seq, m.data, m.redelivery_count) == (2, b"pears", 0)
    assert abs(m.time_ns / 1e9 - time.time()) < 3600
    assert [(x.seq, x.data) for x in ch.iter()] == [(1, b"apples"), (2, b"pears"), (3, b"a"), (4, b""), (5, b"c")]
    assert [x.seq for x in ch.iter(start="seq", value=4)] == [4, 5]
    assert [x.seq for x in ch.iter(start="last")] == [5]
    assert [x.seq for x in ch.iter(start="new")] == []
    assert [x.seq for x in ch.iter(start="time", value=m.time_ns)] == [x.seq for x in ch if x.time_ns >= m.time_ns]
    assert [x.seq for x in ch.iter(start="delta", value=3600 * 10**9)] == [1, 2, 3, 4, 5]
    assert [x.seq for x in ch.iter(start=streamlog.START_SEQUENCE, value=5)] == [5]
    assert ch.stats() == {"first_seq": 1, "last_seq": 5, "msgs": 5, "bytes": 13, "subs": 0}
    assert ch.append_expect(b"x", 5) == 6
    with pytest.raises(streamlog.Conflict):
        ch.append_expect(b"y", 5)
    assert ch.append_batch([b"e1", b"e2"], expected_last_seq=6) == 7
    with pytest.raises(streamlog.Conflict):
        ch.append_batch([b"e3", b"e4"], expected_last_seq=6)
    assert ch.stats()["last_seq"] == 8
    once = ch.append_once(b"pay", "payment-1")
    assert once[1] is False and ch.append_once(b"pay", "payment-1") == (once[0], True)
    assert ch.append(b"pay", msg_id="payment-1") == once[0]
    hseq = ch.append(b"evt", headers={"Type": "OrderPlaced", "Correlation-Id": "42"})
    m = ch.get(hseq)
    assert m.headers == [("Type", "OrderPlaced"), ("Correlation-Id", "42")] and m.header("type") == "OrderPlaced"
    assert ch.get(1).headers == [] and ch.get(1).header("Type") is None
    with pytest.raises(streamlog.InvalidArgument):
        ch.append(b"x", headers={"Bad Name": "v"})
    assert ch.purge(upto=2) == 2 and ch.stats()["first_seq"] == 3
    assert ch.purge() == 8 and ch.stats()["msgs"] == 0 and ch.append(b"z") == 11
    assert store.channels() == ["orders"]


def test_iterator_ends_when_caught_up_and_stays_ended(store):
    ch = store.channel("c", create=True)
    ch.append(b"1")
    it = ch.iter()
    assert next(it).data == b"1"
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_errors_carry_code_name_and_message(store):
    with pytest.raises(streamlog.NotFound) as e:
        store.channel("missing")
    assert e.value.code == streamlog.ENOTFOUND == -2
    assert e.value.name == "STREAMLOG_ENOTFOUND"
    assert "missing" in e.value.message
    assert isinstance(e.value, streamlog.Error) and isinstance(e.value, LookupError)
    with pytest.raises(streamlog.InvalidArgument) as e:
        store.channel("a..b", create=True)
    assert e.value.code == -1 and "a..b" in str(e.value)
    ch = store.channel("c", create=True)
    with pytest.raises(streamlog.NotFound):
        ch.get(99)
    with pytest.raises(streamlog.InvalidArgument):
        ch.iter(start="sometime")
    with pytest.raises(streamlog.InvalidArgument):
        ch.append_batch([])
    with pytest.raises(streamlog.InvalidArgument):
        ch.subscribe(max_inflight=0)
    with pytest.raises(streamlog.InvalidArgument):
        streamlog.open(store.path + "x", nonsense=1)
    with pytest.raises(streamlog.Busy):  # one open per process
        streamlog.open(store.path)
    with pytest.raises(streamlog.LimitExceeded):
        ch.append(b"x" * (2 << 20))  # default max payload 1 MiB


def test_limits_and_store_options(tmp_path):
    with streamlog.open(str(tmp_path / "s"), sync="interval", sync_interval_ms=50, max_msgs=3) as st:
        ch = st.channel("c", create=True)
        for i in range(5):
            ch.append(str(i))
        assert [m.data for m in ch] == [b"2", b"3", b"4"]
        own = st.channel("own", create=True, max_msgs=1)
        own.append_batch(["a", "b"])
        assert own.stats()["msgs"] == 1


def test_readonly_store(tmp_path):
    path = str(tmp_path / "s")
    with streamlog.open(path) as st:
        st.channel("c", create=True).append(b"kept")
    with streamlog.open(path, readonly=True) as ro:
        ch = ro.channel("c")
        assert [m.data for m in ch] == [b"kept"]
        with pytest.raises(streamlog.PermissionDenied) as e:
            ch.append(b"x")
        assert e.value.code == streamlog.EPERM and "read-only" in e.value.message
        with pytest.raises(streamlog.PermissionDenied):
            ro.channel("new", create=True)
    with pytest.raises(streamlog.NotFound):
        streamlog.open(str(tmp_path / "none"), readonly=True)


def test_store_close_closes_children_first(tmp_path):
    st = streamlog.open(str(tmp_path / "s"))
    ch = st.channel("c", create=True)
    ch.append(b"1")
    it = ch.iter()
    sub = ch.subscribe(start="first")
    st.close()  # the library would say EBUSY; the package closes sub, iterator, channel first
    with pytest.raises(streamlog.Closed):
        ch.append(b"2")
    with pytest.raises(streamlog.Closed):
        sub.next(timeout=0)
    with pytest.raises(streamlog.Closed):
        next(it)
    st.close()  # idempotent
    # reopening works: the store was really closed
    with streamlog.open(str(tmp_path / "s")) as again:
        assert again.channel("c").stats()["msgs"] == 1


def test_garbage_collection_frees_children_before_the_store(tmp_path):
    path = str(tmp_path / "s")

    def use():
        st = streamlog.open(path)
        ch = st.channel("c", create=True)
        ch.append(b"x")
        sub = ch.subscribe(start="first")
        assert sub.next(timeout=DEADLINE_S).data == b"x"
        # nothing closed: references dropped in any order

    use()
    gc.collect()
    with streamlog.open(path) as st:  # would be Busy if the first store were still open
        assert st.channel("c").stats()["msgs"] == 1


def test_nak_term_and_dead_letter_headers(store):
    ch = store.channel("work", create=True)
    ch.append(b"job", headers={"Job-Id": "7"})
    with ch.subscribe(start="first", ack_wait_ms=60000, dead_letter="work.dead") as sub:
        m = sub.next(timeout=DEADLINE_S)
        sub.progress(m)
        sub.nak(m)  # redelivered now, not after the minute-long ack wait
        again = sub.next(timeout=DEADLINE_S)
        assert (again.seq, again.redelivery_count) == (m.seq, 1)
        sub.term(again)
        with pytest.raises(streamlog.NotFound):
            sub.term(again)  # no longer in flight
    dead = list(store.channel("work.dead").iter())
    assert len(dead) == 1 and dead[0].data == b"job"
    assert dead[0].header("Job-Id") == "7" and dead[0].header("Streamlog-Reason") == "term"
    assert dead[0].header("Streamlog-Origin-Channel") == "work" and dead[0].header("Streamlog-Deliveries") == "2"


def test_subscription_manual_ack_and_redelivery(store):
    ch = store.channel("jobs", create=True)
    ch.append_batch([b"j1", b"j2"])
    with ch.subscribe(durable="d", start="first", ack_wait_ms=50) as sub:
        first = sub.next(timeout=DEADLINE_S)
        assert first.data == b"j1"
        sub.ack(first)
        second = sub.next(timeout=DEADLINE_S)
        assert (second.data, second.redelivery_count) == (b"j2", 0)
        # not acked: it comes again after the ack wait, counted
        again = sub.next(timeout=DEADLINE_S)
        assert (again.seq, again.redelivery_count) == (second.seq, 1)
        sub.ack(again.seq)
        assert sub.next(timeout=0) is None
        st = sub.stats()
        assert st["acked"] == 2 and st["redelivered"] == 1 and st["pending"] == 0
    # the durable resumes after its acked position
    ch.append(b"j3")
    with ch.subscribe(durable="d") as sub:
        assert sub.next(timeout=DEADLINE_S).data == b"j3"
        sub.unsubscribe()


def test_next_releases_the_gil(store):
    """A thread blocked in next() (no timeout) lets the main thread run and append."""
    ch = store.channel("c", create=True)
    sub = ch.subscribe(start="new")
    got = []
    t = threading.Thread(target=lambda: got.append(sub.next()))
    t.start()
    # if next() held the GIL, this thread could not run until it returned
    counter = 0
    while counter < 1000:
        counter += 1
    ch.append(b"wake")
    t.join(DEADLINE_S)
    assert not t.is_alive() and got[0].data == b"wake"
    sub.close()


def test_subscription_iteration_and_fileno(store):
    import selectors
    ch = store.channel("c", create=True)
    with ch.subscribe(start="first", ack_mode="auto") as sub:
        sel = selectors.DefaultSelector()
        sel.register(sub.fileno(), selectors.EVENT_READ)
        ch.append(b"a")
        assert sel.select(timeout=DEADLINE_S), "the fd becomes readable for a new message"
        assert sub.next(timeout=0).data == b"a"
        ch.append_batch([b"b", b"c"])
        it = iter(sub)
        assert [next(it).data, next(it).data] == [b"b", b"c"]
        sel.close()


def test_pipeline_results_in_order(store):
    ch = store.channel("piped", create=True)
    with store.pipeline(depth=64) as p:
        tickets = [p.append(ch, f"m{i}", headers={"N": str(i)} if i % 2 else None) for i in range(50)]
        dup = p.append(ch, "once", msg_id="id-1")
        again = p.append(ch, "once", msg_id="id-1")
        results = []
        while True:
            r = p.next(timeout=30)
            if r is None:
                break
            results.append(r)
        assert [t for t, _, _ in results] == tickets + [dup, again]
        assert [s for _, s, _ in results[:50]] == list(range(1, 51))  # submission order
        assert results[50][1] == results[51][1] == 51 and results[51][2] is True and results[50][2] is False
        assert p.next(timeout=0) is None  # nothing outstanding
    assert ch.get(2).header("N") == "1" and ch.stats()["msgs"] == 51
    with store.pipeline(depth=1) as p:
        p.append(ch, "x")
        with pytest.raises(streamlog.Again):
            p.append(ch, "y")
        assert p.next(timeout=30)[1] == 52
    with pytest.raises(streamlog.InvalidArgument):
        store.pipeline(depth=0)


def test_import_messages_keeps_sequences_and_times(store):
    src = store.channel("src", create=True)
    src.append("a")
    src.append("b", headers={"Type": "created"})
    src.purge(upto=1)
    src_msgs = list(src.iter())  # seq 2 only
    copy = store.channel("copy", create=True)
    copy.import_messages(src_msgs[0].seq, src_msgs)
    copy.import_messages(3, [(time.time_ns(), b"c", {"K": "v"})])
    got = list(copy.iter())
    assert [(m.seq, m.time_ns, m.data, m.headers) for m in got[:1]] == \
           [(m.seq, m.time_ns, m.data, m.headers) for m in src_msgs]
    assert got[1].seq == 3 and got[1].header("K") == "v" and got[1].time_ns >= got[0].time_ns
    with pytest.raises(streamlog.Conflict):
        copy.import_messages(9, [(time.time_ns() - 1, b"gap")])
    with pytest.raises(streamlog.InvalidArgument):
        copy.import_messages(4, [(time.time_ns() + 60 * 10**9, b"future")])


def test_constants_match_the_header():
    header = os.environ.get("STREAMLOG_HEADER")
    if not header:
        pytest.skip("STREAMLOG_HEADER (path to streamlog.h) not set")
    text = open(header).read()
    found = 0
    for name, value in re.findall(r"#define STREAMLOG_(\w+)\s+(-?\d+|0x[0-9a-f]+)(?:u|LL)?\b", text):
        if name.startswith("VERSION"):
            continue
        assert getattr(streamlog, name) == int(value, 0), name
        found += 1
    assert found >= 40


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", streamlog.library_version())


def test_forked_child_reopens_and_leaves_inherited_handles_alone(tmp_path, fork_safe_runtime):
    """After fork() the child opens the store again; the handles it inherited are
    the parent's: using one raises, and closing or collecting one calls nothing."""
    path = str(tmp_path / "store")
    with streamlog.open(path) as parent_store:
        ch = parent_store.channel("c", create=True)
        sub = ch.subscribe(start="first")
        ch.append(b"from the parent")
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status, never raise out
            code = 0
            try:
                try:
                    ch.append(b"x")
                    code = 10  # an inherited handle must not be usable
                except streamlog.InvalidArgument:
                    pass
                sub.close()
                ch.close()
                parent_store.close()  # forgets them; the library is not called
                with streamlog.open(path) as own:
                    own.channel("c").append(b"from the child")
            except BaseException:
                code = 11
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        # the parent's handles were untouched by the child's closes
        assert sub.next(timeout=DEADLINE_S).data == b"from the parent"
        assert sub.next(timeout=DEADLINE_S).data == b"from the child"
        assert ch.stats()["msgs"] == 2
