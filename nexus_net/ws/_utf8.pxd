from libc.stdint cimport uint32_t

cdef enum:
    UTF8_ACCEPT = 0
    UTF8_REJECT = 8

# Advance the incremental validator over n bytes. Returns the new state:
# UTF8_ACCEPT (0) at a character boundary, UTF8_REJECT as soon as the bytes can
# no longer be the start of valid UTF-8 (then *err_pos is the offending index),
# anything else in the middle of a multi-byte sequence.
cdef uint32_t utf8_feed(uint32_t state, const unsigned char* p, Py_ssize_t n,
                        Py_ssize_t* err_pos) noexcept nogil
