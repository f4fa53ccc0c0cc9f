#!/usr/bin/python3
"""Scenario tests of streamlog-jetstream against real nats-server processes on loopback.

usage: test_bridge.py SCENARIO   (bad-args, single, kill, server-restart, cluster, mirror-in, in-process; or bench,
       which needs JSB_BENCH, the jsb-bench program, and takes its extra arguments from JSB_BENCH_ARGS)
Needs JSB_BRIDGE and JSB_TOOL (set by meson test) and nats-server (Debian: apt-get install
nats-server); without nats-server it exits 77, which meson counts as skipped.
Every server listens on 127.0.0.1 and keeps its data in a temporary directory. No step depends
on a sleep being long enough: waits poll for a condition with a generous deadline.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BRIDGE = os.environ.get("JSB_BRIDGE", "")
TOOL = os.environ.get("JSB_TOOL", "")
NATS_SERVER = shutil.which("nats-server") or (os.path.exists("/usr/sbin/nats-server") and "/usr/sbin/nats-server")
# the sanitizer builds are several times slower: deadlines scale with this
SLOW = 3 if os.environ.get("ASAN_OPTIONS") or "sanitize" in os.environ.get("MESON_BUILD_TYPE", "") else 1
DEADLINE = 120 * SLOW
STARTED = []  # every process a scenario started, killed at the end whatever happened


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, deadline=DEADLINE, what_then=None):
    end = time.time() + deadline
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what + (": " + what_then() if what_then else ""))


class Server:
    """One nats-server -js; optionally a member of a cluster."""

    def __init__(self, tmp, name, port=None, cluster_port=None, routes=None):
        self.name, self.port = name, port or free_port()
        self.cluster_port, self.routes = cluster_port, routes
        self.dir = os.path.join(tmp, name)
        self.logfile = os.path.join(tmp, name + ".log")
        self.proc = None

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def start(self):
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.dir,
                "-n", self.name, "-l", self.logfile]
        if self.cluster_port:
            args += ["--cluster_name", "jsbtest", "--cluster", "nats://127.0.0.1:%d" % self.cluster_port,
                     "--routes", ",".join("nats://127.0.0.1:%d" % p for p in self.routes)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        STARTED.append(self.proc)
        wait_for("nats-server %s to listen" % self.name, self.listening)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("nats-server %s exited: %s" % (self.name, open(self.logfile).read()[-2000:]))
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc = None


def tool(*args, check=True):
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True, timeout=DEADLINE)
    if check and r.returncode != 0:
        raise AssertionError("jsb-tool %s failed: %s%s" % (args[0], r.stdout, r.stderr))
    return r


def bridge(*args, **kw):
    """Start the bridge; its stderr goes to a log file of the test."""
    with open(kw.pop("log"), "a") as logf:
        p = subprocess.Popen([BRIDGE] + [str(a) for a in args], stdout=logf, stderr=logf)
    STARTED.append(p)
    return p


def bridge_run(*args, log_path, timeout=DEADLINE, env=None):
    with open(log_path, "a") as logf:
        r = subprocess.run([BRIDGE] + [str(a) for a in args], stdout=logf, stderr=logf, timeout=timeout, env=env)
    return r.returncode


def stream_msgs(url, stream):
    r = tool("stream-info", url, stream, check=False)
    return int(r.stdout.split()[0]) if r.returncode == 0 else -1


def appenders(store, channels, count, rate):
    # each process creates its channel, and the first of them the store, as it starts
    procs = [subprocess.Popen([TOOL, "append", store, ch, str(count), "64", str(rate)]) for ch in channels]
    STARTED.extend(procs)
    return procs


def wait_appenders(procs):
    for p in procs:
        assert p.wait(timeout=DEADLINE) == 0, "an appender failed"


def tail(path, n=40):
    try:
        return "".join(open(path).readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------

def scenario_bad_args(tmp):
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    cases = [
        ([], "usage"),
        (["out", store, "--server", srv.url, "--stream", "S"], "needs channels"),
        (["out", store, "--server", srv.url, "--channels", "a"], "required"),
        (["in", store, "--server", srv.url, "--stream", "S", "--channel", "c"], "needs consumer"),
        (["out", store, "--server", srv.url, "--stream", "S", "--channels", "a", "--bogus"], "unknown setting"),
        (["out", store, "--server", srv.url, "--stream", "S", "--channels", "a", "--window", "0"], "integer"),
        (["out", store, "--server", srv.url, "--stream", "S", "--channels", "a", "--consumer", "x"], "option of 'in'"),
        (["out", store, "--server", srv.url, "--stream", "S", "--channels", "a..b"], "channel 'a..b'"),
        (["out", store, "--server", srv.url, "--stream", "S", "--channels", ","], "lists no channel"),
        # a missing stream without --create-stream is an error that says so
        (["out", store, "--server", srv.url, "--stream", "MISSING", "--channels", "a"], "does not exist"),
        (["in", store, "--server", srv.url, "--stream", "MISSING", "--consumer", "d", "--channel", "c"],
         "does not exist"),
        # an unusable store: a regular file where the directory should be
        (["out", os.path.join(tmp, "afile"), "--server", srv.url, "--stream", "S", "--channels", "a"], "store"),
    ]
    open(os.path.join(tmp, "afile"), "w").write("not a store")
    for args, expect in cases:
        r = subprocess.run([BRIDGE] + args, capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode == 1, "%s: exit %d, wanted 1: %s" % (args, r.returncode, r.stderr)
        assert expect in r.stderr, "%s: message %r lacks %r" % (args, r.stderr, expect)
    log("%d bad invocations each exit 1 with a message" % len(cases))
    srv.stop()


def scenario_single(tmp):
    """10,000 messages over 4 channels arrive in the stream once each, in per-channel order."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    chans = ["orders", "audit.eu", "audit.us", "metrics"]
    wait_appenders(appenders(store, chans, 2500, 0))
    blog = os.path.join(tmp, "bridge.log")
    rc = bridge_run("out", store, "--server", srv.url, "--stream", "EVENTS", "--channels", ",".join(chans),
                    "--create-stream", "--until-caught-up", "--status-interval", "500", log_path=blog)
    assert rc == 0, "bridge exit %d\n%s" % (rc, tail(blog))
    r = tool("verify-out", srv.url, "EVENTS", "EVENTS", store, ",".join(chans))
    log(r.stdout.strip())
    assert "ok: 10000 messages" in r.stdout
    # A second run with more appended: only the new ones go, through a pattern selection.
    wait_appenders(appenders(store, ["audit.eu", "audit.us"], 100, 0))
    rc = bridge_run("out", store, "--server", srv.url, "--stream", "EVENTS", "--channels", "orders,audit.>,metrics",
                    "--until-caught-up", log_path=blog)
    assert rc == 0, tail(blog)
    r = tool("verify-out", srv.url, "EVENTS", "EVENTS", store, ",".join(chans))
    log(r.stdout.strip())
    assert "ok: 10200 messages" in r.stdout
    assert "status channel=orders lag=" in open(blog).read(), "no status lines"
    # --create-stream with the user's limits; the defaults when none are given.
    assert "duplicates_ms=120000 replicas=1 storage=file" in tool("stream-info", srv.url, "EVENTS").stdout
    rc = bridge_run("out", store, "--server", srv.url, "--stream", "LIMITED", "--channels", "orders",
                    "--create-stream", "--max-msgs", "5000", "--max-bytes", "10000000", "--max-age", "3600000",
                    "--duplicate-window", "60000", "--memory-storage", "--until-caught-up", log_path=blog)
    assert rc == 0, tail(blog)
    info = tool("stream-info", srv.url, "LIMITED").stdout
    log("stream LIMITED: " + info.strip())
    for want in ("2500 -", "max_msgs=5000", "max_bytes=10000000", "max_age_ms=3600000", "duplicates_ms=60000",
                 "storage=memory"):
        assert want in info, "%r not in %r" % (want, info)
    # A pattern also picks up a channel created while the bridge runs.
    b = bridge("out", store, "--server", srv.url, "--stream", "LATE", "--subject-prefix", "late",
               "--channels", "late.>", "--create-stream", "--status-interval", "0", log=blog)
    wait_for("stream LATE", lambda: stream_msgs(srv.url, "LATE") == 0)
    tool("append", store, "late.new", 100)
    wait_for("the new channel in the stream", lambda: stream_msgs(srv.url, "LATE") == 100)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=DEADLINE) == 0, tail(blog)
    r = tool("verify-out", srv.url, "LATE", "late", store, "late.new")
    log(r.stdout.strip())
    assert "ok: 100 messages" in r.stdout
    srv.stop()


