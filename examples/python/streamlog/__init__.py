"""streamlog: persistent message logs on LMDB, embedded in your process (libstreamlog).

    import streamlog

    with streamlog.open("/tmp/store") as store:
        orders = store.channel("orders", create=True)
        seq = orders.append(b"apples")
        for msg in orders.iter(start="first"):
            print(msg.seq, msg.time_ns, msg.data)

        with orders.subscribe(durable="billing", queue="workers", start="first") as sub:
            msg = sub.next(timeout=1.0)      # None when nothing came in time
            if msg is not None:
                sub.ack(msg)

Every failure raises streamlog.Error (a subclass per result code) with .code,
.name and the library's message. Calls that wait (Subscription.next) release
the GIL. Handles close in the order the library needs: closing a Store first
closes its subscriptions, iterators and channels; each handle keeps its store
alive, so garbage collection never frees a store before its children.

After fork() (multiprocessing's "fork" start method), a child opens the store
again and uses that: the handles it inherited belong to the parent, so using one
raises InvalidArgument, and closing one (also by garbage collection) only forgets
it, without calling the library (which the library's fork rules forbid).
"""
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_int, c_int64, c_size_t, c_uint64, c_void_p, create_string_buffer, string_at
from typing import Iterable, Iterator, List, Optional, Sequence, Union

from . import _ffi
from ._ffi import lib

__all__ = [
    "open", "Store", "Channel", "Message", "Subscription", "ChannelIterator", "Pipeline", "Error", "library_version",
    "InvalidArgument", "NotFound", "AlreadyExists", "LimitExceeded", "Conflict", "Again", "TimedOut",
    "StoreFull", "Corrupt", "Busy", "OutOfMemory", "StoreIOError", "Closed", "PermissionDenied",
    "TooManyReaders", "OutOfFileDescriptors",
]
__version__ = "0.1.0"

# ---- constants (values from streamlog.h; part of the library's ABI) ----
OK, EINVAL, ENOTFOUND, EEXIST, ELIMIT, ECONFLICT, EAGAIN, ETIMEDOUT = 0, -1, -2, -3, -4, -5, -6, -7
EFULL, ECORRUPT, EBUSY, ENOMEM, EIO, ECLOSED, EPERM = -8, -9, -10, -11, -12, -13, -14
EREADERS, EMFILE = -15, -16

OPT_SYNC, OPT_SYNC_INTERVAL_MS, OPT_MAX_STORE_BYTES, OPT_MAX_CHANNELS, OPT_MAX_PAYLOAD, OPT_READONLY = 1, 2, 3, 4, 5, 6
OPT_MAX_READERS, OPT_DEDUP_WINDOW_MS = 7, 8
NAK_DELAY_MAX_MS, PIPE_DEPTH_MAX = 86400000, 65536
PAYLOAD_HARD_MAX, ERRMSG_CAP = 1 << 30, 256
GROUP_DURABLE, GROUP_QUEUE, GROUP_DURABLE_QUEUE, GROUP_NAME_CAP = 1, 2, 3, 402
OPT_MAX_MSGS, OPT_MAX_BYTES, OPT_MAX_AGE_MS, OPT_MAX_SUBS = 16, 17, 18, 19
OPT_START, OPT_START_VALUE, OPT_MAX_INFLIGHT, OPT_ACK_WAIT_MS, OPT_ACK_MODE = 32, 33, 34, 35, 36
OPT_MAX_DELIVER, OPT_DURABLE, OPT_QUEUE, OPT_DEAD_LETTER = 37, 38, 39, 40
SYNC_ALWAYS, SYNC_INTERVAL, SYNC_NONE = 0, 1, 2
CREATE = 0x1
START_NEW_ONLY, START_LAST_RECEIVED, START_TIME_DELTA, START_SEQUENCE, START_FIRST, START_TIME = 0, 1, 2, 3, 4, 5
ACK_MANUAL, ACK_AUTO, ACK_NONE = 0, 1, 2

