#ifndef CPROCESS_H
#define CPROCESS_H
// What the service needs of POSIX process control that Swift cannot call directly: variadic
// prctl, and posix_spawn's file actions and attributes assembled in one call. The job service
// runs each job in a child process (`sviserve worker`) through these. And glibc's allocator
// settings (malloc.h is not in Swift's Glibc module), which bound the server's own memory.
#include <stddef.h>
#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated) in a new process group, its standard
/// input, output and error on `in_fd`, `out_fd`, `err_fd`, every other descriptor closed and
/// every signal at its default disposition and unblocked. Returns the child's pid, or -errno.
pid_t sviserve_spawn(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd);

/// Sets resource `resource` (RLIMIT_AS, RLIMIT_CPU, ...) of process `pid` (0: this one) to
/// `soft` and `hard` through prlimit(2). Returns 0, or -errno.
int sviserve_set_limit(pid_t pid, int resource, unsigned long long soft, unsigned long long hard);

/// Sets the scheduling priority (nice value) of process `pid`. Returns 0, or -errno.
int sviserve_set_nice(pid_t pid, int nice);

/// Asks the kernel to send this process SIGKILL when the thread that created it ends
/// (prctl PR_SET_PDEATHSIG), so that a worker never outlives its server. Returns 0, or -errno.
int sviserve_die_with_parent(void);

/// Whether child `pid` has ended (without reaping it: it stays a zombie for waitpid). Returns 1
/// when it has, 0 when it runs, -errno on error.
int sviserve_has_exited(pid_t pid);

/// Creates a pipe whose both ends are close-on-exec. Returns 0, or -errno.
int sviserve_pipe(int fds[2]);

/// Makes every allocation of `bytes` or more a mapping of its own, unmapped when freed, and
/// stops glibc from raising that threshold as large blocks are freed (mallopt
/// M_MMAP_THRESHOLD). Returns 1 on success, 0 otherwise.
int sviserve_set_mmap_threshold(size_t bytes);

/// Returns the allocator's free memory to the kernel (malloc_trim(0)). Returns 1 when some was
/// released, 0 otherwise.
int sviserve_release_free_memory(void);
#endif
