// The only C headers svcunit sees. Kept to public libsystemd API: sd-bus for the user manager,
// sd-journal for logs, sd-daemon for sd_notify readiness.
//
// libsystemd is not linked: libsystemd.c defines each function svcunit calls and forwards it to
// libsystemd.so.0, which it opens the first time one of them is called. A command that never
// talks to systemd (`--version`, `create`, `inspect`) loads neither it nor the six libraries it
// needs (libcap, libgcrypt, libgpg-error, liblz4, liblzma, libzstd). When it cannot be opened,
// every function fails with -ELIBACC and `svcunit_libsystemd_error()` says why.
#ifndef SVCUNIT_CSYSTEMD_H
#define SVCUNIT_CSYSTEMD_H
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>

/// Why libsystemd.so.0 could not be opened or lacks a function (the loader's message), or NULL
/// when it is loaded or has not been needed yet.
const char *svcunit_libsystemd_error(void);
#endif
