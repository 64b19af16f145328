# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""permessage-deflate (RFC 7692): the per-connection codec on zlib's C API.

One ``PerMessageDeflate`` holds what a connection negotiated and the two
zlib streams (created on first use, so a connection that never compresses
holds none):

* receiving: a compressed message's payload is inflated straight from the
  receive buffer as its bytes arrive, into one output arena (a ``ReadBuf``:
  messages are handed out in place, like uncompressed ones, and a message
  the application keeps pins its bytes, never a copy). The 4-byte
  ``00 00 ff ff`` tail is fed from a static array, not appended to the
  payload. Output is bounded by the reader's ``max_message_size``: inflation
  stops the moment the message passes it, so a bomb costs at most the
  limit. UTF-8 of TEXT messages is checked on the inflated bytes as they
  come out.
* sending: the payload is compressed with ``Z_SYNC_FLUSH`` into a scratch
  buffer and the tail is stripped; the frame writer frames it with RSV1.

zlib's memory is allocated through ``PyMem_RawMalloc`` and counted
(``zlib_memory``), so it is visible to tracemalloc and measurable per
connection.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_RawFree, PyMem_RawMalloc
from libc.limits cimport UINT_MAX
from libc.stdint cimport uint32_t
from libc.string cimport memcmp, memcpy, memset

from nexus_net._zlib cimport (Z_BLOCK, Z_BUF_ERROR, Z_DEFAULT_STRATEGY, Z_DEFLATED, Z_MEM_ERROR, Z_OK,
                              Z_STREAM_END, Z_SYNC_FLUSH, deflate, deflateEnd, deflateInit2,
                              deflateReset, inflate, inflateEnd, inflateInit2, inflateReset, z_stream)
from nexus_net.buf cimport ReadBuf
from nexus_net.ws._utf8 cimport UTF8_REJECT, utf8_feed

from nexus_net.ws.errors import CompressionError, InvalidDataError, MessageTooBigError

cdef const unsigned char* TAIL = b"\x00\x00\xff\xff"
cdef Py_ssize_t OUT_INITIAL = 16 * 1024        # the output arena's first slab
cdef Py_ssize_t OUT_MAX = (<Py_ssize_t>1) << 62  # (the reader's limit bounds it, not the arena)
cdef Py_ssize_t MIN_ROOM = 4096                # output room asked for per inflate call
cdef Py_ssize_t SCRATCH_KEEP = 64 * 1024       # a larger scratch is freed after its frame


# ---- zlib's allocator: PyMem_RawMalloc, counted per connection ---------------
# Each block carries its size in a 16-byte header (keeps zlib's alignment).
cdef void* counted_alloc(void* opaque, unsigned int items, unsigned int size) noexcept nogil:
    cdef size_t n = <size_t>items * size
    cdef size_t* block = <size_t*>PyMem_RawMalloc(n + 16)
    if block == NULL:
        return NULL
    block[0] = n
    (<Py_ssize_t*>opaque)[0] += <Py_ssize_t>n
    return <char*>block + 16


cdef void counted_free(void* opaque, void* address) noexcept nogil:
    cdef size_t* block = <size_t*>(<char*>address - 16)
    (<Py_ssize_t*>opaque)[0] -= <Py_ssize_t>block[0]
    PyMem_RawFree(block)


cdef str zlib_message(z_stream* zs, int rc):
    if zs.msg != NULL:
        return zs.msg.decode("latin-1")
    return f"zlib error {rc}"