def scenario_kill(tmp):
    """kill -9 the bridge 20 times while the application appends: the stream ends exact."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    chans = ["k1", "k2", "k3"]
    blog = os.path.join(tmp, "bridge.log")
    args = ["out", store, "--server", srv.url, "--stream", "K", "--channels", ",".join(chans), "--create-stream",
            "--status-interval", "0"]
    # First a crash at a chosen moment: PubAcks in, local acks not yet written.
    for ch in chans:
        tool("append", store, ch, 200)
    rc = bridge_run(*args, log_path=blog, env=dict(os.environ, JSB_TEST_CRASH_POINT="out-before-local-ack"))
    assert rc == -signal.SIGKILL, "the crash point did not fire: %d\n%s" % (rc, tail(blog))
    rc = bridge_run(*(args + ["--until-caught-up", "--status-interval", "600000"]), log_path=blog)
    assert rc == 0, tail(blog)
    skipped = sum(int(w.split("=")[1]) for w in tail(blog, len(chans)).split() if w.startswith("skipped="))
    log("after the crash point the next run found %d messages already in the stream" % skipped)
    assert skipped > 0, "messages stored before the crash were not recognised\n" + tail(blog)
    r = tool("verify-out", srv.url, "K", "K", store, ",".join(chans))
    assert "ok: 600 messages" in r.stdout
    # Then kill -9 at random moments while the application appends.
    apps = appenders(store, chans, 3000, 400)
    rnd = random.Random(int(os.environ.get("JSB_SEED", str(os.getpid()))))
    kills = 0
    for i in range(20):
        b = bridge(*args, log=blog)
        # wait for this run to publish something new, then kill it at a random moment
        before = stream_msgs(srv.url, "K")
        wait_for("the bridge to publish", lambda: stream_msgs(srv.url, "K") > before or
                 all(p.poll() is not None for p in apps))
        time.sleep(rnd.uniform(0, 0.3))
        b.kill()
        b.wait()
        kills += 1
    log("killed the bridge %d times; stream holds %d" % (kills, stream_msgs(srv.url, "K")))
    wait_appenders(apps)
    rc = bridge_run(*(args + ["--until-caught-up", "--status-interval", "600000"]), log_path=blog)
    assert rc == 0, tail(blog)
    log("last run:\n" + tail(blog, len(chans) + 1))
    r = tool("verify-out", srv.url, "K", "K", store, ",".join(chans))
    log(r.stdout.strip())
    assert "ok: 9600 messages" in r.stdout
    srv.stop()


def scenario_server_restart(tmp):
    """nats-server stopped for several seconds mid-run, then killed -9 for several seconds: nothing
    lost or duplicated, the lag drains."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    chans = ["r1", "r2"]
    blog = os.path.join(tmp, "bridge.log")
    b = bridge("out", store, "--server", srv.url, "--stream", "R", "--channels", ",".join(chans),
               "--create-stream", "--status-interval", "500", "--ack-timeout", "1000", log=blog)
    apps = appenders(store, chans, 4500, 500)
    seen = 0
    for how, sig in (("stopped", signal.SIGTERM), ("killed -9", signal.SIGKILL)):
        wait_for("more messages in the stream", lambda: stream_msgs(srv.url, "R") > seen + 500)
        srv.stop(sig)
        log("nats-server %s with the stream at some point; appending goes on" % how)
        time.sleep(3)  # the outage itself; nothing waits on it to be long enough
        srv.start()
        seen = stream_msgs(srv.url, "R")
        log("nats-server restarted, its stream holding %d" % seen)
    wait_appenders(apps)
    wait_for("the lag to drain", lambda: stream_msgs(srv.url, "R") == 9000)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=DEADLINE) == 0, "SIGTERM should exit 0\n" + tail(blog)
    r = tool("verify-out", srv.url, "R", "R", store, ",".join(chans))
    log(r.stdout.strip())
    assert "ok: 9000 messages" in r.stdout
    text = open(blog).read()
    assert "disconnected" in text and "errors=" in text, tail(blog)
    srv.stop()


