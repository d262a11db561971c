#define _GNU_SOURCE
#include "CProcess.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

pid_t sviserve_spawn(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int status = posix_spawn_file_actions_init(&actions);
    if (status != 0) return -status;
    status = posix_spawnattr_init(&attributes);
    if (status != 0) { posix_spawn_file_actions_destroy(&actions); return -status; }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if ((status = posix_spawn_file_actions_adddup2(&actions, in_fd, 0)) == 0
        && (status = posix_spawn_file_actions_adddup2(&actions, out_fd, 1)) == 0
        && (status = posix_spawn_file_actions_adddup2(&actions, err_fd, 2)) == 0
        && (status = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) == 0
        && (status = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0
        && (status = posix_spawnattr_setpgroup(&attributes, 0)) == 0
        && (status = posix_spawnattr_setsigdefault(&attributes, &all)) == 0
        && (status = posix_spawnattr_setsigmask(&attributes, &none)) == 0) {
        pid_t pid = 0;
        status = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        return status == 0 ? pid : -status;
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return -status;
}

int sviserve_set_limit(pid_t pid, int resource, unsigned long long soft, unsigned long long hard) {
    struct rlimit limit = { .rlim_cur = (rlim_t)soft, .rlim_max = (rlim_t)hard };
    return prlimit(pid, (__rlimit_resource_t)resource, &limit, NULL) == 0 ? 0 : -errno;
}

int sviserve_set_nice(pid_t pid, int nice) {
    return setpriority(PRIO_PROCESS, (id_t)pid, nice) == 0 ? 0 : -errno;
}

int sviserve_die_with_parent(void) {
    return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0 ? 0 : -errno;
}

int sviserve_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

int sviserve_has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -errno;
    return info.si_pid != 0 ? 1 : 0;
}

int sviserve_set_mmap_threshold(size_t bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes);
}

int sviserve_release_free_memory(void) {
    return malloc_trim(0);
}
