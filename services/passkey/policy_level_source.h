#pragma once

#include <memory>

#include "absl/time/time.h"
#include "services/passkey/passkey_store.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::passkey {

// The directory's required level from the policy service (PolicyService.GetAuthSettings, as a
// cluster caller), with a deadline on every call.
class PolicyLevelSource final : public RequiredLevelSource {
 public:
  PolicyLevelSource(std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> stub,
                    absl::Duration timeout);

  absl::StatusOr<int> RequiredLevel(absl::string_view directory_id) override;

 private:
  std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> stub_;
  absl::Duration timeout_;
};

}  // namespace tally::passkey