def scenario_cluster(tmp):
    """3-node JetStream cluster, R3 stream, the stream leader killed mid-run."""
    cports = [free_port() for _ in range(3)]
    nodes = [Server(tmp, "n%d" % (i + 1), cluster_port=cports[i], routes=cports) for i in range(3)]
    for n in nodes:
        n.start()
    urls = ",".join(n.url for n in nodes)
    store = os.path.join(tmp, "store")
    chans = ["c1", "c2", "c3"]
    blog = os.path.join(tmp, "bridge.log")
    b = bridge("out", store, "--server", urls, "--stream", "R3", "--channels", ",".join(chans), "--create-stream",
               "--replicas", "3", "--status-interval", "1000", "--ack-timeout", "2000", log=blog)
    apps = appenders(store, chans, 2000, 300)
    wait_for("messages in the R3 stream", lambda: stream_msgs(urls, "R3") > 300)
    leader = tool("stream-info", urls, "R3").stdout.split()[1]
    assert "replicas=3" in tool("stream-info", urls, "R3").stdout
    victim = next(n for n in nodes if n.name == leader)
    victim.stop(signal.SIGKILL)
    log("killed %s, the stream leader" % leader)
    alive = ",".join(n.url for n in nodes if n is not victim)
    wait_appenders(apps)
    wait_for("the stream to be complete", lambda: stream_msgs(alive, "R3") == 6000)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=DEADLINE) == 0, tail(blog)
    r = tool("verify-out", alive, "R3", "R3", store, ",".join(chans))
    log(r.stdout.strip())
    assert "ok: 6000 messages" in r.stdout
    for n in nodes:
        n.stop()


