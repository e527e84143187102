#pragma once

// The contract of LoginStore and LockoutStore: the cases every implementation passes, so the
// in-memory fake (which LoginManager's unit tests use) can never drift from the Redis stores.
// login_store_contract.cc defines the cases (TEST_P); each implementation's test binary links
// it and runs them on its own backend:
//
//   INSTANTIATE_TEST_SUITE_P(InMemory, LoginStoreContract, ::testing::Values(&MakeBackend));

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/orchestrator/login_store.h"

namespace tally::orchestrator::testing {

// One implementation of both stores with the default LockoutPolicy, and what the cases read
// beside the interfaces.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  virtual LoginStore& logins() = 0;
  virtual LockoutStore& lockout() = 0;
  // With kContractStartLimits.
  virtual StartLimiter& start_limiter() = 0;
  // Operations that reached the store so far: each is one atomic step (Redis: one round trip,
  // script reloads aside).
  virtual int64_t Operations() = 0;
  // Reservations of `subject` held (Redis: ZCARD of the pending set).
  virtual int PendingChecks(absl::string_view directory_id, absl::string_view subject) = 0;
  // The subject's consecutive failures; 0 when none are recorded.
  virtual int Failures(absl::string_view directory_id, absl::string_view subject) = 0;
  // What is left of the login's TTL; NOT_FOUND when it is gone.
  virtual absl::StatusOr<absl::Duration> TimeToLive(absl::string_view login_id) = 0;
};

inline constexpr StartLimits kContractStartLimits{.per_client_per_minute = 3,
                                                  .per_directory_per_minute = 5};

// Makes a backend whose TTLs run from `now` (the cases' "now"; Redis's own clock is real time).
using StoreBackendFactory = std::unique_ptr<StoreBackend> (*)(absl::Time now);

class LoginStoreContract : public ::testing::TestWithParam<StoreBackendFactory> {
 protected:
  void SetUp() override;

  LoginStore& logins() { return backend_->logins(); }
  LockoutStore& lockout() { return backend_->lockout(); }
  StoreBackend& backend() { return *backend_; }
  // A login of alice (u:usr_1) in this test's directory, created now_.
  LoginRecord NewRecord();

  std::unique_ptr<StoreBackend> backend_;
  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1900000000);
};

}  // namespace tally::orchestrator::testing
