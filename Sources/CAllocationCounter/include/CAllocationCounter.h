#ifndef CALLOCATIONCOUNTER_H
#define CALLOCATIONCOUNTER_H
// Counts heap allocations made by the calling thread. Linking this target interposes
// malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign for the whole process
// and forwards each call to glibc's implementation; only the benchmark and the tests that
// check "the replay allocates nothing" link it.

/// Allocations made by this thread since it started.
unsigned long allocation_count(void);
#endif
