// The C library calls OSCalls cannot make from Swift: what must run between a clone and an exec,
// where no Swift code may run (it could allocate, or take a lock another thread holds).
#ifndef SVCUNIT_COSCALLS_H
#define SVCUNIT_COSCALLS_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` as a sibling of this process: its parent is this
/// process's parent (`CLONE_PARENT`), so it is never this process's child. `from_fd` is copied to
/// `to_fd` in it (without close-on-exec); -1 for none. Every catchable signal is at its default
/// action and none is blocked, as in a fresh process.
///
/// Like glibc's posix_spawn, the child shares this process's memory until its exec (`CLONE_VM |
/// CLONE_VFORK`, on a stack of its own), so nothing is copied, and the calling thread resumes once
/// the exec has happened or failed.
///
/// Returns the child's PID, or -errno: the clone's error, or the exec's (the child has exited then).
pid_t svcunit_spawn_sibling(const char *path, char *const argv[], char *const envp[], int from_fd, int to_fd);

#endif
