"""An awaitable "bytes arrived" signal that can resume its task inline.

Shared by the WebSocket and REST asyncio transports.
"""

import asyncio

cdef object _CancelledError = asyncio.CancelledError
cdef object _current_task = asyncio.current_task


cdef class Ready:
    """An awaitable that is already complete: ``await`` returns None at once.

    ``send_*`` return it when nothing has to wait, which spares a coroutine
    object per message. Its iterator is permanently exhausted, so awaiting it
    raises no StopIteration either.
    """

    def __await__(self):
        return _EXHAUSTED


cdef object _EXHAUSTED = iter(())



cdef extern from "Python.h":
    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1


cdef class Waiter:
    """A minimal asyncio-compatible future for "bytes arrived".

    Tasks accept any object that speaks the future protocol
    (``_asyncio_future_blocking``, ``add_done_callback``, ``result``...).
    Unlike ``asyncio.Future``, ``wake_eager`` runs the waiting task's
    callback at once instead of through ``loop.call_soon``: when bytes arrive
    in ``buffer_updated`` (outside any task), the task blocked in ``recv()``
    resumes right there, saving a trip through the event loop per message.
    Every other wake-up (cancellation, connection lost) goes through
    ``call_soon`` like a normal future.

    Per message exactly one callback is registered (the waiting task's
    wake-up), so it lives in a slot of its own: no list or tuple is built per
    wait. Any further callbacks (a caller of ``asyncio.wait`` on it, say) go to
    a list made only then. The waiter is its own iterator for ``await``,
    which spares the iterator object a ``__await__`` would otherwise build.
    """

    def get_loop(self):
        return self.loop

    def add_done_callback(self, fn, *, context=None):
        if self.is_done:
            self.loop.call_soon(fn, self, context=context)
        elif self.first_fn is None:
            self.first_fn = fn
            self.first_context = context
        else:
            if self.more is None:
                self.more = []
            self.more.append((fn, context))

    def remove_done_callback(self, fn):
        cdef int removed = 0
        if self.first_fn is not None and self.first_fn == fn:
            self.first_fn = self.first_context = None
            removed = 1
        if self.more:
            before = len(self.more)
            self.more = [(f, c) for f, c in self.more if f != fn]
            removed += before - len(self.more)
        return removed

    def done(self):
        return self.is_done

    def cancelled(self):
        return self.is_cancelled

    def cancel(self, msg=None):
        if self.is_done:
            return False
        self.is_cancelled = True
        self.wake_soon()
        return True

    def result(self):
        if self.is_cancelled:
            raise _CancelledError()
        return None

    def exception(self):
        if self.is_cancelled:
            raise _CancelledError()
        return None

    def __await__(self):
        if self.is_done:
            return _EXHAUSTED
        self._asyncio_future_blocking = True
        self.yielded = False
        return self

    def __next__(self):
        # First step: hand the waiter to the task, which registers its
        # wake-up. Next step (the task resumed): the await is over.
        if not self.yielded:
            self.yielded = True
            return self
        raise StopIteration

    cdef void wake_soon(self):
        self.is_done = True
        fn, context, more = self.first_fn, self.first_context, self.more
        self.first_fn = self.first_context = self.more = None
        if fn is not None:
            self.loop.call_soon(fn, self, context=context)
        if more:
            for fn, context in more:
                self.loop.call_soon(fn, self, context=context)

    cdef void wake_eager(self):
        self.is_done = True
        fn, context, more = self.first_fn, self.first_context, self.more
        self.first_fn = self.first_context = self.more = None
        if fn is not None:
            run_in(context, fn, self)
        if more:
            for fn, context in more:
                run_in(context, fn, self)


cdef inline void run_in(object context, object fn, Waiter w):
    # Context.run without looking up and calling a bound method per message.
    if context is None:
        fn(w)
        return
    PyContext_Enter(context)
    try:
        fn(w)
    finally:
        PyContext_Exit(context)


cdef void resume(Waiter w, bint eager):
    """Wake the task waiting on ``w``: at once when ``eager`` and no task is
    running (bytes arrived in a protocol callback), otherwise via call_soon.
    Resuming a task inline from inside another task is not allowed."""
    if not w.is_done:
        if eager and _current_task(w.loop) is None:
            w.wake_eager()
        else:
            w.wake_soon()
