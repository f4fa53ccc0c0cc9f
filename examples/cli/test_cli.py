#!/usr/bin/env python3
"""Runs every subcommand of the streamlog CLI against real stores.

usage: test_cli.py PATH_TO_STREAMLOG   (meson test --suite cli)
Exits 0 when every check passed; prints what failed otherwise.
"""
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLI = os.path.abspath(sys.argv[1])
DEADLINE_S = 60  # generous: 2 busy cores, sanitizers, valgrind
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(*args, stdin=None, preexec=None):
    """Run the CLI; returns (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([CLI, *args], input=stdin, capture_output=True, preexec_fn=preexec, timeout=DEADLINE_S)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def ok(*args, stdin=None):
    rc, out, err = run(*args, stdin=stdin)
    check(rc == 0, f"{args}: exit {rc}, stderr {err!r}")
    return out


def jsonl(out):
    return [json.loads(line) for line in out.decode().splitlines()]


def test_pub_ls_stat_cat(store):
    check(ok("pub", store, "orders", "hello") == b"1\n", "pub MESSAGE prints its sequence")
    lines = [f"line {i}" for i in range(1, 1001)]
    check(ok("pub", store, "orders", stdin=("\n".join(lines) + "\n").encode()) == b"2-1001\n",
          "pub from stdin prints the sequence range")
    out = ok("pub", store, "bin", "--json", stdin=b"\xff\x00\x01binary\n\n")
    check(json.loads(out) == {"count": 2, "first_seq": 1, "last_seq": 2}, f"pub --json: {out!r}")

    # ls
    out = ok("ls", store).decode()
    rows = [line.split() for line in out.splitlines()]
    check(rows[0][0] == "CHANNEL" and [r[0] for r in rows[1:]] == ["bin", "orders"], f"ls text: {out!r}")
    check(rows[2][1:5] == ["1001", str(5 + sum(len(l) for l in lines)), "1", "1001"], f"ls orders row: {rows[2]}")
    chans = json.loads(ok("ls", store, "--json"))
    by_name = {c["name"]: c for c in chans}
    check(set(by_name) == {"bin", "orders"}, f"ls --json names: {chans}")
    o = by_name["orders"]
    check((o["msgs"], o["first_seq"], o["last_seq"]) == (1001, 1, 1001), f"ls --json orders: {o}")
    check(isinstance(o["first_time"], int) and o["first_time"] <= o["last_time"], f"ls --json times: {o}")
    check(abs(o["last_time"] / 1e9 - time.time()) < 3600, f"ls --json time is Unix ns: {o['last_time']}")

    # stat
    s = json.loads(ok("stat", store, "--json"))
    check((s["channels"], s["msgs"]) == (2, 1003) and s["file_bytes"] > 0, f"stat --json: {s}")
    check(s["library_version"].count(".") == 2, f"stat --json version: {s}")
    s = json.loads(ok("stat", store, "orders", "--json"))
    check((s["name"], s["msgs"], s["last_seq"]) == ("orders", 1001, 1001), f"stat CHANNEL --json: {s}")
    check("messages    1003" in ok("stat", store).decode(), "stat text counts all messages")

    # cat: formats and start positions
    out = ok("cat", store, "orders")
    check(out.decode().splitlines() == ["hello"] + lines, "cat raw prints every payload in order")
    msgs = jsonl(ok("cat", store, "orders", "--json"))
    check([m["seq"] for m in msgs] == list(range(1, 1002)), "cat --json: sequences 1..1001")
    check([m["data"] for m in msgs] == ["hello"] + lines, "cat --json: data round-trips")
    check(all(a["time"] <= b["time"] for a, b in zip(msgs, msgs[1:])), "cat --json: times never decrease")
    check(jsonl(ok("cat", store, "orders", "--format", "json")) == msgs, "--format json equals --json")
    check([m["seq"] for m in jsonl(ok("cat", store, "orders", "--json", "--from", "990"))] == list(range(990, 1002)),
          "cat --from")
    check([m["seq"] for m in jsonl(ok("cat", store, "orders", "--json", "--last", "3"))] == [999, 1000, 1001],
          "cat --last")
    check(ok("cat", store, "orders", "--last", "0") == b"", "cat --last 0 prints nothing")
    t = msgs[500]["time"]
    since = [m["seq"] for m in jsonl(ok("cat", store, "orders", "--json", "--since", str(t)))]
    expect = [m["seq"] for m in msgs if m["time"] >= t]
    check(since == expect, f"cat --since NS: got {since[:3]}.., expected {expect[:3]}..")
    secs = t // 10**9
    rfc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + "Z"
    since = [m["seq"] for m in jsonl(ok("cat", store, "orders", "--json", "--since", rfc))]
    check(since == [m["seq"] for m in msgs if m["time"] >= secs * 10**9], "cat --since RFC 3339")
    check(len(jsonl(ok("cat", store, "orders", "--json", "--since", "1h"))) == 1001, "cat --since 1h: all")
    bins = jsonl(ok("cat", store, "bin", "--json"))
    check(bins[0].get("data_base64") == "/wABYmluYXJ5" and bins[1].get("data") == "", f"binary as base64: {bins}")
    hexout = ok("cat", store, "bin", "--format", "hex").decode()
    check("ff 00 01 62 69 6e 61 72  79" in hexout and "seq 1 " in hexout, f"cat --format hex: {hexout!r}")
    check(ok("cat", store, "bin") == b"\xff\x00\x01binary\n\n", "cat raw keeps binary payloads")


def test_verify(store, tmp):
    v = json.loads(ok("verify", store, "--json"))
    check(v["ok"] is True and v["channels"] == 2 and v["messages"] == 1003 and v["damaged_messages"] == 0,
          f"verify --json on an intact store: {v}")
    sub_keys = ("groups", "damaged_groups", "orphan_groups", "groups_beyond_end", "pending", "damaged_pending",
                "orphan_pending", "out_of_range_pending", "members", "damaged_members", "orphan_members")
    check(all(v.get(k) == 0 for k in sub_keys), f"verify --json: no subscription state yet: {v}")
    check("ok" in ok("verify", store).decode(), "verify text says ok")
    # a copy with one payload byte changed: "line 500" appears once in data.mdb
    damaged = os.path.join(tmp, "damaged")
    shutil.copytree(store, damaged)
    path = os.path.join(damaged, "data.mdb")
    data = bytearray(open(path, "rb").read())
    at = data.find(b"line 500\n") if data.find(b"line 500\n") >= 0 else data.find(b"line 500")
    check(at >= 0, "found a payload to damage")
    data[at] ^= 0x01
    open(path, "wb").write(bytes(data))
    rc, out, err = run("verify", damaged, "--json")
    v = json.loads(out) if out else {}
    check(rc == 9 and v.get("ok") is False and v.get("damaged_messages") == 1,
          f"verify of a damaged copy: exit {rc}, {v}, {err!r}")
    rc, out, err = run("cat", damaged, "orders", "--from", "490")
    check(rc == 9 and b"line 500" not in out and "checksum" in err, f"cat of the damaged copy: exit {rc}, {err!r}")


def test_purge(store):
    ok("pub", store, "p", stdin=b"a\nb\nc\nd\n")
    check(ok("purge", store, "p", "--upto", "2") == b"2\n", "purge --upto 2 removes 2")
    s = json.loads(ok("stat", store, "p", "--json"))
    check((s["first_seq"], s["last_seq"], s["msgs"]) == (3, 4, 2), f"after purge --upto: {s}")
    check(json.loads(ok("purge", store, "p", "--json")) == {"removed": 2}, "purge all --json")
    check(ok("pub", store, "p", "e") == b"5\n", "numbering goes on after a purge")
    rc, _, err = run("purge", store, "p", "--upto", "x")
    check(rc == 64, f"purge --upto x is a usage error: {rc} {err!r}")
    rc, _, err = run("purge", store, "nope")
    check(rc == 2, f"purge of a missing channel: {rc} {err!r}")


def test_durables(store):
    """A durable made through the Python package (when it can load this build's library:
    not in sanitizer builds) shows with its position, lag and pending message."""
    check(json.loads(ok("durables", store, "orders", "--json")) == [], "no groups: an empty list")
    rc, _, err = run("durables", store, "nope")
    check(rc == 2, f"durables of a missing channel: {rc} {err!r}")
    if len(sys.argv) < 3:
        print("durables with groups: skipped (no library path given: a sanitizer build)")
        return
    os.environ["STREAMLOG_LIBRARY"] = sys.argv[2]
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    try:
        import streamlog
        with streamlog.open(store) as st:
            with st.channel("orders").subscribe(durable="audit", start="first") as sub:
                sub.next(timeout=DEADLINE_S)  # delivered, never acked
    except Exception as e:  # the package cannot load this library: nothing to compare with
        print(f"durables with groups: skipped ({e})")
        return
    groups = json.loads(ok("durables", store, "orders", "--json"))
    check(len(groups) == 1 and groups[0]["kind"] == "durable" and groups[0]["name"] == "audit",
          f"durables --json: {groups}")
    g = groups[0]
    check(g["pending"] == 1 and g["members"] == 0 and g["lag"] + g["pending"] >= 1, f"durable state: {g}")
    check("audit" in ok("durables", store, "orders").decode(), "durables text lists it")
    v = json.loads(ok("verify", store, "--json"))
    check(v["ok"] is True and v["groups"] == 1 and v["pending"] == 1 and v["out_of_range_pending"] == 0,
          f"verify --json counts the durable's state: {v}")


def test_errors(store):
    rc, _, err = run("cat", store, "missing")
    check(rc == 2 and "STREAMLOG_ENOTFOUND" in err, f"cat of a missing channel: {rc} {err!r}")
    rc, _, err = run("ls", store + "-none")
    check(rc == 2 and "STREAMLOG_ENOTFOUND" in err, f"ls of a missing store: {rc} {err!r}")
    check(not os.path.exists(store + "-none"), "a read command does not create a store")
    rc, _, err = run("pub", store, "a..b", "x")
    check(rc == 1 and "STREAMLOG_EINVAL" in err and "a..b" in err, f"pub to a bad channel name: {rc} {err!r}")
    for args in (["nosuch"], ["cat", store], ["cat", store, "orders", "--from", "x"],
                 ["cat", store, "orders", "--since", "yesterday"], ["cat", store, "orders", "--format", "xml"],
                 ["cat", store, "orders", "--from", "1", "--last", "1"], ["ls", store, "--follow"], []):
        rc, out, err = run(*args)
        check(rc == 64 and out == b"" and err.startswith("streamlog: "), f"usage error {args}: {rc} {err!r}")
    rc, out, _ = run("--help")
    check(rc == 0 and b"usage: streamlog" in out, "--help")
    rc, out, _ = run("--version")
    check(rc == 0 and b"libstreamlog" in out, "--version")


def test_delete(store):
    ok("pub", store, "doomed", "x")
    ok("delete", store, "doomed")
    rc, _, err = run("cat", store, "doomed")
    check(rc == 2, f"a deleted channel is gone: {rc} {err!r}")
    rc, _, err = run("delete", store, "doomed")
    check(rc == 2 and "STREAMLOG_ENOTFOUND" in err, f"delete of a missing channel: {rc} {err!r}")


def test_export_import(store, tmp):
    dump = os.path.join(tmp, "dump.jsonl")
    ok("export", store, "--output", dump)
    rows = [json.loads(line) for line in open(dump)]
    check([r["channel"] for r in rows] == ["bin"] * 2 + ["orders"] * 1001, "export covers every channel in order")
    check(ok("export", store, "orders").decode().splitlines() == open(dump).read().splitlines()[2:],
          "export CHANNEL writes that channel only, as in the full export")
    copy = os.path.join(tmp, "copy")
    rc, _, err = run("import", copy, dump)
    check(rc == 0 and "imported 1003 message(s), sequences, times and headers as in the input" in err, f"import: {rc} {err!r}")
    check(ok("export", copy) == open(dump, "rb").read(), "import keeps channel, sequence, time and data exactly")
    # importing again cannot keep the sequences: refused, nothing written
    rc, _, err = run("import", copy, dump)
    check(rc == 5 and "--renumber" in err, f"import over existing messages: {rc} {err!r}")
    check(json.loads(ok("stat", copy, "orders", "--json"))["msgs"] == 1001, "refused import wrote nothing")
    rc, _, err = run("import", copy, "--renumber", stdin=open(dump, "rb").read())
    check(rc == 0 and "new sequences" in err, f"import --renumber from stdin: {rc} {err!r}")
    check(json.loads(ok("stat", copy, "orders", "--json"))["last_seq"] == 2002, "--renumber appends after the last")
    renumbered = jsonl(ok("cat", copy, "orders", "--json", "--from", "1002"))
    check(renumbered[-1]["time"] > rows[-1]["time"], "--renumber: times are those of the import")
    # bad input: exit 65 and the line number
    for bad in (b"not json\n", b'{"channel":"x","seq":1}\n', b'{"channel":"x","seq":0,"data":"a"}\n',
                b'{"channel":"x","seq":1,"data_base64":"***"}\n', b'[1]\n',
                b'{"channel":"x","seq":1,"data":"a","time":"now"}\n', b'{"channel":"x","seq":1,"data":"a","time":-1}\n',
                b'{"channel":"x","seq":1,"data":"a","headers":"NATS/1.0\\r\\n\\r\\n","headers_base64":""}\n',
                b'{"channel":"x","seq":1,"data":"a","headers_base64":"!"}\n',
                b'{"channel":"x","seq":1,"data":"a","headers":7}\n'):
        rc, _, err = run("import", os.path.join(tmp, "bad"), "-", stdin=b'{"channel":"ok","seq":1,"data":""}\n' + bad)
        check(rc == 65 and ":2:" in err, f"import of {bad!r}: {rc} {err!r}")


def test_headers_and_msg_id(tmp):
    """pub --header / --msg-id, headers in cat --format json, and an export -> import round trip of
    channel, seq, time and headers, also from a first sequence above 1 into an empty store."""
    store = os.path.join(tmp, "hdr-store")
    check(ok("pub", store, "h", "--header", "Trace-Id: abc", "--header", "Kind:order", "one") == b"1\n",
          "pub --header prints the sequence")
    check(ok("pub", store, "h", "two") == b"2\n", "pub without headers")
    # a value that is not UTF-8: exported as headers_base64
    ok("pub", store, "h", "--header", b"Bin: \xff\xfe", "three")
    ok("pub", store, "h", "--header", "Line: x", stdin=b"four\nfive\n")
    msgs = jsonl(ok("cat", store, "h", "--format", "json"))
    check(msgs[0].get("headers") == "NATS/1.0\r\nTrace-Id: abc\r\nKind: order\r\n\r\n" and msgs[0]["data"] == "one",
          f"cat --format json shows the header block: {msgs[0]}")
    check("headers" not in msgs[1] and "headers_base64" not in msgs[1], f"no headers, no key: {msgs[1]}")
    check(msgs[2].get("headers_base64") == "TkFUUy8xLjANCkJpbjog//4NCg0K", f"headers_base64: {msgs[2]}")
    check([m.get("headers") for m in msgs[3:]] == ["NATS/1.0\r\nLine: x\r\n\r\n"] * 2,
          f"pub --header from stdin puts the block on every line: {msgs[3:]}")
    check(ok("cat", store, "h") == b"one\ntwo\nthree\nfour\nfive\n", "cat raw prints payloads only")
    check("Trace-Id" not in ok("cat", store, "h", "--format", "hex").decode(), "cat hex unchanged")

    # --msg-id: the second append with the id stores nothing and names the first's sequence
    check(ok("pub", store, "ids", "--msg-id", "order-17", "first") == b"1\n", "pub --msg-id stores")
    rc, out, err = run("pub", store, "ids", "--msg-id", "order-17", "again")
    check(rc == 0 and out == b"1\n" and "already stored as sequence 1" in err, f"pub --msg-id twice: {rc} {out!r} {err!r}")
    r = json.loads(ok("pub", store, "ids", "--msg-id", "order-17", "x", "--json"))
    check(r == {"count": 0, "first_seq": 1, "last_seq": 1, "duplicate": True}, f"duplicate --json: {r}")
    check([m["data"] for m in jsonl(ok("cat", store, "ids", "--json"))] == ["first"], "--msg-id twice stores once")
    check(ok("pub", store, "ids", "--msg-id", "order-18", "--header", "A: b", "second") == b"2\n",
          "another id stores, with headers")

    # malformed headers and misuse: usage errors, nothing stored
    for args in (["--header", "NoColon"], ["--header", ": empty name"], ["--header", "Bad Name: x"],
                 ["--header", "A: b\r\nC: d"], ["--header"], ["--msg-id", "m1"]):
        rc, out, err = run("pub", store, "bad", *args, stdin=b"x\n")
        check(rc == 64 and out == b"" and err.startswith("streamlog: "), f"pub {args}: {rc} {err!r}")
    rc, _, err = run("cat", store, "bad")
    check(rc == 2, f"refused pubs created nothing: {rc} {err!r}")
    rc, _, err = run("cat", store, "h", "--header", "A: b")
    check(rc == 64 and "--header does not apply" in err, f"cat --header: {rc} {err!r}")

    # export -> import into a new store: every line the same, time and headers included
    dump = os.path.join(tmp, "hdr.jsonl")
    ok("export", store, "--output", dump)
    copy = os.path.join(tmp, "hdr-copy")
    rc, _, err = run("import", copy, dump)
    check(rc == 0 and "sequences, times and headers as in the input" in err, f"import: {rc} {err!r}")
    check(ok("export", copy) == open(dump, "rb").read(), "export -> import round-trips channel, seq, time, headers")
    renumbered = os.path.join(tmp, "hdr-renumbered")
    ok("pub", renumbered, "h", "zero")
    rc, _, err = run("import", renumbered, dump, "--renumber")
    check(rc == 0 and "new sequences" in err, f"import --renumber: {rc} {err!r}")
    got = jsonl(ok("cat", renumbered, "h", "--json"))
    check([m.get("headers") for m in got[1:]] == [m.get("headers") for m in msgs] and got[1]["seq"] == 2,
          "--renumber keeps the header blocks")

    # an export whose first sequence is 500 (older ones removed) into an empty store keeps 500
    rows = [json.loads(line) for line in open(dump) if json.loads(line)["channel"] == "h"]
    for i, r in enumerate(rows):
        r["seq"] = 500 + i
    shifted = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows).encode()
    at500 = os.path.join(tmp, "hdr-500")
    ok("import", at500, stdin=shifted)
    check(ok("export", at500) == shifted, "import from sequence 500 into an empty store keeps seq, time, headers")
    s = json.loads(ok("stat", at500, "h", "--json"))
    check((s["first_seq"], s["last_seq"], s["msgs"]) == (500, 504, 5), f"stat after import at 500: {s}")
    # a channel emptied by purge takes any later first sequence, not an earlier one
    ok("purge", at500, "h")
    later = b'{"channel":"h","seq":900,"data":"later"}\n'
    before = time.time_ns()
    rc, _, err = run("import", at500, stdin=b'{"channel":"h","seq":3,"data":"early"}\n')
    check(rc == 5 and "--renumber" in err, f"import below the purged range: {rc} {err!r}")
    rc, _, err = run("import", at500, stdin=later)
    after = time.time_ns()
    check(rc == 0 and "1 line(s) without \"time\" got the time of the import" in err, f"import at 900: {rc} {err!r}")
    m = jsonl(ok("cat", at500, "h", "--json"))
    check(len(m) == 1 and m[0]["seq"] == 900 and before <= m[0]["time"] <= after,
          f"a line without time gets the import's: {m} not in [{before}, {after}]")
    # times out of order or in the future are bad input (65), nothing stored
    for bad in (b'{"channel":"t","seq":1,"time":2000,"data":"a"}\n{"channel":"t","seq":2,"time":1000,"data":"b"}\n',
                b'{"channel":"t","seq":1,"time":%d,"data":"a"}\n' % (time.time_ns() + 3600 * 10**9)):
        rc, _, err = run("import", at500, stdin=bad)
        check(rc == 65 and "time" in err, f"import of {bad!r}: {rc} {err!r}")
    # a header block the library refuses: its error names the batch's input lines, nothing stored
    rc, _, err = run("import", at500, stdin=b'{"channel":"t","seq":1,"data":"a"}\n'
                                            b'{"channel":"t","seq":2,"data":"b","headers":"Trace: x\\r\\n"}\n')
    check(rc == 1 and "STREAMLOG_EINVAL" in err and "input lines 1-2" in err, f"import of a bad header block: {rc} {err!r}")
    # (the channel itself may have been created before the library refused the batch)
    rc, out, _ = run("cat", at500, "t")
    check(rc in (0, 2) and out == b"", f"refused time and header imports stored no message: {rc} {out!r}")


def on_a_terminal(args):
    """Run the CLI with stderr on a pseudo-terminal; returns (exit status, what it drew there)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, *args], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=DEADLINE_S), seen.decode(errors="replace")


