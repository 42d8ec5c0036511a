"""Functions the validation worker tests run in a worker process (importable there by name)."""

from __future__ import annotations

import os

_kept: list = []


class _Mark:
    """Writes its file when it is freed: at the latest when the interpreter tears down its modules."""

    def __init__(self, path: str):
        self.path = path

    # (What it calls is bound here: by teardown a module's globals and the builtins may be gone.)
    def __del__(self, _open=os.open, _write=os.write, _close=os.close, _flags=os.O_WRONLY | os.O_CREAT):
        fd = _open(self.path, _flags, 0o600)
        _write(fd, b"torn down")
        _close(fd)


def keep_until_exit(path: str) -> int:
    _kept.append(_Mark(path))
    return os.getpid()


def collector_state() -> dict:
    """The worker's garbage collector: on, how many objects it has frozen, and whether a cycle
    made now is still collected."""
    import gc
    import weakref

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    return {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(), "cycle_collected": alive() is None}
