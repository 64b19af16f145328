# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Incremental, fail-fast UTF-8 validation.

A deterministic automaton over byte classes, built from the table of
well-formed byte sequences in the Unicode standard (ch. 3, table 3-7). It
rejects at the first byte that cannot continue a valid sequence: overlong forms
(C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF), code points above
U+10FFFF (F4 90.., F5..FF) and stray continuation bytes. Runs of ASCII are
skipped eight bytes at a time.
"""

from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

# States: 0 accept; 1 one continuation byte left; 2 two left; 3 after E0;
# 4 after ED; 5 three left; 6 after F0; 7 after F4; 8 reject.
# Byte classes:
#  0: 00..7F   1: 80..8F   2: 90..9F   3: A0..BF   4: C0 C1 F5..FF
#  5: C2..DF   6: E0       7: E1..EC EE EF           8: ED
#  9: F0      10: F1..F3  11: F4
cdef enum:
    NCLASS = 12

cdef unsigned char BYTE_CLASS[256]
cdef unsigned char NEXT_STATE[9 * NCLASS]


def _build_tables():
    def cls(b):
        if b < 0x80: return 0
        if b < 0x90: return 1
        if b < 0xA0: return 2
        if b < 0xC0: return 3
        if b < 0xC2 or b > 0xF4: return 4
        if b < 0xE0: return 5
        if b == 0xE0: return 6
        if b == 0xED: return 8
        if b < 0xF0: return 7
        if b == 0xF0: return 9
        if b < 0xF4: return 10
        return 11

    R = UTF8_REJECT
    cont = {1: 1, 2: 1, 3: 1}           # any continuation byte 80..BF
    table = {
        0: {0: 0, 5: 1, 6: 3, 7: 2, 8: 4, 9: 6, 10: 5, 11: 7},
        1: {c: 0 for c in cont},
        2: {c: 1 for c in cont},
        3: {3: 1},                       # E0 needs A0..BF
        4: {1: 1, 2: 1},                 # ED needs 80..9F
        5: {c: 2 for c in cont},
        6: {2: 2, 3: 2},                 # F0 needs 90..BF
        7: {1: 2},                       # F4 needs 80..8F
        8: {},
    }
    for b in range(256):
        BYTE_CLASS[b] = cls(b)
    for state in range(9):
        for c in range(NCLASS):
            NEXT_STATE[state * NCLASS + c] = table[state].get(c, R)


_build_tables()


cdef uint32_t utf8_feed(uint32_t state, const unsigned char* p, Py_ssize_t n,
                        Py_ssize_t* err_pos) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef uint64_t w
    while i < n:
        if state == UTF8_ACCEPT:
            while i + 8 <= n:
                memcpy(&w, p + i, 8)
                if w & <uint64_t>0x8080808080808080ULL:
                    break
                i += 8
            while i < n and p[i] < 0x80:
                i += 1
            if i >= n:
                break
        state = NEXT_STATE[state * NCLASS + BYTE_CLASS[p[i]]]
        if state == UTF8_REJECT:
            err_pos[0] = i
            return state
        i += 1
    return state


def validate_utf8(data) -> bool:
    """True when ``data`` (bytes-like) is complete, well-formed UTF-8."""
    cdef const unsigned char[::1] view = data
    cdef Py_ssize_t pos = 0
    if view.shape[0] == 0:
        return True
    return utf8_feed(UTF8_ACCEPT, &view[0], view.shape[0], &pos) == UTF8_ACCEPT


cdef class Utf8Validator:
    """Incremental validator: ``feed`` pieces, then check ``complete``.

    ``feed`` returns False as soon as the bytes seen so far cannot be a prefix
    of valid UTF-8 (and ``error_offset`` tells where, counted from the first
    byte ever fed).
    """

    cdef uint32_t state
    cdef Py_ssize_t seen
    cdef Py_ssize_t err

    def __init__(self):
        self.state = UTF8_ACCEPT
        self.seen = 0
        self.err = -1

    def feed(self, data) -> bool:
        cdef const unsigned char[::1] view = data
        cdef Py_ssize_t pos = 0
        if self.state == UTF8_REJECT:
            return False
        if view.shape[0]:
            self.state = utf8_feed(self.state, &view[0], view.shape[0], &pos)
            if self.state == UTF8_REJECT:
                self.err = self.seen + pos
                return False
            self.seen += view.shape[0]
        return True

    @property
    def complete(self) -> bool:
        """True at a character boundary with nothing invalid seen."""
        return self.state == UTF8_ACCEPT

    @property
    def failed(self) -> bool:
        return self.state == UTF8_REJECT

    @property
    def error_offset(self):
        return None if self.err < 0 else self.err
