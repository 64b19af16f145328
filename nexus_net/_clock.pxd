# Clocks read in C (time.time_ns() and loop.time() are Python calls). One
# definition for every module that needs one: the WebSocket receive
# timestamps, the REST deadlines and timings.

cdef extern from *:
    """
    #ifdef _WIN32
    #include <windows.h>
    /* seconds, for differences only (timers are armed with call_later()) */
    static double nexus_monotonic(void) {
        LARGE_INTEGER f, c;
        QueryPerformanceFrequency(&f);
        QueryPerformanceCounter(&c);
        return (double)c.QuadPart / (double)f.QuadPart;
    }
    /* ns on the same clock as time.monotonic_ns() */
    static long long nexus_monotonic_ns(void) {
        LARGE_INTEGER f, c;
        QueryPerformanceFrequency(&f);
        QueryPerformanceCounter(&c);
        return (long long)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
    }
    /* wall clock, ns since the Unix epoch (as time.time_ns()) */
    static long long nexus_wall_ns(void) {
        FILETIME ft;
        ULARGE_INTEGER t;
        GetSystemTimePreciseAsFileTime(&ft);
        t.LowPart = ft.dwLowDateTime;
        t.HighPart = ft.dwHighDateTime;
        return (long long)(t.QuadPart - 116444736000000000ULL) * 100;
    }
    #else
    #include <time.h>
    static double nexus_monotonic(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    /* ns on the same clock as time.monotonic_ns() */
    static long long nexus_monotonic_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    static long long nexus_wall_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    #endif
    """
    double monotonic "nexus_monotonic" () nogil
    long long monotonic_ns "nexus_monotonic_ns" () nogil
    long long wall_ns "nexus_wall_ns" () nogil
