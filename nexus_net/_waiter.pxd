# cdef API of the shared waiter (see _waiter.pyx).

cdef class Ready:
    pass


cdef class Waiter:
    cdef object loop
    cdef object first_fn           # the (usually only) done callback and its context
    cdef object first_context
    cdef list more                 # further callbacks, None until one is added
    cdef bint is_done
    cdef bint yielded              # __next__ has handed the waiter to the task
    cdef bint is_cancelled
    cdef public object _asyncio_future_blocking
    cdef void wake_soon(self)
    cdef void wake_eager(self)


cdef inline Waiter new_waiter(object loop):
    cdef Waiter w = Waiter.__new__(Waiter)
    w.loop = loop
    w._asyncio_future_blocking = False
    return w


cdef void resume(Waiter w, bint eager)


cdef inline Waiter reusable(Waiter spare, object loop):
    """``spare`` reset for another wait, or a new waiter (store it as the
    next spare).

    Reuse is safe once the previous wait finished normally: by the time the
    waiting task runs again, the waiter's callbacks have all run. A cancelled
    waiter is replaced, since a late callback may still read its state.
    """
    if spare is not None and spare.is_done and not spare.is_cancelled:
        spare.is_done = False
        spare._asyncio_future_blocking = False
        return spare
    return new_waiter(loop)