_STARTS = {"new": START_NEW_ONLY, "last": START_LAST_RECEIVED, "delta": START_TIME_DELTA,
           "seq": START_SEQUENCE, "first": START_FIRST, "time": START_TIME}
_ACK_MODES = {"manual": ACK_MANUAL, "auto": ACK_AUTO, "none": ACK_NONE}
_SYNCS = {"always": SYNC_ALWAYS, "interval": SYNC_INTERVAL, "none": SYNC_NONE}
_STORE_KEYS = {"sync": OPT_SYNC, "sync_interval_ms": OPT_SYNC_INTERVAL_MS, "max_store_bytes": OPT_MAX_STORE_BYTES,
               "max_channels": OPT_MAX_CHANNELS, "max_payload": OPT_MAX_PAYLOAD, "readonly": OPT_READONLY,
               "max_readers": OPT_MAX_READERS}
_LIMIT_KEYS = {"max_msgs": OPT_MAX_MSGS, "max_bytes": OPT_MAX_BYTES, "max_age_ms": OPT_MAX_AGE_MS,
               "max_subs": OPT_MAX_SUBS, "dedup_window_ms": OPT_DEDUP_WINDOW_MS}

# a blocking wait is cut into slices so that Ctrl-C (KeyboardInterrupt) is seen
_WAIT_SLICE_MS = 1000


# ---- errors ----

class Error(Exception):
    """A libstreamlog failure: .code (negative STREAMLOG_E* value), .name ("STREAMLOG_ENOTFOUND")
    and .message (the library's detail for the failed call)."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.name = lib.streamlog_errname(code).decode()
        self.message = message
        super().__init__(f"{self.name}: {message}")


class InvalidArgument(Error, ValueError): pass
class NotFound(Error, LookupError): pass
class AlreadyExists(Error): pass
class LimitExceeded(Error): pass
class Conflict(Error): pass
class Again(Error): pass
class TimedOut(Error, TimeoutError): pass
class StoreFull(Error): pass
class Corrupt(Error): pass
class Busy(Error): pass
class OutOfMemory(Error, MemoryError): pass
class StoreIOError(Error, OSError): pass
class Closed(Error): pass
class PermissionDenied(Error, PermissionError): pass
class TooManyReaders(Error): pass
class OutOfFileDescriptors(Error, OSError): pass


_ERRORS = {EINVAL: InvalidArgument, ENOTFOUND: NotFound, EEXIST: AlreadyExists, ELIMIT: LimitExceeded,
           ECONFLICT: Conflict, EAGAIN: Again, ETIMEDOUT: TimedOut, EFULL: StoreFull, ECORRUPT: Corrupt,
           EBUSY: Busy, ENOMEM: OutOfMemory, EIO: StoreIOError, ECLOSED: Closed, EPERM: PermissionDenied,
           EREADERS: TooManyReaders, EMFILE: OutOfFileDescriptors}


def _error(rc: int) -> Error:
    # ctypes runs the call and this one on the same OS thread, so the per-thread
    # message is the one of the call that failed
    detail = lib.streamlog_errmsg().decode(errors="replace") or lib.streamlog_strerror(rc).decode()
    return _ERRORS.get(rc, Error)(rc, detail)


def _check(rc: int) -> None:
    if rc != OK:
        raise _error(rc)


def library_version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return lib.streamlog_version().decode()


# ---- options ----

class _Opts:
    """A streamlog_opts built from keyword arguments; freed on exit."""

    def __init__(self):
        self.ptr = c_void_p()
        _check(lib.streamlog_opts_new(byref(self.ptr)))

    def set(self, key: int, value: Union[int, str, bool]) -> None:
        if isinstance(value, str):
            _check(lib.streamlog_opts_set_str(self.ptr, key, value.encode()))
        else:
            _check(lib.streamlog_opts_set_int(self.ptr, key, int(value)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        lib.streamlog_opts_free(self.ptr)


def _start(start: Union[str, int]) -> int:
    if isinstance(start, str):
        try:
            return _STARTS[start]
        except KeyError:
            raise InvalidArgument(EINVAL, f"start {start!r}: use one of {sorted(_STARTS)}") from None
    return start


def _bytes(data: Union[bytes, bytearray, memoryview, str]) -> bytes:
    if isinstance(data, str):
        return data.encode()
    return bytes(data)


# ---- messages ----

def _header_block(headers) -> bytes:
    """A dict or (name, value) pairs as a NATS header block."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    return b"NATS/1.0\r\n" + b"".join(_bytes(k) + b": " + _bytes(v) + b"\r\n" for k, v in pairs) + b"\r\n"


