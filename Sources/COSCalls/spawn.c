// svcunit_spawn_sibling: see COSCalls.h.
#define _GNU_SOURCE
#include "COSCalls.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

struct spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int from_fd;
    int to_fd;
    volatile int error;  // written by the child before it exits, read after the vfork completes
};

// Runs in the child, on its own stack, sharing the parent's memory: only system calls, nothing
// that allocates or locks.
static int child(void *argument) {
    struct spawn_request *request = argument;
    struct sigaction action = {0};
    action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < _NSIG; signal++) {
        (void)sigaction(signal, &action, NULL);  // fails harmlessly for SIGKILL, SIGSTOP and glibc's own
    }
    if (request->from_fd >= 0) {
        if (request->from_fd == request->to_fd) {
            int flags = fcntl(request->from_fd, F_GETFD);
            if (flags < 0 || fcntl(request->from_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) goto failed;
        } else if (dup2(request->from_fd, request->to_fd) < 0) {
            goto failed;
        }
    }
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    execve(request->path, request->argv, request->envp);
failed:
    request->error = errno;
    _exit(127);
}

pid_t svcunit_spawn_sibling(const char *path, char *const argv[], char *const envp[], int from_fd, int to_fd) {
    const size_t stack_size = 64 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -errno;
    struct spawn_request request = {path, argv, envp, from_fd, to_fd, 0};
    // No handler of this process may run in the child on the shared memory: block everything
    // until the child has reset its dispositions (it unblocks them itself, after the reset).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = clone(child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, &request);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, stack_size);
    if (pid < 0) return -clone_error;
    if (request.error != 0) return -request.error;
    return pid;
}
