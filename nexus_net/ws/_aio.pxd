from nexus_net._outbuf cimport Coalescer
from nexus_net._tls cimport TlsCodec
from nexus_net._waiter cimport Waiter
from nexus_net.buf cimport Span, WriteBuf
from nexus_net.ws._reader cimport Message
from nexus_net.ws._session cimport Session


cdef class Connection(Session):
    cdef object loop
    cdef object transport
    cdef readonly Coalescer out    # every write goes through it (coalesced per loop step)
    cdef object recv_waiter        # Waiter while a task waits for bytes
    cdef Waiter spare_waiter       # reused between waits
    cdef bint in_recv
    cdef bint write_paused
    cdef object drain_waiters      # list of Futures
    cdef bint read_paused
    cdef Py_ssize_t read_high
    cdef Py_ssize_t read_low
    cdef readonly bint lost
    cdef object closed_waiter      # Future: resolves in connection_lost
    cdef object close_timer
    cdef bint closing_transport
    cdef public double close_timeout
    cdef public object keepalive_task
    cdef public object subprotocol
    cdef public object request_path
    cdef public object request_headers
    cdef public object response_headers
    cdef public object handshake_status
    cdef public object on_connection_made
    cdef readonly TlsCodec tls
    cdef Span read_span
    # listener mode: messages handed to listener.on_message inside buffer_updated
    cdef readonly object listener
    cdef object on_message_cb      # listener.on_message, bound once
    cdef bint delivering
    cdef public object ping_rtt    # seconds, the last keepalive round trip (None: none yet)
    cdef public object heartbeat_rtt  # seconds, the last application heartbeat's round trip
    cdef public object watch_task  # the client's heartbeat / idle-timeout watcher
    cdef public long long opened_ns  # wall clock when the handshake completed

    cdef int send_frame(self, data) except -1
    cdef int send_data(self, unsigned int opcode, data) except -1
    cdef int flush(self) except -1
    cdef Message ready_message(self)
    cdef int finish_reading(self) except -1
    cdef int wake_reader(self, bint eager=*) except -1
    cdef int deliver(self) except -1
    cdef int start_listener(self) except -1
    cdef int callback_failed(self, exc, str where) except -1