def _parse_headers(block: bytes) -> List[tuple]:
    lines = block.split(b"\r\n")[1:]
    out = []
    for line in lines:
        if not line:
            break
        name, _, value = line.partition(b":")
        out.append((name.decode(errors="replace"), value.lstrip(b" \t").decode(errors="replace")))
    return out


class Message:
    """A message copied out of the store: .seq, .time_ns (Unix ns), .data (bytes),
    .headers ((name, value) pairs in order, [] when none) and .redelivery_count
    (0 unless redelivered to a subscription)."""
    __slots__ = ("seq", "time_ns", "data", "redelivery_count", "headers")

    def __init__(self, seq: int, time_ns: int, data: bytes, redelivery_count: int = 0, headers=None):
        self.seq, self.time_ns, self.data, self.redelivery_count = seq, time_ns, data, redelivery_count
        self.headers = headers or []

    def header(self, name: str) -> Optional[str]:
        """The first value of header `name` (case ignored), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @classmethod
    def _from(cls, m: c_void_p) -> "Message":
        n = c_size_t()
        ptr = lib.streamlog_msg_data(m, byref(n))
        data = string_at(ptr, n.value) if n.value else b""
        hptr = lib.streamlog_msg_headers(m, byref(n))
        headers = _parse_headers(string_at(hptr, n.value)) if n.value else []
        return cls(lib.streamlog_msg_seq(m), lib.streamlog_msg_time(m), data, lib.streamlog_msg_redelivery_count(m),
                   headers)

    def __repr__(self):
        return (f"Message(seq={self.seq}, time_ns={self.time_ns}, data={self.data[:40]!r}"
                f"{', redelivery_count=%d' % self.redelivery_count if self.redelivery_count else ''})")


# ---- handles ----

class _Handle:
    """Common lifetime handling: close() is idempotent and runs at most once."""

    def __init__(self, store: Optional["Store"]):
        self._ptr = c_void_p()
        self._store = store  # a child keeps its store alive
        self._lock = threading.Lock()
        self._pid = os.getpid()  # the process whose handle this is (see fork in the module's doc)

    def _inherited(self) -> bool:
        return self._pid != os.getpid()

    def _live(self) -> c_void_p:
        if not self._ptr:
            raise Closed(ECLOSED, f"this {type(self).__name__} is closed")
        if self._inherited():
            raise InvalidArgument(EINVAL, f"this {type(self).__name__} was opened by process {self._pid} before "
                                          "fork(): open the store again in this process")
        return self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, c_void_p()
        if ptr and not self._inherited():
            self._free(ptr)
            if self._store is not None:
                self._store._children.discard(self)

    def _free(self, ptr: c_void_p) -> None:
        raise NotImplementedError


class Store(_Handle):
    """An open store directory. Thread-safe. Use streamlog.open()."""

    def __init__(self, path: str, options: dict):
        super().__init__(None)
        self.path = path
        self._children = weakref.WeakSet()
        with _Opts() as o:
            for key, value in options.items():
                if key == "sync" and isinstance(value, str):
                    value = _SYNCS.get(value, value)
                k = _STORE_KEYS.get(key) or _LIMIT_KEYS.get(key)
                if k is None:
                    raise InvalidArgument(EINVAL, f"unknown store option {key!r}")
                o.set(k, value)
            _check(lib.streamlog_open(path.encode(), o.ptr, byref(self._ptr)))

    def _adopt(self, child: _Handle) -> None:
        self._children.add(child)

    def close(self) -> None:
        """Close the store; its subscriptions, iterators and channels are closed first.
        Idempotent. Raises Busy (and stays open) if a handle this object does not know of is open."""
        # subscriptions and iterators before the channels they came from
        for kind in (Pipeline, Subscription, ChannelIterator, Channel):
            for child in [c for c in list(self._children) if isinstance(c, kind)]:
                child.close()
        with self._lock:
            if not self._ptr:
                return
            if self._inherited():  # the parent's store: forget it, never close it here
                self._ptr = c_void_p()
                return
            rc = lib.streamlog_close(self._ptr)
            if rc == EBUSY:  # the library freed nothing: keep the handle usable
                raise _error(rc)
            self._ptr = c_void_p()
        _check(rc)

    def channel(self, name: str, create: bool = False, **limits) -> "Channel":
        """Open a channel; a missing one raises NotFound unless create=True. limits: max_msgs,
        max_bytes, max_age_ms, max_subs (set for this channel)."""
        return Channel(self, name, create, limits)

    def pipeline(self, depth: int = 256) -> "Pipeline":
        """A pipeline: up to `depth` appends in flight from one thread, their results taken in order."""
        return Pipeline(self, depth)

    def channels(self) -> List[str]:
        """The names of all channels, in byte order."""
        names, buf, after = [], create_string_buffer(256), None
        while True:
            rc = lib.streamlog_channel_list_next(self._live(), after, buf, 256)
            if rc == ENOTFOUND:
                return names
            _check(rc)
            after = buf.value
            names.append(after.decode())

    def delete_channel(self, name: str) -> None:
        _check(lib.streamlog_channel_delete(self._live(), name.encode()))

    def sync(self) -> None:
        _check(lib.streamlog_sync(self._live()))


def open(path: str, **options) -> Store:
    """Open (creating unless readonly=True) the store in directory `path`.
    options: sync ("always", "interval", "none"), sync_interval_ms, max_store_bytes, max_channels,
    max_payload, readonly (bool), and store-wide default limits max_msgs, max_bytes, max_age_ms, max_subs."""
    return Store(path, options)


class Channel(_Handle):
    """A channel of a store. Thread-safe."""

    def __init__(self, store: Store, name: str, create: bool, limits: dict):
        super().__init__(store)
        self.name = name
        with _Opts() as o:
            for key, value in limits.items():
                if key not in _LIMIT_KEYS:
                    raise InvalidArgument(EINVAL, f"unknown channel limit {key!r}")
                o.set(_LIMIT_KEYS[key], value)
            _check(lib.streamlog_channel_open(store._live(), name.encode(), CREATE if create else 0,
                                              o.ptr if limits else None, byref(self._ptr)))
        store._adopt(self)

    def _free(self, ptr):
        lib.streamlog_channel_close(ptr)

    def append(self, data: Union[bytes, str], headers=None, msg_id: Optional[str] = None) -> int:
        """Store one message (str is UTF-8 encoded), with optional headers (a dict or
        (name, value) pairs, kept in order); returns its sequence. With msg_id, a retry of
        the same id within the store's dedup window stores nothing and returns the first
        append's sequence (see append_once to learn which happened)."""
        if msg_id is not None:
            return self.append_once(data, msg_id, headers)[0]
        b = _bytes(data)
        seq = c_uint64()
        if headers:
            h = _header_block(headers)
            _check(lib.streamlog_append_msg(self._live(), h, len(h), b, len(b), byref(seq)))
        else:
            _check(lib.streamlog_append(self._live(), b, len(b), byref(seq)))
        return seq.value

    def append_once(self, data: Union[bytes, str], msg_id: str, headers=None) -> tuple:
        """Idempotent append: (sequence, duplicate) where duplicate says msg_id was
        appended within the dedup window and nothing was stored now."""
        b = _bytes(data)
        h = _header_block(headers) if headers else None
        seq, dup = c_uint64(), c_int()
        _check(lib.streamlog_append_once(self._live(), _bytes(msg_id), h, len(h) if h else 0, b, len(b),
                                         byref(seq), byref(dup)))
        return seq.value, bool(dup.value)

    def append_expect(self, data: Union[bytes, str], expected_last_seq: int) -> int:
        """Append only if the channel's last sequence is expected_last_seq, else raise Conflict."""
        b = _bytes(data)
        seq = c_uint64()
        _check(lib.streamlog_append_expect(self._live(), b, len(b), expected_last_seq, byref(seq)))
        return seq.value

    def append_batch(self, items: Sequence[Union[bytes, str]], expected_last_seq: Optional[int] = None) -> int:
        """Store all items in one commit (all or none); returns the first sequence.
        With expected_last_seq, only if the channel's last sequence is that (else raise Conflict)."""
        bs = [_bytes(x) for x in items]
        if not bs:
            raise InvalidArgument(EINVAL, "append_batch needs at least one message")
        ptrs = (c_char_p * len(bs))(*bs)
        lens = (c_size_t * len(bs))(*[len(b) for b in bs])
        first = c_uint64()
        if expected_last_seq is None:
            _check(lib.streamlog_append_batch(self._live(), ptrs, lens, len(bs), byref(first)))
        else:
            _check(lib.streamlog_append_batch_expect(self._live(), ptrs, lens, len(bs), expected_last_seq,
                                                     byref(first)))
        return first.value

    def import_messages(self, first_seq: int, messages: Sequence) -> None:
        """Store messages with the sequences and times they had elsewhere (restoring an export):
        `messages` are Message objects or (time_ns, data[, headers]) tuples, stored from
        first_seq on in one commit, all or none. Raises Conflict when first_seq is not the
        channel's next sequence (an empty channel takes any) or a time goes back."""
        items = [(m.time_ns, m.data, m.headers) if isinstance(m, Message) else
                 (m[0], m[1], m[2] if len(m) > 2 else None) for m in messages]
        if not items:
            raise InvalidArgument(EINVAL, "import_messages needs at least one message")
        n = len(items)
        times = (c_int64 * n)(*[t for t, _, _ in items])
        data = [_bytes(d) for _, d, _ in items]
        hdrs = [_header_block(h) if h else b"" for _, _, h in items]
        _check(lib.streamlog_import(self._live(), first_seq, times, (c_char_p * n)(*hdrs),
                                    (c_size_t * n)(*[len(h) for h in hdrs]), (c_char_p * n)(*data),
                                    (c_size_t * n)(*[len(d) for d in data]), n))

    def purge(self, upto: Optional[int] = None) -> int:
        """Remove messages up to sequence `upto` (all when None), keeping the numbering; returns how many."""
        removed = c_uint64()
        _check(lib.streamlog_channel_purge(self._live(), 2**64 - 1 if upto is None else upto, byref(removed)))
        return removed.value

    def get(self, seq: int) -> Message:
        """Message `seq`; NotFound when never stored, removed or expired."""
        m = c_void_p()
        _check(lib.streamlog_get(self._live(), seq, byref(m)))
        try:
            return Message._from(m)
        finally:
            lib.streamlog_msg_free(m)

    def iter(self, start: Union[str, int] = "first", value: int = 0) -> "ChannelIterator":
        """Iterate the stored messages from a start position ("first", "last", "new", "seq",
        "time" (Unix ns), "delta" (ns before now), or a START_* constant); ends when caught up."""
        return ChannelIterator(self, _start(start), value)

    def __iter__(self) -> Iterator[Message]:
        return self.iter()

    def stats(self) -> dict:
        """first_seq, last_seq, msgs, bytes and subs."""
        s = _ffi.ChannelStats.for_call()
        _check(lib.streamlog_channel_get_stats_v2(self._live(), byref(s)))
        return s.figures()

    def subscribe(self, durable: Optional[str] = None, queue: Optional[str] = None,
                  start: Union[str, int] = "new", start_value: int = 0, ack_mode: Union[str, int] = "manual",
                  max_inflight: Optional[int] = None, ack_wait_ms: Optional[int] = None,
                  max_deliver: Optional[int] = None, dead_letter: Optional[str] = None) -> "Subscription":
        """Subscribe (see the header's Subscriptions section). ack_mode: "manual", "auto" or "none"."""
        return Subscription(self, durable, queue, _start(start), start_value,
                            _ACK_MODES.get(ack_mode, ack_mode) if isinstance(ack_mode, str) else ack_mode,
                            max_inflight, ack_wait_ms, max_deliver, dead_letter)


