#pragma once

// The credential service's password hashing as one piece built from its configuration: the
// Argon2id working buffers, the hasher, the concurrency limit and the bounded hasher every
// hash goes through (their lifetimes are tied, each refers to the ones before it).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/util/random.h"
#include "services/credential/argon2_buffers.h"
#include "services/credential/bounded_hasher.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/hash_limiter.h"
#include "services/credential/password_hasher.h"

namespace tally::credential {

struct PasswordHashingOptions {
  Argon2Params argon2;
  int max_concurrent_hashes = 1;  // hashes running at once, and so buffers preallocated
  int hash_queue_size = 0;        // hashes waiting for a slot
};

class PasswordHashing {
 public:
  // One working buffer per hash that may run: the service's Argon2 memory stays at
  // max_concurrent_hashes × m from start to end. INTERNAL if libargon2 fails on the first
  // (dummy) hash.
  static absl::StatusOr<std::unique_ptr<PasswordHashing>> Create(
      const PasswordHashingOptions& options, RandomSource& random, CredentialMetrics& metrics);

  PasswordHashing(const PasswordHashing&) = delete;
  PasswordHashing& operator=(const PasswordHashing&) = delete;

  BoundedHasher& hasher() { return *bounded_; }
  // For the start-up log: the parameters, the limits and the buffers preallocated.
  std::string Describe() const;

 private:
  PasswordHashing(const PasswordHashingOptions& options, RandomSource& random);

  const PasswordHashingOptions options_;
  Argon2Buffers buffers_;
  PasswordHasher hasher_;
  HashLimiter limiter_;
  std::unique_ptr<BoundedHasher> bounded_;
};

}  // namespace tally::credential
