#pragma once

// Remembered devices (AUTH_METHOD_TRUSTED_DEVICE, DESIGN.md §1 rule 9): the store behind the
// orchestrator's device RPCs. Tokens are kept only as their SHA-256; every method is one atomic
// step; store failures are UNAVAILABLE.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

using ::tally::credential::v1::Device;

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  // Stores `device` (expire_time is not stored: it follows the directory's current setting)
  // with its token's hash. NOT_FOUND when the user is gone.
  virtual absl::Status CreateDevice(const Device& device, absl::string_view token_hash) = 0;
  // The device of this directory and user whose token hashes to `token_hash` and that was
  // created after `created_after`, with last_used_time set to `now`. NOT_FOUND for anything
  // else, whatever the reason.
  virtual absl::StatusOr<Device> UseDevice(absl::string_view directory_id,
                                           absl::string_view user_id,
                                           absl::string_view token_hash,
                                           absl::Time created_after, absl::Time now) = 0;
  // The user's devices created after `created_after`, newest first.
  virtual absl::StatusOr<std::vector<Device>> ListDevices(absl::string_view directory_id,
                                                          absl::string_view user_id,
                                                          absl::Time created_after) = 0;
  // NOT_FOUND when the user has no such device.
  virtual absl::Status DeleteDevice(absl::string_view directory_id, absl::string_view user_id,
                                    absl::string_view device_id) = 0;
};

}  // namespace tally::credential