class ChannelIterator(_Handle):
    """Yields Messages (copies) in sequence order until the channel is caught up."""

    def __init__(self, channel: Channel, start: int, value: int):
        super().__init__(channel._store)
        self._channel = channel  # keeps the channel handle open while iterating
        self._exhausted = False
        _check(lib.streamlog_iter_open(channel._live(), start, value, byref(self._ptr)))
        channel._store._adopt(self)

    def _free(self, ptr):
        lib.streamlog_iter_close(ptr)

    def __iter__(self):
        return self

    def __next__(self) -> Message:
        if not self._ptr and self._exhausted:
            raise StopIteration
        m = c_void_p()
        rc = lib.streamlog_iter_next(self._live(), byref(m))
        if rc == EAGAIN:  # caught up: free the handle now rather than at garbage collection
            self._exhausted = True
            self.close()
            raise StopIteration
        _check(rc)
        return Message._from(m)


class Subscription(_Handle):
    """At-least-once delivery from a channel. One thread at a time may call next();
    ack() may be called from any thread."""

    def __init__(self, channel: Channel, durable, queue, start, start_value, ack_mode, max_inflight,
                 ack_wait_ms, max_deliver, dead_letter):
        super().__init__(channel._store)
        self._channel = channel
        with _Opts() as o:
            o.set(OPT_START, start)
            o.set(OPT_START_VALUE, start_value)
            o.set(OPT_ACK_MODE, ack_mode)
            for key, value in ((OPT_DURABLE, durable), (OPT_QUEUE, queue), (OPT_MAX_INFLIGHT, max_inflight),
                               (OPT_ACK_WAIT_MS, ack_wait_ms), (OPT_MAX_DELIVER, max_deliver),
                               (OPT_DEAD_LETTER, dead_letter)):
                if value is not None:
                    o.set(key, value)
            _check(lib.streamlog_subscribe(channel._live(), o.ptr, byref(self._ptr)))
        channel._store._adopt(self)

    def _free(self, ptr):
        _check(lib.streamlog_sub_close(ptr))

    def next(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, waiting up to `timeout` seconds (None: until one comes; 0: no wait).
        Returns None when none came in time. The GIL is released while waiting."""
        m = c_void_p()
        if timeout is not None:
            if timeout < 0:
                raise InvalidArgument(EINVAL, "timeout must be >= 0 or None")
            rc = lib.streamlog_sub_next(self._live(), int(timeout * 1000 + 0.999), byref(m))
        else:
            while True:
                rc = lib.streamlog_sub_next(self._live(), _WAIT_SLICE_MS, byref(m))
                if rc != ETIMEDOUT:
                    break
        if rc in (ETIMEDOUT, EAGAIN):
            return None
        _check(rc)
        return Message._from(m)

    def __iter__(self) -> Iterator[Message]:
        """Messages as they come, forever (until the subscription or its channel is closed)."""
        while True:
            try:
                yield self.next()
            except Closed:
                return

    def ack(self, msg: Union[Message, int]) -> None:
        """Acknowledge a message (or a sequence). Idempotent."""
        seq = msg.seq if isinstance(msg, Message) else msg
        _check(lib.streamlog_ack(self._live(), seq))

    def nak(self, msg: Union[Message, int], delay: float = 0) -> None:
        """Redeliver a message in flight now, or after `delay` seconds."""
        seq = msg.seq if isinstance(msg, Message) else msg
        _check(lib.streamlog_nak(self._live(), seq, int(delay * 1000)))

    def progress(self, msg: Union[Message, int]) -> None:
        """Still working on it: restart the message's ack wait."""
        seq = msg.seq if isinstance(msg, Message) else msg
        _check(lib.streamlog_progress(self._live(), seq))

    def term(self, msg: Union[Message, int]) -> None:
        """Give up on a message: dead-letter it now (reason "term" in its headers)."""
        seq = msg.seq if isinstance(msg, Message) else msg
        _check(lib.streamlog_term(self._live(), seq))

    def fileno(self) -> int:
        """An fd that is readable when next(timeout=0) may return a message: for select,
        selectors or asyncio's loop.add_reader(). Do not read or close it."""
        fd = lib.streamlog_sub_fd(self._live())
        _check(fd if fd < 0 else OK)
        return fd

    def stats(self) -> dict:
        """pending, last_delivered, next_seq, delivered, redelivered, acked, dead_lettered,
        stalled and max_inflight."""
        s = _ffi.SubStats.for_call()
        _check(lib.streamlog_sub_get_stats_v2(self._live(), byref(s)))
        return s.figures()

    def unsubscribe(self) -> None:
        """Close and remove a durable's state (a queue group's goes with its last member)."""
        with self._lock:
            ptr, self._ptr = self._ptr, c_void_p()
        if ptr:
            self._store._children.discard(self)
            if self._inherited():
                raise InvalidArgument(EINVAL, f"this Subscription was opened by process {self._pid} before fork()")
            _check(lib.streamlog_sub_unsubscribe(ptr))


class Pipeline(_Handle):
    """Appends in flight: append() returns a ticket at once; next() gives each append's
    result, in ticket order, once it is stored under the store's sync policy (a result
    not yet taken may be lost by a crash; a msg_id makes resubmitting it safe).
    Use Store.pipeline(). Closing waits until every submitted append is stored or failed."""

    def __init__(self, store: Store, depth: int):
        super().__init__(store)
        _check(lib.streamlog_pipe_open(store._live(), depth, byref(self._ptr)))
        store._adopt(self)

    def _free(self, ptr):
        lib.streamlog_pipe_close(ptr)

    def append(self, channel: "Channel", data: Union[bytes, str], headers=None, msg_id: Optional[str] = None) -> int:
        """Submit an append to `channel`; returns its ticket (1, 2, ...). Raises Again when
        `depth` results are outstanding (take some with next())."""
        b = _bytes(data)
        h = _header_block(headers) if headers else None
        ticket = c_uint64()
        _check(lib.streamlog_pipe_append(self._live(), channel._live(), _bytes(msg_id) if msg_id else None, h,
                                         len(h) if h else 0, b, len(b), byref(ticket)))
        return ticket.value

    def next(self, timeout: Optional[float] = None) -> Optional[tuple]:
        """The oldest result as (ticket, seq, duplicate), waiting up to `timeout` seconds
        (None: until it is ready). None when it is not ready in time or nothing is outstanding.
        An append that failed raises its error (with .ticket set) in its turn."""
        if timeout is not None and timeout < 0:
            raise InvalidArgument(EINVAL, "timeout must be >= 0 or None")
        ms = -1 if timeout is None else int(timeout * 1000 + 0.999)
        ticket, rc, seq, dup = c_uint64(), c_int(), c_uint64(), c_int()
        call = lib.streamlog_pipe_next(self._live(), ms, byref(ticket), byref(rc), byref(seq), byref(dup))
        if call in (EAGAIN, ETIMEDOUT, ENOTFOUND):
            return None
        _check(call)
        if rc.value != OK:
            err = _error(rc.value)
            err.ticket = ticket.value
            raise err
        return ticket.value, seq.value, bool(dup.value)

    def fileno(self) -> int:
        """Readable while the oldest result is ready (for selectors / asyncio add_reader)."""
        fd = lib.streamlog_pipe_fd(self._live())
        if fd < 0:
            raise _error(fd)
        return fd
