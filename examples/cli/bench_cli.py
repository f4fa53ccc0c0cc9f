#!/usr/bin/env python3
"""Throughput of the streamlog CLI: pub (stdin), cat --json, export and import of 200,000
72-byte lines; 5 runs each, median wall time (monotonic clock) and messages per second.

usage: python3 examples/cli/bench_cli.py build/examples/cli/streamlog
"""
import os, statistics, subprocess, sys, tempfile, time
B, N = sys.argv[1], 200000
d = tempfile.mkdtemp()
lines = os.path.join(d, "lines.txt")
with open(lines, "w") as f:
    for i in range(1, N + 1):
        f.write(f"message {i:09d} with some padding to make it about 64 bytes long......\n")
times = {k: [] for k in ("pub", "cat --json", "export", "import")}
for r in range(5):
    s, c, dump = (os.path.join(d, x + str(r)) for x in ("s", "c", "d"))
    steps = {"pub": ([B, "pub", s, "ch"], open(lines, "rb")), "cat --json": ([B, "cat", s, "ch", "--json"], None),
             "export": ([B, "export", s, "--output", dump], None), "import": ([B, "import", c, dump], None)}
    for name, (cmd, stdin) in steps.items():
        t = time.perf_counter()
        subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append(time.perf_counter() - t)
print(f"{'command':<12}{'median s':>10}{'msgs/s':>12}   runs")
for name, ts in times.items():
    m = statistics.median(ts)
    print(f"{name:<12}{m:>10.3f}{N / m:>12.0f}   " + " ".join(f"{x:.3f}" for x in ts))
subprocess.run(["rm", "-rf", d])
