from nexus_net.ws._reader cimport FrameReader, Message
from nexus_net.ws._writer cimport FrameWriter


cdef enum:
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


cdef enum:
    MARKS = 32                   # reads remembered for timestamps (a power of two)


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

    # Receive timestamps: the plaintext stream position and wall clock of the
    # last reads (a ring), so a message gets the time of the read that
    # completed it even when it is parsed several reads later.
    cdef public bint timestamps      # stamp messages with received_ns (default on)
    cdef long long plain_in          # plaintext bytes received so far
    cdef Py_ssize_t unread_before    # unread bytes when the current read began
    cdef long long mark_pos[MARKS]
    cdef long long mark_ns[MARKS]
    cdef int mark_first
    cdef int mark_n

    # counters behind ``stats``
    cdef readonly long long messages_in
    cdef public long long messages_out
    cdef public long long bytes_sent

    # application-level messages taken out of the stream before delivery:
    # heartbeat answers and messages answered by ``auto_reply``
    cdef bint intercepting
    cdef bytes hb_prefix
    cdef Py_ssize_t hb_max_size      # longer messages are never offered to hb_is_pong
    cdef object hb_is_pong
    cdef bytes ar_prefix
    cdef object ar_fn
    cdef readonly long long heartbeat_answers
    cdef readonly long long heartbeat_answer_ns   # received_ns of the last answer

    cdef Message poll(self)
    cdef int queue(self, bytes frame) except -1
    cdef int fail(self, int code, str reason, object cause) except -1
    cdef int handle_control(self, Message msg) except -1
    cdef int begin_read(self) except -1
    cdef int end_read(self) except -1
    cdef int stamp(self, Message msg) except -1
    cdef bint intercept(self, Message msg) except -1
