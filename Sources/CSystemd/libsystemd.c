// libsystemd, opened when first needed (see CSystemd.h for why).
//
// Each function below has the name and the exact prototype libsystemd's headers declare (the
// compiler checks them against those declarations), so the Swift wrappers call sd-bus and
// sd-journal as they would a linked libsystemd. They are hidden: the executable does not export
// them, so libsystemd.so.0, opened RTLD_LOCAL, keeps binding its own calls to itself.

// The C library first, every header libsystemd's headers include: the visibility pragma below is
// to cover only what this file defines.
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

// sd-journal.h otherwise turns sd_journal_sendv into a macro that adds the caller's source location.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#pragma GCC visibility push(hidden)
#include "CSystemd.h"
#pragma GCC visibility pop

// The ABI, not the development symlink: the soname Debian's libsystemd0 ships.
#define SVCUNIT_LIBSYSTEMD "libsystemd.so.0"

#define SVCUNIT_SD_FUNCTIONS(X) \
    X(sd_bus_new) \
    X(sd_bus_set_address) \
    X(sd_bus_set_bus_client) \
    X(sd_bus_start) \
    X(sd_bus_flush) \
    X(sd_bus_flush_close_unref) \
    X(sd_bus_get_fd) \
    X(sd_bus_get_events) \
    X(sd_bus_get_timeout) \
    X(sd_bus_process) \
    X(sd_bus_add_match_async) \
    X(sd_bus_call_async) \
    X(sd_bus_slot_unref) \
    X(sd_bus_message_new_method_call) \
    X(sd_bus_message_unref) \
    X(sd_bus_message_seal) \
    X(sd_bus_message_append_basic) \
    X(sd_bus_message_append_array) \
    X(sd_bus_message_open_container) \
    X(sd_bus_message_close_container) \
    X(sd_bus_message_enter_container) \
    X(sd_bus_message_exit_container) \
    X(sd_bus_message_peek_type) \
    X(sd_bus_message_read_basic) \
    X(sd_bus_message_read_array) \
    X(sd_bus_message_skip) \
    X(sd_bus_message_rewind) \
    X(sd_bus_message_get_errno) \
    X(sd_bus_message_get_error) \
    X(sd_bus_message_is_method_error) \
    X(sd_bus_message_get_path) \
    X(sd_bus_message_get_interface) \
    X(sd_bus_message_get_member) \
    X(sd_bus_message_get_sender) \
    X(sd_journal_open) \
    X(sd_journal_open_directory) \
    X(sd_journal_close) \
    X(sd_journal_get_fd) \
    X(sd_journal_get_events) \
    X(sd_journal_get_timeout) \
    X(sd_journal_process) \
    X(sd_journal_add_match) \
    X(sd_journal_add_disjunction) \
    X(sd_journal_flush_matches) \
    X(sd_journal_seek_head) \
    X(sd_journal_seek_tail) \
    X(sd_journal_seek_realtime_usec) \
    X(sd_journal_next) \
    X(sd_journal_previous_skip) \
    X(sd_journal_get_realtime_usec) \
    X(sd_journal_get_cursor) \
    X(sd_journal_restart_data) \
    X(sd_journal_enumerate_available_data) \
    X(sd_journal_query_unique) \
    X(sd_journal_restart_unique) \
    X(sd_journal_enumerate_available_unique) \
    X(sd_journal_sendv) \
    X(sd_notify) \
    X(sd_notify_barrier)

