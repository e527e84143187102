#pragma once

// One outgoing call to another Tally service, the way every service's peers make it: at most
// a per-call timeout, never past the caller's deadline, idempotent reads retried while the
// peer is UNAVAILABLE, and the peer's answer mapped so that only the codes the caller expects
// pass through (anything else is the dependency failing: UNAVAILABLE "<peer> service
// unavailable"). Used by the orchestrator's and the credential service's gRPC peers.

#include <algorithm>
#include <initializer_list>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status/grpc_status.h"

namespace tally {

struct PeerCallOptions {
  // The longest one outgoing call may take; the caller's deadline shortens it.
  absl::Duration timeout = absl::Seconds(2);
  // Tries of an idempotent read while the peer answers UNAVAILABLE (writes are tried once).
  int read_attempts = 3;
  // Pause between those tries.
  absl::Duration retry_backoff = absl::Milliseconds(50);
};

// `call(grpc::ClientContext*)` makes the call and returns its grpc::Status. The peer's error
// details (ErrorInfo, RetryInfo) survive for the codes in `expected`.
template <typename Call>
absl::Status CallPeer(absl::string_view peer, const PeerCallOptions& options, absl::Time deadline,
                      bool idempotent, std::initializer_list<absl::StatusCode> expected,
                      Call call) {
  const int attempts = idempotent ? std::max(1, options.read_attempts) : 1;
  absl::Status status;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    const absl::Time now = absl::Now();
    const absl::Time call_deadline = std::min(deadline, now + options.timeout);
    if (call_deadline <= now) {
      status = absl::DeadlineExceededError("deadline passed");
      break;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(call_deadline));
    status = FromGrpcStatus(call(&context));
    if (status.ok()) return status;
    if (status.code() != absl::StatusCode::kUnavailable || attempt == attempts) break;
    if (absl::Now() + options.retry_backoff >= deadline) break;
    absl::SleepFor(options.retry_backoff);
  }
  for (absl::StatusCode code : expected) {
    if (status.code() == code) return status;
  }
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::UnavailableError(absl::StrCat(peer, " service unavailable"));
  }
  // Anything else means our call was refused or broke: to our caller the peer is unavailable.
  return absl::UnavailableError(absl::StrCat(peer, " service unavailable (it answered ",
                                             absl::StatusCodeToString(status.code()), ")"));
}

}  // namespace tally
