# Masking (RFC 6455 section 5.3) as inline C, shared by the reader and writer.
from libc.stdint cimport uint64_t
from libc.string cimport memcpy


cdef inline void mask_copy(unsigned char* dst, const unsigned char* src, Py_ssize_t n,
                           const unsigned char* key, Py_ssize_t phase) noexcept nogil:
    """dst[i] = src[i] ^ key[(phase + i) % 4]; dst may equal src (in place).

    Eight bytes per step through unaligned loads (memcpy), four steps per loop
    so the compiler can keep it in vector registers.
    """
    cdef unsigned char k[8]
    cdef uint64_t k8, a, b, c, d
    cdef Py_ssize_t i = 0
    cdef int j
    for j in range(8):
        k[j] = key[(phase + j) & 3]
    memcpy(&k8, k, 8)
    while i + 32 <= n:
        memcpy(&a, src + i, 8)
        memcpy(&b, src + i + 8, 8)
        memcpy(&c, src + i + 16, 8)
        memcpy(&d, src + i + 24, 8)
        a ^= k8
        b ^= k8
        c ^= k8
        d ^= k8
        memcpy(dst + i, &a, 8)
        memcpy(dst + i + 8, &b, 8)
        memcpy(dst + i + 16, &c, 8)
        memcpy(dst + i + 24, &d, 8)
        i += 32
    while i + 8 <= n:
        memcpy(&a, src + i, 8)
        a ^= k8
        memcpy(dst + i, &a, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ k[i & 3]
        i += 1
