"""A durable work queue shared by worker processes (multiprocessing).

    python3 work_queue.py STORE [JOBS] [WORKERS] [spawn|fork]

The producer appends jobs to channel "jobs"; each worker process opens the
store itself and joins the durable queue group "workers": every job goes to one
worker, is acked when done, and comes again (to any worker) if a worker dies
before acking. Either start method works: with "fork" the workers start while
the producer has the store open, and each opens it again, as the library's fork
rules say (the handles a child inherits are the parent's and are not used).
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


def run(path, njobs=100, nworkers=3, start_method="spawn"):
    """Returns the job sequences each worker did."""
    ctx = mp.get_context(start_method)
    results = ctx.Queue()
    with streamlog.open(path) as store:
        jobs = store.channel("jobs", create=True)
        jobs.append_batch([f"job {i}" for i in range(njobs)] + [STOP] * nworkers)
        procs = [ctx.Process(target=worker, args=(path, results)) for _ in range(nworkers)]
        for p in procs:
            p.start()
        done = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
        # the producer's own handles still work after its children used the store
        assert jobs.stats()["msgs"] == njobs + nworkers
    return done


if __name__ == "__main__":
    per_worker = run(sys.argv[1], *(int(a) for a in sys.argv[2:4]), *sys.argv[4:5])
    for i, seqs in enumerate(per_worker):
        print(f"worker {i}: {len(seqs)} jobs")
