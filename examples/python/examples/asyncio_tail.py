"""Receive messages in an asyncio program: the subscription's fileno() in the event loop.

    python3 asyncio_tail.py STORE CHANNEL
"""
import asyncio
import sys

import streamlog


async def receive(sub, count):
    """Wait (without a thread) until `count` messages came; returns them."""
    loop = asyncio.get_running_loop()
    got = []
    ready = asyncio.Event()

    def on_readable():
        # drain what is deliverable now; next(timeout=0) never blocks
        while (msg := sub.next(timeout=0)) is not None:
            got.append(msg)
            sub.ack(msg)
        if len(got) >= count:
            ready.set()

    loop.add_reader(sub.fileno(), on_readable)
    try:
        on_readable()  # messages may be deliverable already
        await ready.wait()
    finally:
        loop.remove_reader(sub.fileno())
    return got


async def main(path, channel):
    with streamlog.open(path) as store:
        ch = store.channel(channel, create=True)
        with ch.subscribe(start="new") as sub:
            for msg in await receive(sub, 1):
                print(msg.seq, msg.data)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
