#include "services/credential/password_hashing.h"

#include "absl/strings/str_format.h"

namespace tally::credential {

PasswordHashing::PasswordHashing(const PasswordHashingOptions& options, RandomSource& random)
    : options_(options),
      buffers_(options.max_concurrent_hashes, size_t{options.argon2.memory_kib} * 1024),
      hasher_(options.argon2, random, &buffers_),
      limiter_(options.max_concurrent_hashes, options.hash_queue_size) {}

absl::StatusOr<std::unique_ptr<PasswordHashing>> PasswordHashing::Create(
    const PasswordHashingOptions& options, RandomSource& random, CredentialMetrics& metrics) {
  std::unique_ptr<PasswordHashing> hashing(new PasswordHashing(options, random));
  absl::StatusOr<BoundedHasher> bounded =
      BoundedHasher::Create(hashing->hasher_, hashing->limiter_, metrics);
  if (!bounded.ok()) return bounded.status();
  hashing->bounded_ = std::make_unique<BoundedHasher>(*std::move(bounded));
  return hashing;
}

std::string PasswordHashing::Describe() const {
  return absl::StrFormat(
      "Argon2id m=%d KiB, t=%d, p=%d; at most %d at once, %d waiting; %d buffers preallocated",
      options_.argon2.memory_kib, options_.argon2.iterations, options_.argon2.parallelism,
      options_.max_concurrent_hashes, options_.hash_queue_size, buffers_.count());
}

}  // namespace tally::credential