def scenario_mirror_in(tmp):
    """A consumer's messages arrive locally once each and in order across repeated kill -9 of the
    bridge, and a kill -9 of nats-server under a running bridge."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    blog = os.path.join(tmp, "bridge.log")
    tool("publish", srv.url, "CENTRAL", "central.events", 3000, 1)
    args = ["in", store, "--server", srv.url, "--stream", "CENTRAL", "--consumer", "edge1", "--channel", "central",
            "--ack-wait", "1000", "--batch", "64", "--status-interval", "0"]
    # Crashes at chosen moments: after the append (the batch is in, JetStream has no ack: its
    # redelivery must be recognised), before the append (the batch is not in: the next run
    # appends it, from the redelivery or, when newer messages come first, by reading the gap).
    published = 3000
    for point in ("in-after-append", "in-before-append"):
        rc = bridge_run(*args, log_path=blog, env=dict(os.environ, JSB_TEST_CRASH_POINT=point))
        assert rc == -signal.SIGKILL, "crash point %s did not fire: %d\n%s" % (point, rc, tail(blog))
        rc = bridge_run(*(args + ["--until-caught-up", "--status-interval", "600000"]), log_path=blog)
        assert rc == 0, tail(blog)
        status = tail(blog, 1)
        log("after crash point %s: %s" % (point, status.strip()))
        if point == "in-after-append":
            assert int(status.split("duplicates=")[1].split()[0]) > 0, "the redelivery was not recognised"
        r = tool("verify-in", srv.url, "CENTRAL", store, "central")
        assert "ok: %d messages" % published in r.stdout
        tool("publish", srv.url, "CENTRAL", "central.events", 500, published + 1)
        published += 500
    # Then kill -9 at random moments while more is published.
    rnd = random.Random(int(os.environ.get("JSB_SEED", str(os.getpid()))))
    for i in range(15):
        b = bridge(*args, log=blog)
        time.sleep(rnd.uniform(0.05, 0.4))
        if i == 7:  # once, a clean stop instead: SIGTERM exits 0
            b.send_signal(signal.SIGTERM)
            assert b.wait(timeout=DEADLINE) == 0, "SIGTERM should exit 0\n" + tail(blog)
        else:
            b.kill()
            b.wait()
        tool("publish", srv.url, "CENTRAL", "central.events", 200, published + 1)
        published += 200
    # nats-server killed -9 under a running bridge: it reconnects by itself, appends what is
    # published after the restart, and what the crash made JetStream redeliver only once
    b = bridge(*args, log=blog)
    tool("publish", srv.url, "CENTRAL", "central.events", 300, published + 1)
    published += 300
    time.sleep(rnd.uniform(0.05, 0.4))
    srv.stop(signal.SIGKILL)
    time.sleep(2)
    srv.start()
    tool("publish", srv.url, "CENTRAL", "central.events", 200, published + 1)
    published += 200
    want = "ok: %d messages" % published
    wait_for("the running bridge to append everything after the server's crash",
             lambda: want in tool("verify-in", srv.url, "CENTRAL", store, "central", check=False).stdout,
             what_then=lambda: tail(blog))
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=DEADLINE) == 0, "SIGTERM should exit 0\n" + tail(blog)
    rc = bridge_run(*(args + ["--until-caught-up", "--status-interval", "600000"]), log_path=blog)
    assert rc == 0, tail(blog)
    log("last run: " + tail(blog, 1).strip())
    r = tool("verify-in", srv.url, "CENTRAL", store, "central")
    log(r.stdout.strip())
    assert "ok: %d messages" % published in r.stdout
    # A consumer with a subject filter on a stream of two interleaved subjects: after a crash that
    # left a batch unappended, the gap read from the stream must take only the filter's subject.
    for k in range(20):
        tool("publish", srv.url, "MIX", "mix.a" if k % 2 == 0 else "mix.b", 20, k * 20 + 1)
    tool("consumer", srv.url, "MIX", "onlya", "mix.a")
    margs = ["in", store, "--server", srv.url, "--stream", "MIX", "--consumer", "onlya", "--channel", "mixa",
             "--batch", "16", "--status-interval", "0"]
    rc = bridge_run(*margs, log_path=blog, env=dict(os.environ, JSB_TEST_CRASH_POINT="in-before-append"))
    assert rc == -signal.SIGKILL, tail(blog)
    rc = bridge_run(*(margs + ["--until-caught-up", "--status-interval", "600000"]), log_path=blog)
    assert rc == 0, tail(blog)
    log("filtered consumer after a crash: " + tail(blog, 1).strip())
    r = tool("verify-in", srv.url, "MIX", store, "mixa", "mix.a")
    log(r.stdout.strip())
    assert "ok: 200 messages" in r.stdout
    # The channel belongs to the bridge: a foreign append is detected, not silently mixed in.
    tool("append", store, "central", 1)
    tool("publish", srv.url, "CENTRAL", "central.events", 1, published + 1)
    rc = bridge_run(*(args + ["--until-caught-up"]), log_path=blog)
    assert rc == 1 and "did not write" in tail(blog, 5), tail(blog)
    srv.stop()


def scenario_in_process(tmp):
    """jsb_run_out() on an application's thread, stopped through its flag from another thread."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    r = subprocess.run([os.environ["JSB_INPROCESS"], store, srv.url, "INPROC", "2000"], capture_output=True,
                       text=True, timeout=DEADLINE)
    log(r.stdout.strip())
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    r = tool("verify-out", srv.url, "INPROC", "INPROC", store, "inproc")
    log(r.stdout.strip())
    assert "ok: 2000 messages" in r.stdout
    srv.stop()


