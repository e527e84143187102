#pragma once

// The contract of RevocationStore: the cases every implementation passes, so the in-memory
// store (which unit tests use) can never drift from RedisRevocationStore. The cases are TEST_P
// in revocation_store_contract.cc; each implementation's test binary links them and runs them on
// its own backend:
//
//   INSTANTIATE_TEST_SUITE_P(InMemory, RevocationStoreContract, ::testing::Values(&MakeBackend));

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/revocation.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace tally::testing {

class RevocationBackend {
 public:
  virtual ~RevocationBackend() = default;
  virtual RevocationStore& store() = 0;
  // What is left of the record at `key` (Redis: PTTL); NOT_FOUND when there is none.
  virtual absl::StatusOr<absl::Duration> TimeToLive(const std::string& key) = 0;
};

// A backend whose store takes its time from `clock` (Redis's own TTLs run in real time).
using RevocationBackendFactory = std::unique_ptr<RevocationBackend> (*)(const Clock& clock);

class RevocationStoreContract : public ::testing::TestWithParam<RevocationBackendFactory> {
 protected:
  void SetUp() override;

  RevocationStore& store() { return backend_->store(); }
  // A session of `user` in this test's directory issued at `issued_at` (default: now), for an
  // hour, in family `family` (empty: a token without one).
  SessionClaims Session(const std::string& session_id, const std::string& family = "",
                        std::optional<absl::Time> issued_at = std::nullopt,
                        const std::string& user = "usr_alice") const;
  bool Revoked(const SessionClaims& claims);
  // TimeToLive, with the slack of Redis's real-time clock for what the case took so far.
  void ExpectTimeToLive(const std::string& key, absl::Duration expected);

  // Whole milliseconds near the real time, so Redis's TTLs and the fake clock agree.
  FakeClock clock_{absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()))};
  std::unique_ptr<RevocationBackend> backend_;
  std::string dir_;
};

}  // namespace tally::testing
