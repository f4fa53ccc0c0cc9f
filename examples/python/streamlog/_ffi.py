"""Loading libstreamlog and declaring its functions (ctypes, ABI level: no compiler needed).

The library is found, in this order, through:
  1. the STREAMLOG_LIBRARY environment variable (a path to libstreamlog.so*);
  2. pkg-config: `pkg-config --variable=libdir streamlog` (honours PKG_CONFIG_PATH);
  3. the dynamic loader's search path (ldconfig cache, LD_LIBRARY_PATH): libstreamlog.so.0.

ctypes releases the GIL around every foreign call (CDLL), so blocking calls
such as streamlog_sub_next() let other Python threads run.
"""
import ctypes
import os
import shutil
import subprocess
from ctypes import POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_uint64, c_void_p

SONAME = "libstreamlog.so.0"


def _candidates():
    env = os.environ.get("STREAMLOG_LIBRARY")
    if env:
        yield env
        return  # an explicit choice: do not fall back to another library silently
    if shutil.which("pkg-config"):
        try:
            libdir = subprocess.run(["pkg-config", "--variable=libdir", "streamlog"], capture_output=True,
                                    text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            libdir = ""
        if libdir:
            yield os.path.join(libdir, SONAME)
    yield SONAME


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("cannot load libstreamlog (set STREAMLOG_LIBRARY to its path, or install it and run "
                      "ldconfig, or set PKG_CONFIG_PATH): " + "; ".join(errors))


lib = _load()


class _GrowableStats(ctypes.Structure):
    """A _v2 statistics struct: `size` (set before the call to sizeof the struct)
    and a reserved word, then the figures (see "Growable statistics" in streamlog.h)."""

    @classmethod
    def for_call(cls):
        s = cls()
        s.size = ctypes.sizeof(cls)
        return s

    def figures(self) -> dict:
        return {name: getattr(self, name) for name, _ in self._fields_ if name not in ("size", "reserved")}


class ChannelStats(_GrowableStats):
    _fields_ = [("size", c_uint32), ("reserved", c_uint32), ("first_seq", c_uint64), ("last_seq", c_uint64),
                ("msgs", c_uint64), ("bytes", c_uint64), ("subs", c_uint64)]


class SubStats(_GrowableStats):
    _fields_ = [("size", c_uint32), ("reserved", c_uint32), ("pending", c_uint64), ("last_delivered", c_uint64),
                ("next_seq", c_uint64), ("delivered", c_uint64), ("redelivered", c_uint64), ("acked", c_uint64),
                ("dead_lettered", c_uint64), ("stalled", c_uint32), ("max_inflight", c_uint32)]


P = c_void_p  # every handle is opaque
PP = POINTER(c_void_p)

_prototypes = {
    "streamlog_version": (c_char_p, []),
    "streamlog_strerror": (c_char_p, [c_int]),
    "streamlog_errname": (c_char_p, [c_int]),
    "streamlog_errmsg": (c_char_p, []),
    "streamlog_opts_new": (c_int, [PP]),
    "streamlog_opts_free": (None, [P]),
    "streamlog_opts_set_int": (c_int, [P, c_int, c_int64]),
    "streamlog_opts_set_str": (c_int, [P, c_int, c_char_p]),
    "streamlog_open": (c_int, [c_char_p, P, PP]),
    "streamlog_close": (c_int, [P]),
    "streamlog_sync": (c_int, [P]),
    "streamlog_channel_open": (c_int, [P, c_char_p, c_uint32, P, PP]),
    "streamlog_channel_close": (None, [P]),
    "streamlog_channel_delete": (c_int, [P, c_char_p]),
    "streamlog_channel_list_next": (c_int, [P, c_char_p, c_char_p, c_size_t]),
    "streamlog_channel_get_stats_v2": (c_int, [P, POINTER(ChannelStats)]),
    "streamlog_append": (c_int, [P, c_char_p, c_size_t, POINTER(c_uint64)]),
    "streamlog_append_expect": (c_int, [P, c_char_p, c_size_t, c_uint64, POINTER(c_uint64)]),
    "streamlog_append_batch": (c_int, [P, POINTER(c_char_p), POINTER(c_size_t), c_size_t, POINTER(c_uint64)]),
    "streamlog_channel_purge": (c_int, [P, c_uint64, POINTER(c_uint64)]),
    "streamlog_append_batch_expect": (c_int, [P, POINTER(c_char_p), POINTER(c_size_t), c_size_t, c_uint64,
                                              POINTER(c_uint64)]),
    "streamlog_msg_seq": (c_uint64, [P]),
    "streamlog_msg_time": (c_int64, [P]),
    "streamlog_msg_data": (c_void_p, [P, POINTER(c_size_t)]),
    "streamlog_msg_headers": (c_void_p, [P, POINTER(c_size_t)]),
    "streamlog_append_once": (c_int, [P, c_char_p, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(c_uint64),
                                      POINTER(c_int)]),
    "streamlog_append_msg": (c_int, [P, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(c_uint64)]),
    "streamlog_msg_redelivery_count": (c_uint32, [P]),
    "streamlog_get": (c_int, [P, c_uint64, PP]),
    "streamlog_msg_free": (None, [P]),
    "streamlog_iter_open": (c_int, [P, c_int, c_int64, PP]),
    "streamlog_iter_next": (c_int, [P, PP]),
    "streamlog_iter_close": (None, [P]),
    "streamlog_subscribe": (c_int, [P, P, PP]),
    "streamlog_sub_next": (c_int, [P, c_int64, PP]),
    "streamlog_ack": (c_int, [P, c_uint64]),
    "streamlog_nak": (c_int, [P, c_uint64, c_int64]),
    "streamlog_progress": (c_int, [P, c_uint64]),
    "streamlog_term": (c_int, [P, c_uint64]),
    "streamlog_sub_fd": (c_int, [P]),
    "streamlog_sub_close": (c_int, [P]),
    "streamlog_sub_unsubscribe": (c_int, [P]),
    "streamlog_sub_get_stats_v2": (c_int, [P, POINTER(SubStats)]),
    "streamlog_import": (c_int, [P, c_uint64, POINTER(c_int64), POINTER(c_char_p), POINTER(c_size_t),
                                 POINTER(c_char_p), POINTER(c_size_t), c_size_t]),
    "streamlog_pipe_open": (c_int, [P, c_uint32, PP]),
    "streamlog_pipe_append": (c_int, [P, P, c_char_p, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(c_uint64)]),
    "streamlog_pipe_next": (c_int, [P, c_int64, POINTER(c_uint64), POINTER(c_int), POINTER(c_uint64),
                                    POINTER(c_int)]),
    "streamlog_pipe_fd": (c_int, [P]),
    "streamlog_pipe_close": (c_int, [P]),
}

for _name, (_res, _args) in _prototypes.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

# Present from libstreamlog 0.1.0 with read-only open; older builds lack it.
version_number = getattr(lib, "streamlog_version_number", None)
if version_number is not None:
    version_number.restype = c_int
    version_number.argtypes = []