def scenario_headers(tmp):
    """Headers pass through both ways; one survives the round trip out and back in."""
    srv = Server(tmp, "s1")
    srv.start()
    store, edge = os.path.join(tmp, "store"), os.path.join(tmp, "edge")
    blog = os.path.join(tmp, "bridge.log")
    # each local message: X-Trace, X-Multi twice, and a Nats-Msg-Id and Streamlog-Sequence of its own
    tool("append", store, "h", 300, 16, 0, 1)
    rc = bridge_run("out", store, "--server", srv.url, "--stream", "H", "--channels", "h", "--create-stream",
                    "--until-caught-up", "--status-interval", "0", log_path=blog)
    assert rc == 0, tail(blog)
    # the message's own headers arrive unchanged beside the bridge's, which replace those of their names
    r = tool("verify-out", srv.url, "H", "H", store, "h")
    log("out: " + r.stdout.strip())
    assert "ok: 300 messages" in r.stdout
    # back in, to another store: every stream header is kept, beside where the message came from
    rc = bridge_run("in", edge, "--server", srv.url, "--stream", "H", "--consumer", "back", "--channel", "back",
                    "--until-caught-up", "--status-interval", "0", log_path=blog)
    assert rc == 0, tail(blog)
    r = tool("verify-in", srv.url, "H", edge, "back")
    log("in: " + r.stdout.strip())
    assert "ok: 300 messages" in r.stdout
    orig = tool("header", store, "h", "X-Trace").stdout.split()
    back = tool("header", edge, "back", "X-Trace").stdout.split()
    assert orig == back and len(orig) == 600 and "-" not in orig, (orig[:6], back[:6])
    log("X-Trace survived the round trip on all 300 messages (e.g. %s)" % orig[1])
    # and out again from the edge: the origin headers the messages carry are replaced, not repeated
    rc = bridge_run("out", edge, "--server", srv.url, "--stream", "H2", "--channels", "back", "--create-stream",
                    "--until-caught-up", "--status-interval", "0", "--store-id", "edge", log_path=blog)
    assert rc == 0, tail(blog)
    r = tool("verify-out", srv.url, "H2", "H2", edge, "back", "edge")
    log("out again: " + r.stdout.strip())
    assert "ok: 300 messages" in r.stdout
    srv.stop()


