#include "services/credential/bounded_hasher.h"

#include <array>
#include <chrono>

#include "common/util/text.h"

namespace tally::credential {
namespace {

// Runs `fn` as one measured Argon2id run.
template <typename Fn>
auto Measured(CredentialMetrics& metrics, std::string_view operation, Fn fn) {
  metrics.in_flight().Increment();
  const auto start = std::chrono::steady_clock::now();
  auto result = fn();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  metrics.in_flight().Decrement();
  metrics.RecordHash(operation, elapsed.count());
  return result;
}

}  // namespace

absl::StatusOr<BoundedHasher> BoundedHasher::Create(const PasswordHasher& hasher,
                                                    HashLimiter& limiter,
                                                    CredentialMetrics& metrics) {
  std::array<uint8_t, 32> secret;
  CsprngRandom::Get().Fill(absl::MakeSpan(secret));
  const std::string password = Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()));
  absl::StatusOr<std::string> dummy = hasher.Hash(password);
  if (!dummy.ok()) return dummy.status();
  return BoundedHasher(hasher, limiter, metrics, *std::move(dummy));
}

absl::StatusOr<std::string> BoundedHasher::Hash(std::string_view password, absl::Time deadline) {
  absl::StatusOr<HashLimiter::Slot> slot = limiter_->Acquire(deadline);
  if (!slot.ok()) return slot.status();
  return Measured(*metrics_, "hash", [&] { return hasher_->Hash(password); });
}

absl::StatusOr<BoundedHasher::Checked> BoundedHasher::Verify(std::string_view encoded,
                                                             std::string_view password,
                                                             absl::Time deadline) {
  absl::StatusOr<HashLimiter::Slot> slot = limiter_->Acquire(deadline);
  if (!slot.ok()) return slot.status();
  absl::StatusOr<PasswordHasher::Verdict> verdict =
      Measured(*metrics_, "verify", [&] { return hasher_->Verify(encoded, password); });
  if (!verdict.ok()) return verdict.status();
  Checked checked;
  checked.match = verdict->match;
  if (verdict->match && verdict->needs_rehash) {
    absl::StatusOr<std::string> fresh =
        Measured(*metrics_, "hash", [&] { return hasher_->Hash(password); });
    if (fresh.ok()) checked.rehashed = *std::move(fresh);  // else: keep the old hash for now
  }
  return checked;
}

absl::Status BoundedHasher::VerifyAgainstDummy(std::string_view password, absl::Time deadline) {
  absl::StatusOr<Checked> checked = Verify(dummy_, password, deadline);
  return checked.status();
}

}  // namespace tally::credential
