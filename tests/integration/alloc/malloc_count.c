/* Counts a process's heap allocations, for the allocation checks (test_allocations.py).
 *
 * Preloaded with LD_PRELOAD; every malloc, calloc, realloc, posix_memalign, aligned_alloc and
 * memalign adds one to a counter in a shared page: the file WEFT_MALLOC_COUNT_DIR/<pid>, which the
 * test reads while the process runs. The allocations themselves are glibc's own (__libc_*). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long before_mapping;
static _Atomic unsigned long *counter = &before_mapping;

__attribute__((constructor)) static void map_counter(void) {
    const char *dir = getenv("WEFT_MALLOC_COUNT_DIR");
    if (!dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(unsigned long)) != 0) return;
    void *page = mmap(NULL, sizeof(unsigned long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (page == MAP_FAILED) return;
    *(_Atomic unsigned long *)page = atomic_load(&before_mapping);
    counter = page;
}

static inline void count(void) { atomic_fetch_add_explicit(counter, 1, memory_order_relaxed); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* The count so far, for a process that reads its own (weft-microbench finds it with dlsym). */
unsigned long weft_malloc_count(void) { return atomic_load(counter); }
