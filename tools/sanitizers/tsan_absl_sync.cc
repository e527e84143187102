// ThreadSanitizer and Debian's Abseil.
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread, so TSan cannot see
// absl::Mutex, absl::CondVar or absl::Notification synchronize (they are atomics and futexes in
// uninstrumented code). Every variable our code guards with an absl::Mutex would then look
// unsynchronized and be reported as a data race: noise that would hide real races, and that a
// suppression could only silence by naming our own functions.
//
// Instead, this file (linked into every test binary of the TSan tree, never elsewhere) gives TSan
// what an instrumented Abseil would: it defines the out-of-line synchronization entry points our
// code calls, forwards each to the real one in the shared library (dlsym RTLD_NEXT) and tells TSan
// about the happens-before edge with __tsan_acquire/__tsan_release on the object's address:
// unlock and wait release, lock and wake-up acquire. Conditions (Await, LockWhen) are evaluated by
// whichever thread holds the mutex at the time, so each evaluation is wrapped to acquire and
// release the mutex as well. The model is only the ordering a mutex guarantees; it adds none of
// its own, so a race in our code still shows up.

#if !defined(__SANITIZE_THREAD__) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#ifndef __SANITIZE_THREAD__
#error "tsan_absl_sync.cc belongs in the ThreadSanitizer tree only (-DTALLY_SANITIZE=thread)"
#endif

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#define TALLY_STR2(x) #x
#define TALLY_STR(x) TALLY_STR2(x)

namespace {

// "_ZN4absl<len><inline namespace>" or "_ZNK..." for const members, then `rest` (Itanium ABI).
void* Real(const char* rest, bool is_const = false) {
  const char* ns = TALLY_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(is_const ? "_ZNK4absl" : "_ZN4absl") +
                           std::to_string(std::strlen(ns)) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in the Abseil libraries\n", name.c_str());
    std::abort();
  }
  return fn;
}

// Resolved once per entry point; the lookup itself may run on any thread first.
#define TALLY_REAL(type, rest, ...)                                    \
  static const auto real = reinterpret_cast<type>(Real(rest, ##__VA_ARGS__))

struct Guarded {
  const absl::Condition* condition;
  absl::Mutex* mu;
};

// Runs with `mu` held by the evaluating thread, whichever that is.
bool EvalGuarded(Guarded* g) {
  __tsan_acquire(g->mu);
  const bool result = g->condition->Eval();
  __tsan_release(g->mu);
  return result;
}

// Notification keeps its flag right after its mutex; HasBeenNotified() reads it inline, in our
// (instrumented) code, so Notify must release that address too.
static_assert(sizeof(absl::Notification) == 2 * sizeof(absl::Mutex),
              "absl::Notification layout changed: update tsan_absl_sync.cc");
void* NotifiedFlag(const absl::Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n)) + sizeof(absl::Mutex);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  TALLY_REAL(void (*)(Mutex*), "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  TALLY_REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  TALLY_REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  TALLY_REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  TALLY_REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  TALLY_REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::Await(const Condition& cond) {
  TALLY_REAL(void (*)(Mutex*, const Condition*), "5Mutex5AwaitERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  __tsan_release(this);
  real(this, &wrapped);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Duration),
             "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  __tsan_release(this);
  const bool result = real(this, &wrapped, timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Time),
             "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  __tsan_release(this);
  const bool result = real(this, &wrapped, deadline);
  __tsan_acquire(this);
  return result;
}

void Mutex::LockWhen(const Condition& cond) {
  TALLY_REAL(void (*)(Mutex*, const Condition*), "5Mutex8LockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  real(this, &wrapped);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  TALLY_REAL(void (*)(Mutex*, const Condition*), "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  real(this, &wrapped);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Duration),
             "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  const bool result = real(this, &wrapped, timeout);
  __tsan_acquire(this);  // held either way
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Time),
             "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  const bool result = real(this, &wrapped, deadline);
  __tsan_acquire(this);
  return result;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Duration),
             "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  const bool result = real(this, &wrapped, timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  TALLY_REAL(bool (*)(Mutex*, const Condition*, absl::Time),
             "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded g{&cond, this};
  const Condition wrapped(&EvalGuarded, &g);
  const bool result = real(this, &wrapped, deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  TALLY_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  TALLY_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
             "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = real(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  TALLY_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
             "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = real(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

void Notification::Notify() {
  TALLY_REAL(void (*)(Notification*), "12Notification6NotifyEv");
  __tsan_release(this);
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  TALLY_REAL(void (*)(const Notification*), "12Notification19WaitForNotificationEv", true);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  TALLY_REAL(bool (*)(const Notification*, absl::Duration),
             "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  TALLY_REAL(bool (*)(const Notification*, absl::Time),
             "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