static struct {
#define SVCUNIT_FIELD(name) __typeof__(name) *name;
    SVCUNIT_SD_FUNCTIONS(SVCUNIT_FIELD)
#undef SVCUNIT_FIELD
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *failure;       // NULL once every function is found
static char failure_text[512];

static void load(void) {
    void *library = dlopen(SVCUNIT_LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *why = dlerror();
        snprintf(failure_text, sizeof failure_text, "%s", why ? why : "cannot open " SVCUNIT_LIBSYSTEMD);
        failure = failure_text;
        return;
    }
    // All or nothing: an older libsystemd that lacks one function is reported, not half used.
#define SVCUNIT_LOOKUP(name)                                                                   \
    if (!(fn.name = (__typeof__(name) *)dlsym(library, #name))) {                              \
        snprintf(failure_text, sizeof failure_text, "%s has no %s (libsystemd too old?)",      \
                 SVCUNIT_LIBSYSTEMD, #name);                                                   \
        failure = failure_text;                                                                \
        return;                                                                                \
    }
    SVCUNIT_SD_FUNCTIONS(SVCUNIT_LOOKUP)
#undef SVCUNIT_LOOKUP
}

/// Whether libsystemd is usable, opening it on the first call (any thread; pthread_once orders it).
static inline int loaded(void) {
    pthread_once(&once, load);
    return failure == NULL;
}

const char *svcunit_libsystemd_error(void) {
    return failure;
}

// Without libsystemd every call fails as libsystemd reports failures: -errno (ELIBACC, "cannot
// access a needed shared library"), NULL, or nothing. No object can exist then, so the calls that
// take one are never reached with one.

int sd_bus_new(sd_bus **ret) { return loaded() ? fn.sd_bus_new(ret) : -ELIBACC; }
int sd_bus_set_address(sd_bus *bus, const char *address) { return loaded() ? fn.sd_bus_set_address(bus, address) : -ELIBACC; }
int sd_bus_set_bus_client(sd_bus *bus, int b) { return loaded() ? fn.sd_bus_set_bus_client(bus, b) : -ELIBACC; }
int sd_bus_start(sd_bus *bus) { return loaded() ? fn.sd_bus_start(bus) : -ELIBACC; }
int sd_bus_flush(sd_bus *bus) { return loaded() ? fn.sd_bus_flush(bus) : -ELIBACC; }
sd_bus* sd_bus_flush_close_unref(sd_bus *bus) { return loaded() ? fn.sd_bus_flush_close_unref(bus) : NULL; }
int sd_bus_get_fd(sd_bus *bus) { return loaded() ? fn.sd_bus_get_fd(bus) : -ELIBACC; }
int sd_bus_get_events(sd_bus *bus) { return loaded() ? fn.sd_bus_get_events(bus) : -ELIBACC; }
int sd_bus_get_timeout(sd_bus *bus, uint64_t *timeout_usec) { return loaded() ? fn.sd_bus_get_timeout(bus, timeout_usec) : -ELIBACC; }
int sd_bus_process(sd_bus *bus, sd_bus_message **r) { return loaded() ? fn.sd_bus_process(bus, r) : -ELIBACC; }
int sd_bus_add_match_async(sd_bus *bus, sd_bus_slot **slot, const char *match, sd_bus_message_handler_t callback, sd_bus_message_handler_t install_callback, void *userdata) { return loaded() ? fn.sd_bus_add_match_async(bus, slot, match, callback, install_callback, userdata) : -ELIBACC; }
int sd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback, void *userdata, uint64_t usec) { return loaded() ? fn.sd_bus_call_async(bus, slot, m, callback, userdata, usec) : -ELIBACC; }
sd_bus_slot* sd_bus_slot_unref(sd_bus_slot *slot) { return loaded() ? fn.sd_bus_slot_unref(slot) : NULL; }
int sd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination, const char *path, const char *interface, const char *member) { return loaded() ? fn.sd_bus_message_new_method_call(bus, m, destination, path, interface, member) : -ELIBACC; }
sd_bus_message* sd_bus_message_unref(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_unref(m) : NULL; }
int sd_bus_message_seal(sd_bus_message *m, uint64_t cookie, uint64_t timeout_usec) { return loaded() ? fn.sd_bus_message_seal(m, cookie, timeout_usec) : -ELIBACC; }
int sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p) { return loaded() ? fn.sd_bus_message_append_basic(m, type, p) : -ELIBACC; }
int sd_bus_message_append_array(sd_bus_message *m, char type, const void *ptr, size_t size) { return loaded() ? fn.sd_bus_message_append_array(m, type, ptr, size) : -ELIBACC; }
int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents) { return loaded() ? fn.sd_bus_message_open_container(m, type, contents) : -ELIBACC; }
int sd_bus_message_close_container(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_close_container(m) : -ELIBACC; }
int sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents) { return loaded() ? fn.sd_bus_message_enter_container(m, type, contents) : -ELIBACC; }
int sd_bus_message_exit_container(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_exit_container(m) : -ELIBACC; }
int sd_bus_message_peek_type(sd_bus_message *m, char *type, const char **contents) { return loaded() ? fn.sd_bus_message_peek_type(m, type, contents) : -ELIBACC; }
int sd_bus_message_read_basic(sd_bus_message *m, char type, void *p) { return loaded() ? fn.sd_bus_message_read_basic(m, type, p) : -ELIBACC; }
int sd_bus_message_read_array(sd_bus_message *m, char type, const void **ptr, size_t *size) { return loaded() ? fn.sd_bus_message_read_array(m, type, ptr, size) : -ELIBACC; }
int sd_bus_message_skip(sd_bus_message *m, const char *types) { return loaded() ? fn.sd_bus_message_skip(m, types) : -ELIBACC; }
int sd_bus_message_rewind(sd_bus_message *m, int complete) { return loaded() ? fn.sd_bus_message_rewind(m, complete) : -ELIBACC; }
int sd_bus_message_get_errno(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_errno(m) : -ELIBACC; }
const sd_bus_error* sd_bus_message_get_error(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_error(m) : NULL; }
int sd_bus_message_is_method_error(sd_bus_message *m, const char *name) { return loaded() ? fn.sd_bus_message_is_method_error(m, name) : -ELIBACC; }
const char* sd_bus_message_get_path(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_path(m) : NULL; }
const char* sd_bus_message_get_interface(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_interface(m) : NULL; }
const char* sd_bus_message_get_member(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_member(m) : NULL; }
const char* sd_bus_message_get_sender(sd_bus_message *m) { return loaded() ? fn.sd_bus_message_get_sender(m) : NULL; }
int sd_journal_open(sd_journal **ret, int flags) { return loaded() ? fn.sd_journal_open(ret, flags) : -ELIBACC; }
int sd_journal_open_directory(sd_journal **ret, const char *path, int flags) { return loaded() ? fn.sd_journal_open_directory(ret, path, flags) : -ELIBACC; }
void sd_journal_close(sd_journal *j) { if (loaded()) fn.sd_journal_close(j); }
int sd_journal_get_fd(sd_journal *j) { return loaded() ? fn.sd_journal_get_fd(j) : -ELIBACC; }
int sd_journal_get_events(sd_journal *j) { return loaded() ? fn.sd_journal_get_events(j) : -ELIBACC; }
int sd_journal_get_timeout(sd_journal *j, uint64_t *timeout_usec) { return loaded() ? fn.sd_journal_get_timeout(j, timeout_usec) : -ELIBACC; }
int sd_journal_process(sd_journal *j) { return loaded() ? fn.sd_journal_process(j) : -ELIBACC; }
int sd_journal_add_match(sd_journal *j, const void *data, size_t size) { return loaded() ? fn.sd_journal_add_match(j, data, size) : -ELIBACC; }
int sd_journal_add_disjunction(sd_journal *j) { return loaded() ? fn.sd_journal_add_disjunction(j) : -ELIBACC; }
void sd_journal_flush_matches(sd_journal *j) { if (loaded()) fn.sd_journal_flush_matches(j); }
int sd_journal_seek_head(sd_journal *j) { return loaded() ? fn.sd_journal_seek_head(j) : -ELIBACC; }
int sd_journal_seek_tail(sd_journal *j) { return loaded() ? fn.sd_journal_seek_tail(j) : -ELIBACC; }
int sd_journal_seek_realtime_usec(sd_journal *j, uint64_t usec) { return loaded() ? fn.sd_journal_seek_realtime_usec(j, usec) : -ELIBACC; }
int sd_journal_next(sd_journal *j) { return loaded() ? fn.sd_journal_next(j) : -ELIBACC; }
int sd_journal_previous_skip(sd_journal *j, uint64_t skip) { return loaded() ? fn.sd_journal_previous_skip(j, skip) : -ELIBACC; }
int sd_journal_get_realtime_usec(sd_journal *j, uint64_t *ret) { return loaded() ? fn.sd_journal_get_realtime_usec(j, ret) : -ELIBACC; }
int sd_journal_get_cursor(sd_journal *j, char **cursor) { return loaded() ? fn.sd_journal_get_cursor(j, cursor) : -ELIBACC; }
void sd_journal_restart_data(sd_journal *j) { if (loaded()) fn.sd_journal_restart_data(j); }
int sd_journal_enumerate_available_data(sd_journal *j, const void **data, size_t *l) { return loaded() ? fn.sd_journal_enumerate_available_data(j, data, l) : -ELIBACC; }
int sd_journal_query_unique(sd_journal *j, const char *field) { return loaded() ? fn.sd_journal_query_unique(j, field) : -ELIBACC; }
void sd_journal_restart_unique(sd_journal *j) { if (loaded()) fn.sd_journal_restart_unique(j); }
int sd_journal_enumerate_available_unique(sd_journal *j, const void **data, size_t *l) { return loaded() ? fn.sd_journal_enumerate_available_unique(j, data, l) : -ELIBACC; }
int sd_journal_sendv(const struct iovec *iov, int n) { return loaded() ? fn.sd_journal_sendv(iov, n) : -ELIBACC; }
int sd_notify(int unset_environment, const char *state) { return loaded() ? fn.sd_notify(unset_environment, state) : -ELIBACC; }
int sd_notify_barrier(int unset_environment, uint64_t timeout) { return loaded() ? fn.sd_notify_barrier(unset_environment, timeout) : -ELIBACC; }