@cython.final
cdef class PerMessageDeflate:
    """The negotiated permessage-deflate codec of one connection.

    ``local_*`` parameters are about what this end sends, ``remote_*``
    about what the peer sends (as ``websockets`` names them): with
    ``local_no_context_takeover`` the compressor is reset after every
    message; ``remote_max_window_bits`` sizes the inflater's window.
    Messages shorter than ``threshold`` bytes are sent uncompressed, and so
    is every message when the local window is 8 bits (zlib cannot compress
    with a 256-byte window: RFC 7692 lets any message go uncompressed).

    Give the same object to the connection's ``FrameReader`` and
    ``FrameWriter`` (``extension=``); ``ws.connect``/``ws.serve`` build it
    from the handshake.
    """

    def __cinit__(self):
        memset(&self.ins, 0, sizeof(z_stream))
        memset(&self.outs, 0, sizeof(z_stream))
        self.ins.zalloc = counted_alloc
        self.ins.zfree = counted_free
        self.ins.opaque = &self.zmem
        self.outs.zalloc = counted_alloc
        self.outs.zfree = counted_free
        self.outs.opaque = &self.zmem
        self.scratch = NULL
        self.scratch_size = 0

    def __init__(self, bint local_no_context_takeover=False, bint remote_no_context_takeover=False,
                 int local_max_window_bits=15, int remote_max_window_bits=15, *,
                 int level=6, int mem_level=5, Py_ssize_t threshold=0):
        if not 8 <= local_max_window_bits <= 15:
            raise ValueError(f"local_max_window_bits must be 8-15, got {local_max_window_bits}")
        if not 8 <= remote_max_window_bits <= 15:
            raise ValueError(f"remote_max_window_bits must be 8-15, got {remote_max_window_bits}")
        if not -1 <= level <= 9:
            raise ValueError(f"level must be -1 (zlib's default) or 0-9, got {level}")
        if not 1 <= mem_level <= 9:
            raise ValueError(f"mem_level must be 1-9, got {mem_level}")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if self.in_ready or self.out_ready:
            raise RuntimeError("PerMessageDeflate is already in use")
        self.local_no_context_takeover = local_no_context_takeover
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_max_window_bits = local_max_window_bits
        self.remote_max_window_bits = remote_max_window_bits
        self.level = level
        self.mem_level = mem_level
        self.threshold = threshold
        self.out = ReadBuf(OUT_INITIAL, OUT_MAX)
        self.out.release()               # allocated by the first compressed message

    def __dealloc__(self):
        self.free_streams()

    cdef void free_streams(self) noexcept:
        self.end_inflate()
        self.end_deflate()
        self.free_scratch()

    cdef void end_inflate(self) noexcept:
        if self.in_ready:
            inflateEnd(&self.ins)
            self.in_ready = False

    cdef void end_deflate(self) noexcept:
        if self.out_ready:
            deflateEnd(&self.outs)
            self.out_ready = False

    cdef void free_scratch(self) noexcept:
        if self.scratch != NULL:
            PyMem_Free(self.scratch)
            self.scratch = NULL
            self.scratch_size = 0

    def close(self):
        """Free zlib's memory now: the connection ended. (Messages already
        handed out keep their bytes; a later use starts fresh streams.)"""
        self.free_streams()
        self.out.release()

    cdef int release_idle(self) noexcept:
        """The connection has nothing unread (a keepalive frame came alone,
        between messages: the reader calls this only then, so no compressed
        message is half received): give back the output arena and, where no
        context is carried from one message to the next, zlib's streams;
        they are made again on use."""
        self.out.release()
        if self.remote_no_context_takeover:
            self.end_inflate()
        if self.local_no_context_takeover and not self.sending_compressed:
            self.end_deflate()
        self.free_scratch()
        return 0

    # ---- receiving -------------------------------------------------------------
    cdef int start_inflate(self) except -1:
        cdef int rc, bits = self.remote_max_window_bits
        # zlib's deflate cannot make 8-bit windows and uses 9 when asked for 8;
        # a larger window always inflates a smaller one's output.
        if bits < 9:
            bits = 9
        rc = inflateInit2(&self.ins, -bits)
        if rc == Z_MEM_ERROR:
            raise MemoryError("zlib could not allocate an inflate stream")
        if rc != Z_OK:
            raise RuntimeError(f"inflateInit2 failed: {zlib_message(&self.ins, rc)}")
        self.in_ready = True
        return 0

    cdef int run_inflate(self, const unsigned char* p, Py_ssize_t n, int flush, Py_ssize_t limit,
                         bint text, uint32_t* utf8_state) except -1:
        cdef ReadBuf ob = self.out
        cdef z_stream* zs = &self.ins
        cdef Py_ssize_t room, produced, pos = 0
        cdef unsigned int given
        cdef unsigned char* dst
        cdef uint32_t st
        cdef int rc
        zs.next_in = p
        zs.avail_in = <unsigned int>(n if n < UINT_MAX else UINT_MAX)
        n -= zs.avail_in
        while True:
            room = ob.cap - ob.end
            if room < MIN_ROOM:
                # grows by doubling (the message so far moves along; a slab
                # that earlier messages pin is left to them)
                room = ob.end - ob.start
                ob.reserve(room if room > MIN_ROOM else MIN_ROOM)
                room = ob.cap - ob.end
            # never more than one byte past the limit: that byte is the proof
            if room > limit - self.msg_len + 1:
                room = limit - self.msg_len + 1
            given = <unsigned int>(room if room < UINT_MAX else UINT_MAX)
            dst = <unsigned char*>ob.data + ob.end
            zs.next_out = dst
            zs.avail_out = given
            rc = inflate(zs, flush)
            produced = given - zs.avail_out
            if produced:
                if self.msg_len + produced > limit:
                    raise MessageTooBigError(
                        f"compressed message inflates to more than max_message_size={limit} bytes")
                if text:
                    st = utf8_feed(utf8_state[0], dst, produced, &pos)
                    if st == UTF8_REJECT:
                        raise InvalidDataError(
                            f"invalid UTF-8 in text message (byte 0x{dst[pos]:02X} at offset "
                            f"{self.msg_len + pos} of the inflated message)")
                    utf8_state[0] = st
                ob.end += produced
                self.msg_len += produced
            if rc == Z_STREAM_END:
                # a final block (BFINAL): allowed (RFC 7692 7.2.3.3); the
                # stream starts over with the next message
                self.in_ended = True
                if zs.avail_in or n:
                    if flush == Z_BLOCK:
                        return 0             # only our own tail was left over
                    raise CompressionError("data after the final block of the deflate stream")
                return 0
            if rc == Z_OK or rc == Z_BUF_ERROR:
                if zs.avail_out == 0:
                    continue                 # output full: more may be pending
                if zs.avail_in == 0:
                    if n == 0:
                        return 0
                    zs.avail_in = <unsigned int>(n if n < UINT_MAX else UINT_MAX)
                    n -= zs.avail_in
                    continue
                if rc == Z_BUF_ERROR:
                    raise CompressionError("the deflate stream made no progress")
                continue                     # Z_BLOCK stopped at a block boundary
            if rc == Z_MEM_ERROR:
                raise MemoryError("zlib ran out of memory while inflating")
            raise CompressionError(f"invalid deflate data: {zlib_message(zs, rc)}")

    cdef int inflate_feed(self, const unsigned char* p, Py_ssize_t n, Py_ssize_t limit,
                          bint text, uint32_t* utf8_state) except -1:
        """Inflate ``n`` more payload bytes of the compressed message in progress."""
        cdef ReadBuf ob = self.out
        if n == 0:
            return 0
        if self.msg_len == 0 and ob.cap > OUT_INITIAL and ob.end == ob.start:
            ob.release()                 # after a large message: back to a small slab
        if not self.in_ready:
            self.start_inflate()
        if self.in_ended:
            raise CompressionError("data after the final block of the deflate stream")
        self.msg_in += n
        return self.run_inflate(p, n, Z_SYNC_FLUSH, limit, text, utf8_state)

    cdef const char* inflate_end(self, Py_ssize_t limit, bint text, uint32_t* utf8_state,
                                 Py_ssize_t* length) except NULL:
        """The message's last frame is in: feed the tail, check that the
        stream stopped at a block boundary (else it was truncated), and
        return the inflated message (``length`` bytes at the returned
        pointer, in ``self.out``: the caller pins, then drops them)."""
        cdef ReadBuf ob = self.out
        cdef const char* start
        if not self.in_ready:
            self.start_inflate()
        if self.msg_in == 0:
            pass        # no compressed byte at all: an empty message (zlib itself would send 0x00)
        elif not self.in_ended:
            self.run_inflate(TAIL, 4, Z_BLOCK, limit, text, utf8_state)
            # after the tail's empty stored block, inflate waits for a block
            # header (data_type bit 128): anything else means the message
            # ended inside a block
            if not self.in_ended and not (self.ins.data_type & 128):
                raise CompressionError("compressed message ends inside a deflate block (truncated)")
        if ob.cap == 0:
            ob.reserve(1)                # (an empty message still gets a valid pointer)
        start = ob.data + ob.start
        length[0] = self.msg_len
        self.msg_len = 0
        self.msg_in = 0
        self.inflated_messages += 1
        if self.in_ended or self.remote_no_context_takeover:
            inflateReset(&self.ins)
            self.in_ended = False
        return start

    # ---- sending ---------------------------------------------------------------
    cdef int wants_compression(self, unsigned int opcode, Py_ssize_t n, bint fin) noexcept:
        """Whether this data frame's payload is compressed (RSV1 on a first frame)."""
        cdef bint yes
        if opcode == 0:
            yes = self.sending_compressed
            if fin:
                self.sending_compressed = False
            return yes
        yes = n >= self.threshold and self.local_max_window_bits >= 9
        if not fin:
            self.sending_compressed = yes
        return yes

    cdef Py_ssize_t deflate_payload(self, const unsigned char* p, Py_ssize_t n, bint fin) except -1:
        """Compress ``n`` bytes into ``self.scratch``; returns the compressed
        length. With ``fin`` (the message's last frame) the sync-flush tail
        ``00 00 ff ff`` is stripped (RFC 7692 7.2.1)."""
        cdef z_stream* zs = &self.outs
        cdef Py_ssize_t need, produced = 0
        cdef int rc
        if not self.out_ready:
            rc = deflateInit2(zs, self.level, Z_DEFLATED, -self.local_max_window_bits,
                              self.mem_level, Z_DEFAULT_STRATEGY)
            if rc == Z_MEM_ERROR:
                raise MemoryError("zlib could not allocate a deflate stream")
            if rc != Z_OK:
                raise RuntimeError(f"deflateInit2 failed: {zlib_message(zs, rc)}")
            self.out_ready = True
        # sync flush: the input, 5 bytes per 2 KiB stored block at worst, 5 of flush
        need = n + (n >> 8) + 64
        if self.scratch_size < need:
            self.grow_scratch(need)
        zs.next_in = p
        zs.avail_in = <unsigned int>(n if n < UINT_MAX else UINT_MAX)
        n -= zs.avail_in
        while True:
            zs.next_out = <unsigned char*>self.scratch + produced
            zs.avail_out = <unsigned int>(self.scratch_size - produced
                                          if self.scratch_size - produced < UINT_MAX else UINT_MAX)
            rc = deflate(zs, Z_SYNC_FLUSH)
            produced = (<char*>zs.next_out) - self.scratch
            if rc != Z_OK and rc != Z_BUF_ERROR:
                raise RuntimeError(f"deflate failed: {zlib_message(zs, rc)}")
            if zs.avail_out == 0:
                self.grow_scratch(self.scratch_size * 2)
                continue
            if zs.avail_in == 0:
                if n == 0:
                    break
                zs.avail_in = <unsigned int>(n if n < UINT_MAX else UINT_MAX)
                n -= zs.avail_in
        if fin:
            if produced >= 4 and memcmp(self.scratch + produced - 4, TAIL, 4) == 0:
                produced -= 4
            elif produced == 0:
                # nothing new since an earlier fragment's flush: one empty
                # stored block's first byte, which the receiver's tail completes
                self.scratch[0] = 0
                produced = 1
            else:
                raise RuntimeError("zlib's sync flush did not end with 00 00 ff ff")
            self.deflated_messages += 1
            if self.local_no_context_takeover:
                deflateReset(zs)
        return produced

    cdef int grow_scratch(self, Py_ssize_t size) except -1:
        cdef char* grown
        if size < 256:
            size = 256
        grown = <char*>PyMem_Malloc(size)
        if grown == NULL:
            raise MemoryError(f"cannot allocate {size} bytes for a compressed frame")
        if self.scratch != NULL:
            # (only ever grown between deflate calls of one frame: keep what was produced)
            memcpy(grown, self.scratch, self.scratch_size)
            PyMem_Free(self.scratch)
        self.scratch = grown
        self.scratch_size = size
        return 0

    cdef int frame_sent(self) noexcept:
        """After the writer copied the scratch: free a large one."""
        if self.scratch_size > SCRATCH_KEEP:
            self.free_scratch()
        return 0

    # ---- Python API ----------------------------------------------------------
    @property
    def zlib_memory(self):
        """Bytes zlib holds now for this connection (both streams)."""
        return self.zmem

    @property
    def buffer_memory(self):
        """Bytes of the inflate output arena and the send scratch."""
        return self.out.cap + self.scratch_size

    def params(self):
        """The negotiated parameters as a dict (for logs and tests)."""
        return {"local_no_context_takeover": self.local_no_context_takeover,
                "remote_no_context_takeover": self.remote_no_context_takeover,
                "local_max_window_bits": self.local_max_window_bits,
                "remote_max_window_bits": self.remote_max_window_bits}

    def __repr__(self):
        p = self.params()
        return ("<PerMessageDeflate " + " ".join(f"{k}={v}" for k, v in p.items()) + ">")
