// The only C headers svcunit sees. Kept to public libsystemd API: sd-bus for the user manager,
// sd-journal for logs, sd-id128 for invocation IDs, sd-daemon for sd_notify readiness.
#ifndef SVCUNIT_CSYSTEMD_SHIM_H
#define SVCUNIT_CSYSTEMD_SHIM_H
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-daemon.h>
#endif