def test_progress_on_a_terminal(store, tmp):
    """export and import draw a progress line on a terminal, and nothing into a pipe."""
    try:
        for fd in os.openpty():
            os.close(fd)
    except OSError as e:
        # e.g. a chroot without /dev/pts mounted
        print(f"skipped the progress checks: no pseudo-terminal available ({e})")
        return
    rc, text = on_a_terminal(["export", store])
    check(rc == 0 and "100%" in text and "1003 messages exported" in text and "msgs/s" in text,
          f"export progress on a terminal: {rc} {text!r}")
    rc, _, err = run("export", store)
    check(rc == 0 and err == "", f"no export progress into a pipe: {err!r}")
    dump = os.path.join(tmp, "progress.jsonl")
    ok("export", store, "--output", dump)
    rc, text = on_a_terminal(["import", os.path.join(tmp, "progress-copy"), dump])
    check(rc == 0 and "100%" in text and "1003 messages imported" in text, f"import progress: {rc} {text!r}")
    rc, _, err = run("import", os.path.join(tmp, "progress-copy2"), dump)
    check(rc == 0 and "\r" not in err and "messages imported," not in err, f"no import progress into a pipe: {err!r}")


def test_follow_with_concurrent_writer(store):
    """cat --follow prints what another process appends, as it is appended."""
    follower = subprocess.Popen([CLI, "cat", store, "live", "--follow", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    # the channel does not exist yet: the follower reports it and exits
    check(follower.wait(timeout=DEADLINE_S) == 2, "cat --follow of a missing channel fails")
    follower.stdout.close()
    follower.stderr.close()
    ok("pub", store, "live", "first")
    follower = subprocess.Popen([CLI, "cat", store, "live", "--follow", "--json"], stdout=subprocess.PIPE)
    # --sync none: this test is about following, not about how fast a busy disk syncs
    writer = subprocess.Popen([CLI, "pub", store, "live", "--sync", "none"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    got = []
    # read the pipe's bytes directly: a buffered readline() may pull the next
    # line into Python's buffer, where select() no longer sees it, and the
    # loop would then wait for a line it already holds
    out_fd = follower.stdout.fileno()
    pending = b""
    deadline = time.monotonic() + DEADLINE_S
    # one line at a time: the writer stores each line as it arrives, and the
    # follower must show it before the next is written
    for i in range(1, 21):
        writer.stdin.write(f"msg {i}\n".encode())
        writer.stdin.flush()
        want = 1 + i
        while len(got) < want and time.monotonic() < deadline:
            r, _, _ = select.select([out_fd], [], [], 1)
            if r:
                chunk = os.read(out_fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                got.extend(json.loads(line) for line in lines)
    writer.stdin.close()
    check(writer.wait(timeout=DEADLINE_S) == 0, "writer exit status")
    check([m["data"] for m in got] == ["first"] + [f"msg {i}" for i in range(1, 21)],
          f"cat --follow saw each append: {[m['data'] for m in got]}")
    # while it follows, other read-only processes inspect the same live store
    check(json.loads(ok("stat", store, "live", "--json"))["msgs"] == 21, "stat beside a follower")
    follower.send_signal(signal.SIGTERM)
    check(follower.wait(timeout=DEADLINE_S) == 0, "cat --follow ends cleanly on SIGTERM")
    follower.stdout.close()


def test_readonly_store_of_another_user(store):
    """Read commands work on a store the user may not write; writes get EPERM."""
    if os.geteuid() != 0:
        print("skipped the other-user check: needs root to switch to user nobody")
        return
    parent = os.path.dirname(store)
    os.chmod(parent, 0o755)

    def as_nobody():
        os.setgid(65534)
        os.setuid(65534)

    try:
        rc, out, err = run("ls", store, "--json", preexec=as_nobody)
    except PermissionError:  # the build tree lies under a directory nobody may enter (e.g. /root)
        print(f"skipped the other-user check: user nobody cannot run {CLI}")
        return
    check(rc == 0 and {c["name"] for c in json.loads(out)} >= {"orders", "bin"}, f"ls as nobody: {rc} {err!r}")
    rc, out, err = run("cat", store, "orders", "--last", "1", preexec=as_nobody)
    check(rc == 0 and out == b"line 1000\n", f"cat as nobody: {rc} {out!r} {err!r}")
    rc, _, err = run("pub", store, "orders", "x", preexec=as_nobody)
    check(rc == 14 and "STREAMLOG_EPERM" in err, f"pub as nobody: {rc} {err!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="streamlog-cli-")
    try:
        store = os.path.join(tmp, "store")
        test_pub_ls_stat_cat(store)
        test_verify(store, tmp)
        test_durables(store)
        test_purge(os.path.join(tmp, "purge-store"))
        test_errors(store)
        test_delete(store)
        test_export_import(store, tmp)
        test_headers_and_msg_id(tmp)
        test_progress_on_a_terminal(store, tmp)
        test_follow_with_concurrent_writer(store)
        test_readonly_store_of_another_user(store)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all CLI checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
