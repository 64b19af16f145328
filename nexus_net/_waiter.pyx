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
    """

    def get_loop(self):
        return self.loop

    def add_done_callback(self, fn, *, context=None):
        if self.is_done:
            self.loop.call_soon(fn, self, context=context)
        else:
            self.callbacks.append((fn, context))

    def remove_done_callback(self, fn):
        before = len(self.callbacks)
        self.callbacks = [(f, c) for f, c in self.callbacks if f != fn]
        return before - len(self.callbacks)

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
        # A one-item tuple iterator yields the waiter to the task once and then
        # ends without raising StopIteration (cheaper than a generator).
        if self.is_done:
            return _EXHAUSTED
        self._asyncio_future_blocking = True
        return iter((self,))

    cdef void wake_soon(self):
        self.is_done = True
        callbacks, self.callbacks = self.callbacks, []
        for fn, context in callbacks:
            self.loop.call_soon(fn, self, context=context)

    cdef void wake_eager(self):
        self.is_done = True
        callbacks, self.callbacks = self.callbacks, []
        for fn, context in callbacks:
            if context is None:
                fn(self)
            else:
                context.run(fn, self)


cdef void resume(Waiter w, bint eager):
    """Wake the task waiting on ``w``: at once when ``eager`` and no task is
    running (bytes arrived in a protocol callback), otherwise via call_soon.
    Resuming a task inline from inside another task is not allowed."""
    if not w.is_done:
        if eager and _current_task(w.loop) is None:
            w.wake_eager()
        else:
            w.wake_soon()