def http_status(port):
    """The bridge's JSON status, or None while it does not answer."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as r:
            assert r.headers["Content-Type"] == "application/json"
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def scenario_http(tmp):
    """--http serves per-channel lag, rates, errors and the connection state as JSON during a run."""
    srv = Server(tmp, "s1")
    srv.start()
    store = os.path.join(tmp, "store")
    blog = os.path.join(tmp, "bridge.log")
    chans = ["w1", "w2"]
    port = free_port()
    apps = appenders(store, chans, 2000, 400)
    b = bridge("out", store, "--server", srv.url, "--stream", "W", "--channels", ",".join(chans), "--create-stream",
               "--http", "127.0.0.1:%d" % port, "--status-interval", "0", log=blog)
    seen = {}

    def moving():
        st = http_status(port)
        if st and st.get("channels"):
            seen.update(st)
            return st.get("connected") and any(c["rate"] > 0 for c in st["channels"])
        return False
    wait_for("a status with a rate", moving)
    log("during the run: " + json.dumps(seen))
    assert seen["direction"] == "out" and seen["stream"] == "W"
    assert sorted(c["channel"] for c in seen["channels"]) == chans
    for c in seen["channels"]:
        for k in ("lag", "held", "published", "rate", "duplicates", "skipped", "errors", "last_error", "subject"):
            assert k in c, k
    # a second bridge cannot take the same port: exit 1, saying why
    rc = bridge_run("in", os.path.join(tmp, "other"), "--server", srv.url, "--stream", "W", "--consumer", "x",
                    "--channel", "x", "--http", "127.0.0.1:%d" % port, log_path=blog)
    assert rc == 1 and "cannot listen" in tail(blog, 3), tail(blog)
    wait_appenders(apps)

    def drained():
        st = http_status(port)
        return st and st.get("published") == 4000 and all(c["lag"] == 0 for c in st["channels"])
    wait_for("the status to show everything published", drained)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=DEADLINE) == 0, tail(blog)
    # mirror in: the connection state follows the server
    tool("publish", srv.url, "CENTRAL", "central.events", 500, 1)
    edge = os.path.join(tmp, "edge")
    port = free_port()
    b = bridge("in", edge, "--server", srv.url, "--stream", "CENTRAL", "--consumer", "e", "--channel", "central",
               "--http", "127.0.0.1:%d" % port, "--status-interval", "0", "--ack-wait", "1000", log=blog)

    def caught_up():
        st = http_status(port)
        return st and st.get("connected") and st["channels"][0]["appended"] == 500 and st["channels"][0]["lag"] == 0
    wait_for("mirror in to show 500 appended", caught_up)
    srv.stop()
    wait_for("the status to show the connection down",
             lambda: (http_status(port) or {}).get("connected") is False)
    srv.start()
    tool("publish", srv.url, "CENTRAL", "central.events", 100, 501)
    wait_for("the status to show it back and 600 appended", lambda: (http_status(port) or {}).get("connected") and
             http_status(port)["channels"][0]["appended"] == 600 and http_status(port)["channels"][0]["lag"] == 0)
    st = http_status(port)
    log("mirror in after a server restart: " + json.dumps(st))
    assert st["direction"] == "in" and st["consumer"] == "e" and st["channels"][0]["errors"] > 0
    b.send_signal(signal.SIGINT)  # Ctrl-C ends a run as cleanly as SIGTERM
    assert b.wait(timeout=DEADLINE) == 0, tail(blog)
    srv.stop()


def scenario_two_bridges(tmp):
    """Two stores, each with its bridge, --store-id and --shared-stream, into one stream; one bridge killed."""
    srv = Server(tmp, "s1")
    srv.start()
    blog = os.path.join(tmp, "bridge.log")
    edges = [("edgeA", os.path.join(tmp, "a"), "a.events"), ("edgeB", os.path.join(tmp, "b"), "b.events")]
    apps = []
    for _, store, ch in edges:
        apps += appenders(store, [ch], 1500, 300)

    def start(sid, store, ch):
        return bridge("out", store, "--server", srv.url, "--stream", "FLEET", "--subject-prefix", "fleet",
                      "--channels", ch, "--create-stream", "--shared-stream", "--store-id", sid, "--status-interval", "0",
                      log=blog)
    bridges = [start(*e) for e in edges]
    rnd = random.Random(int(os.environ.get("JSB_SEED", str(os.getpid()))))
    for i in range(3):
        before = stream_msgs(srv.url, "FLEET")
        wait_for("the bridges to publish", lambda: stream_msgs(srv.url, "FLEET") > before or
                 all(p.poll() is not None for p in apps))
        time.sleep(rnd.uniform(0, 0.3))
        bridges[0].kill()
        bridges[0].wait()
        bridges[0] = start(*edges[0])
    wait_appenders(apps)
    wait_for("both stores in the stream", lambda: stream_msgs(srv.url, "FLEET") >= 3000, deadline=DEADLINE / 2,
             what_then=lambda: "it holds %d" % stream_msgs(srv.url, "FLEET"))
    for b in bridges:
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=DEADLINE) == 0, tail(blog)
    for sid, store, ch in edges:
        # Nats-Msg-Id carries the given store id exactly
        r = tool("verify-out", srv.url, "FLEET", "fleet", store, ch, sid)
        log("%s: %s" % (sid, r.stdout.strip()))
        assert "ok: 1500 messages" in r.stdout
    srv.stop()


def run_bench(args, log_path):
    with open(log_path, "w") as logf:
        r = subprocess.run(args, stderr=logf)
    assert r.returncode == 0, "jsb-bench failed:\n" + tail(log_path)


def scenario_bench(tmp):
    """Not a test: jsb-bench (JSB_BENCH) against a single node, then against an R3 cluster."""
    bench = os.environ.get("JSB_BENCH", "")
    extra = os.environ.get("JSB_BENCH_ARGS", "").split()
    srv = Server(tmp, "single")
    srv.start()
    print("== single nats-server -js (file storage) ==", flush=True)
    run_bench([bench, srv.url, "1"] + extra, os.path.join(tmp, "bench-single.log"))
    srv.stop()
    cports = [free_port() for _ in range(3)]
    nodes = [Server(tmp, "n%d" % (i + 1), cluster_port=cports[i], routes=cports) for i in range(3)]
    for n in nodes:
        n.start()
    print("\n== 3-node JetStream cluster, R3 stream (file storage) ==", flush=True)
    urls = ",".join(n.url for n in nodes)
    wait_for("the cluster to take a stream", lambda: tool("publish", urls, "WARMUP", "warmup.x", 1,
                                                          check=False).returncode == 0)
    run_bench([bench, urls, "3"] + extra, os.path.join(tmp, "bench-r3.log"))
    for n in nodes:
        n.stop()


SCENARIOS = {
    "bad-args": scenario_bad_args,
    "single": scenario_single,
    "kill": scenario_kill,
    "server-restart": scenario_server_restart,
    "cluster": scenario_cluster,
    "mirror-in": scenario_mirror_in,
    "in-process": scenario_in_process,
    "headers": scenario_headers,
    "http": scenario_http,
    "two-bridges": scenario_two_bridges,
    "bench": scenario_bench,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: test_bridge.py " + "|".join(SCENARIOS))
        return 2
    if not NATS_SERVER:
        print("skip: nats-server not found (Debian: apt-get install nats-server)")
        return 77
    if not (os.access(BRIDGE, os.X_OK) and os.access(TOOL, os.X_OK)):
        print("JSB_BRIDGE and JSB_TOOL must name the built programs (meson test sets them)")
        return 1
    tmp = tempfile.mkdtemp(prefix="jsb-test-")
    start = time.time()
    try:
        SCENARIOS[sys.argv[1]](tmp)
    except Exception:
        # leave what a failure needs to be understood
        for f in sorted(os.listdir(tmp)):
            if f.endswith(".log"):
                print("---- %s (tail) ----\n%s" % (f, tail(os.path.join(tmp, f), 30)))
        raise
    finally:
        # nothing of a failed run is left behind: its servers and bridges are killed
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()
    log("%s passed in %.1f s" % (sys.argv[1], time.time() - start))
    if os.environ.get("JSB_KEEP"):
        log("kept " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
