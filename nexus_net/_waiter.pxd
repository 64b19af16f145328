# cdef API of the shared waiter (see _waiter.pyx).

cdef class Ready:
    pass


cdef class Waiter:
    cdef object loop
    cdef list callbacks
    cdef bint is_done
    cdef bint is_cancelled
    cdef public object _asyncio_future_blocking
    cdef void wake_soon(self)
    cdef void wake_eager(self)


cdef inline Waiter new_waiter(object loop):
    cdef Waiter w = Waiter.__new__(Waiter)
    w.loop = loop
    w.callbacks = []
    w._asyncio_future_blocking = False
    return w
