from nexus_net.buf cimport WriteBuf
from nexus_net.ws._deflate cimport PerMessageDeflate


cdef class FrameWriter:
    cdef bint masking
    cdef object role_obj
    cdef bytes keys
    cdef Py_ssize_t key_pos
    cdef int sending         # opcode of the unfinished fragmented message, or 0
    cdef readonly PerMessageDeflate extension   # None: frames go out as given

    cdef const unsigned char* next_key(self)
    cdef inline Py_ssize_t write_frame(self, unsigned char* dst, unsigned int first_byte,
                                const unsigned char* payload, Py_ssize_t n)
    cdef object emit(self, unsigned int first_byte, const unsigned char* payload,
                     Py_ssize_t n, object dst)
    cdef object emit_payload(self, unsigned int opcode, bint fin, const unsigned char* payload,
                             Py_ssize_t n, object dst)
    cdef int check_sequence(self, unsigned int opcode, bint fin) except -1
    cdef object emit_data(self, unsigned int opcode, object payload, object dst, bint fin)
    cdef Py_ssize_t append_message(self, unsigned int opcode, object payload, WriteBuf wb) except -1
    cdef object emit_control(self, unsigned int opcode, object data, object dst)
