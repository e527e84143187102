#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/hash_limiter.h"
#include "services/credential/password_hasher.h"

namespace tally::credential {

// Every Argon2id run of the service goes through here: each takes a HashLimiter slot (or fails
// with RESOURCE_EXHAUSTED) and is measured. All referenced objects must outlive it.
class BoundedHasher {
 public:
  // Computes the dummy hash (one Argon2id run with the current parameters); INTERNAL if
  // libargon2 fails.
  static absl::StatusOr<BoundedHasher> Create(const PasswordHasher& hasher, HashLimiter& limiter,
                                              CredentialMetrics& metrics);

  // A new PHC string for `password`. Each call below waits for a HashLimiter slot only while
  // its answer can still be ready by `deadline` (RESOURCE_EXHAUSTED otherwise).
  absl::StatusOr<std::string> Hash(std::string_view password,
                                   absl::Time deadline = absl::InfiniteFuture());

  struct Checked {
    bool match = false;
    // Set when the password matched a hash with outdated parameters: its hash with the current
    // ones, computed in the same slot (a login that succeeded is never refused afterwards).
    std::string rehashed;
  };
  // Checks `password` against the stored PHC string.
  absl::StatusOr<Checked> Verify(std::string_view encoded, std::string_view password,
                                 absl::Time deadline = absl::InfiniteFuture());
  // OK when a hash asked for now would run or queue (HashLimiter::Admits): lets a caller shed
  // a refused check before the look-ups that come first.
  absl::Status Admits(absl::Time deadline = absl::InfiniteFuture()) const {
    return limiter_->Admits(deadline);
  }
  // The same Argon2id work against a hash no password matches, for unknown users and users
  // without a password: they cost the same time as a wrong password.
  absl::Status VerifyAgainstDummy(std::string_view password,
                                  absl::Time deadline = absl::InfiniteFuture());

 private:
  BoundedHasher(const PasswordHasher& hasher, HashLimiter& limiter, CredentialMetrics& metrics,
                std::string dummy)
      : hasher_(&hasher), limiter_(&limiter), metrics_(&metrics), dummy_(std::move(dummy)) {}

  const PasswordHasher* hasher_;
  HashLimiter* limiter_;
  CredentialMetrics* metrics_;
  std::string dummy_;  // PHC string of a random password nobody knows
};

}  // namespace tally::credential
