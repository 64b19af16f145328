from nexus_net.ws._reader cimport FrameReader, Message
from nexus_net.ws._writer cimport FrameWriter


cdef enum:
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


cdef class Session:
    cdef readonly FrameReader reader
    cdef readonly FrameWriter writer
    cdef readonly bint is_client
    cdef public int state
    cdef public bint auto_pong
    cdef list outbox             # frames to send, produced while reading
    cdef readonly bint close_sent
    cdef readonly bint close_received
    cdef readonly bint read_done     # close received or connection failed: no more messages
    cdef public int end_code     # the code that ends the connection (-1: not yet)
    cdef public str end_reason
    cdef public object close_exc # ConnectionClosed to raise from recv()/send, once known
    cdef readonly long long bytes_received
    cdef object ping_waiters     # dict: payload bytes -> list of waiters

    cdef Message poll(self)
    cdef int queue(self, bytes frame) except -1
    cdef int fail(self, int code, str reason, object cause) except -1
    cdef int handle_control(self, Message msg) except -1
