"""A durable work queue shared by worker processes (multiprocessing).

    python3 work_queue.py STORE [JOBS] [WORKERS] [spawn|fork]

The producer appends jobs to channel "jobs"; each worker process opens the
store itself and joins the durable queue group "workers": every job goes to one
worker, is acked when done, and comes again (to any worker) if a worker dies
before acking. Either start method works: with "fork" the workers start while
the producer has the store open, and each opens it again, as the library's fork
rules say (the handles a child inherits are the parent's and are not used).

The producer tells the workers to stop only once every job is reported done: a
queue group does not keep order across members (jobs one member gives back can
reach the others after newer messages), so a stop message appended behind the
jobs could overtake the last of them.
"""
import multiprocessing as mp
import sys

import streamlog

STOP = b"STOP"


def worker(path, wid, results):
    with streamlog.open(path) as store:
        jobs = store.channel("jobs")
        with jobs.subscribe(durable="billing", queue="workers", start="first", ack_wait_ms=30000) as sub:
            for msg in sub:                     # waits for work, GIL released
                if msg.data == STOP:
                    sub.ack(msg)
                    break
                # ... the real work goes here ...
                sub.ack(msg)
                results.put((wid, msg.seq))     # this job is done
    results.put((wid, None))                    # this worker has stopped


def run(path, njobs=100, nworkers=3, start_method="spawn"):
    """Returns the job sequences each worker did."""
    ctx = mp.get_context(start_method)
    results = ctx.Queue()
    with streamlog.open(path) as store:
        jobs = store.channel("jobs", create=True)
        jobs.append_batch([f"job {i}" for i in range(njobs)])
        procs = [ctx.Process(target=worker, args=(path, wid, results)) for wid in range(nworkers)]
        for p in procs:
            p.start()
        done = [[] for _ in procs]
        reports, stopped = 0, 0
        while stopped < nworkers:
            wid, seq = results.get(timeout=120)
            if seq is None:
                stopped += 1
                continue
            done[wid].append(seq)
            reports += 1
            if reports == njobs:                # every job done: now stop the workers
                jobs.append_batch([STOP] * nworkers)
        for p in procs:
            p.join()
        # the producer's own handles still work after its children used the store
        assert jobs.stats()["msgs"] == njobs + nworkers
    return done


if __name__ == "__main__":
    per_worker = run(sys.argv[1], *(int(a) for a in sys.argv[2:4]), *sys.argv[4:5])
    for i, seqs in enumerate(per_worker):
        print(f"worker {i}: {len(seqs)} jobs")
