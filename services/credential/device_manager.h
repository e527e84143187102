#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/credential/device_store.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

namespace pb = ::tally::credential::v1;

// Remembered devices (issue 22): the store behind LoginService.RememberDevice,
// StartLoginRequest.device_token and SessionService.ListTrustedDevices / ForgetDevice, all
// cluster calls from the orchestrator.
//
// A token is 256 random bits, base64url, returned once; only its SHA-256 is stored. A fast hash
// is enough (and Argon2 would be wrong): the token is random, not chosen by a person, so there
// is no dictionary to try and 2^256 preimages to search; a slow hash protects only guessable
// secrets and would make every login with a device pay for nothing. The hash is also the index
// a token is looked up by.
//
// A device counts for the directory's CURRENT trusted_device_max_age, which each request
// carries (the orchestrator reads it from policy): expiry is create_time + max_age at the time
// of asking, so shortening the setting shortens devices already remembered.
class DeviceManager {
 public:
  DeviceManager(DeviceStore& store, const Clock& clock, RandomSource& random);

  absl::StatusOr<pb::CreateDeviceResponse> CreateDevice(const Caller& caller,
                                                        const pb::CreateDeviceRequest& request);
  // Another user's, an expired, a forgotten and a garbage token get one answer:
  // UNAUTHENTICATED "no device", from the same single query.
  absl::StatusOr<pb::VerifyDeviceResponse> VerifyDevice(const Caller& caller,
                                                        const pb::VerifyDeviceRequest& request);
  absl::StatusOr<pb::ListDevicesResponse> ListDevices(const Caller& caller,
                                                      const pb::ListDevicesRequest& request);
  absl::StatusOr<pb::DeleteDeviceResponse> DeleteDevice(const Caller& caller,
                                                        const pb::DeleteDeviceRequest& request);

 private:
  DeviceStore& store_;
  const Clock& clock_;
  RandomSource& random_;
};

// trusted_device_max_age as a request carries it: unset = 30 days; 1 s to 400 days.
absl::StatusOr<absl::Duration> DeviceMaxAge(const google::protobuf::Duration& max_age,
                                            bool present);

}  // namespace tally::credential
