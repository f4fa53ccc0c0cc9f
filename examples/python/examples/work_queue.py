"""A durable work queue shared by worker processes (multiprocessing, "spawn").

    python3 work_queue.py STORE [JOBS] [WORKERS]

The producer appends jobs to channel "jobs"; each worker process opens the
store itself and joins the durable queue group "workers": every job goes to one
worker, is acked when done, and comes again (to any worker) if a worker dies
before acking. Workers use the "spawn" start method: a store must not be used
in a child after fork().
"""
import multiprocessing as mp
import sys

import streamlog

STOP = b"STOP"


def worker(path, results):
    done = []
    with streamlog.open(path) as store:
        jobs = store.channel("jobs")
        with jobs.subscribe(durable="billing", queue="workers", start="first", ack_wait_ms=30000) as sub:
            for msg in sub:                     # waits for work, GIL released
                if msg.data == STOP:
                    sub.ack(msg)
                    break
                done.append(msg.seq)            # ... the real work goes here ...
                sub.ack(msg)
    results.put(done)


def run(path, njobs=100, nworkers=3):
    """Returns the job sequences each worker did."""
    with streamlog.open(path) as store:
        jobs = store.channel("jobs", create=True)
        jobs.append_batch([f"job {i}" for i in range(njobs)] + [STOP] * nworkers)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(path, results)) for _ in range(nworkers)]
    for p in procs:
        p.start()
    done = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    return done


if __name__ == "__main__":
    per_worker = run(sys.argv[1], *(int(a) for a in sys.argv[2:4]))
    for i, seqs in enumerate(per_worker):
        print(f"worker {i}: {len(seqs)} jobs")
