#pragma once

#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/policy/points.h"
#include "services/policy/policy_store.h"
#include "tally/policy/v1/policy.pb.h"

namespace tally::policy {

namespace pb = ::tally::policy::v1;

// The policy service's logic: who may do what (API.md), input validation, tier defaults, etags
// and the audit trail. Free of gRPC so it is tested with a fake store and a fake clock.
class PolicyManager {
 public:
  PolicyManager(PolicyStore& store, const Clock& clock, RandomSource& random);

  absl::StatusOr<pb::CreateDirectoryResponse> CreateDirectory(
      const Caller& caller, const pb::CreateDirectoryRequest& request);
  absl::StatusOr<pb::GetDirectoryResponse> GetDirectory(const Caller& caller,
                                                        const pb::GetDirectoryRequest& request);
  absl::StatusOr<pb::ListDirectoriesResponse> ListDirectories(
      const Caller& caller, const pb::ListDirectoriesRequest& request);

  absl::StatusOr<pb::GetAuthSettingsResponse> GetAuthSettings(
      const Caller& caller, const pb::GetAuthSettingsRequest& request);
  absl::StatusOr<pb::UpdateAuthSettingsResponse> UpdateAuthSettings(
      const Caller& caller, const pb::UpdateAuthSettingsRequest& request);
  absl::StatusOr<pb::EvaluateResponse> Evaluate(const Caller& caller,
                                                const pb::EvaluateRequest& request);
  absl::StatusOr<pb::ListAuditEventsResponse> ListAuditEvents(
      const Caller& caller, const pb::ListAuditEventsRequest& request);

 private:
  std::string NewEtag();

  PolicyStore& store_;
  const Clock& clock_;
  RandomSource& random_;
};

}  // namespace tally::policy
