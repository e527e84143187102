#include "services/credential/device_manager.h"

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/util/crypto.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"

namespace tally::credential {
namespace {

constexpr size_t kTokenBytes = 32;
// Longer "tokens" are not ours; they are hashed no further than this.
constexpr size_t kMaxTokenChars = 512;
constexpr size_t kMaxDeviceNameBytes = 128;

std::string TokenHash(absl::string_view token) { return HexEncode(Sha256(token)); }

absl::Status CheckIds(const std::string& directory_id, const std::string& user_id) {
  if (absl::Status s = CheckId("directory_id", directory_id); !s.ok()) return s;
  return CheckId("user_id", user_id);
}

void SetExpiry(pb::Device& device, absl::Duration max_age) {
  *device.mutable_expire_time() = ToProtoTime(FromProtoTime(device.create_time()) + max_age);
}

}  // namespace

absl::StatusOr<absl::Duration> DeviceMaxAge(const google::protobuf::Duration& max_age,
                                            bool present) {
  if (!present) return absl::Hours(24 * 30);
  const absl::Duration d = FromProtoDuration(max_age);
  if (d < absl::Seconds(1) || d > absl::Hours(24 * 400)) {
    return absl::InvalidArgumentError("max_age must be between 1s and 400 days");
  }
  return d;
}

DeviceManager::DeviceManager(DeviceStore& store, const Clock& clock, RandomSource& random)
    : store_(store), clock_(clock), random_(random) {}

absl::StatusOr<pb::CreateDeviceResponse> DeviceManager::CreateDevice(
    const Caller& /*cluster: orchestrator*/, const pb::CreateDeviceRequest& request) {
  if (absl::Status s = CheckIds(request.directory_id(), request.user_id()); !s.ok()) return s;
  const std::string& name = request.device_name();
  if (name.size() > kMaxDeviceNameBytes || !IsValidUtf8(name) || HasControlCharacters(name)) {
    return absl::InvalidArgumentError(absl::StrCat("device_name must be at most ",
                                                   kMaxDeviceNameBytes,
                                                   " bytes of UTF-8 without control characters"));
  }
  absl::StatusOr<absl::Duration> max_age = DeviceMaxAge(request.max_age(), request.has_max_age());
  if (!max_age.ok()) return max_age.status();

  std::string token_bytes(kTokenBytes, '\0');
  random_.Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(token_bytes.data()), kTokenBytes));
  const std::string token = Base64UrlEncode(token_bytes);
  pb::CreateDeviceResponse response;
  pb::Device& device = *response.mutable_device();
  device.set_device_id(NewId(random_, "dev_"));
  device.set_directory_id(request.directory_id());
  device.set_user_id(request.user_id());
  device.set_device_name(name);
  // PostgreSQL keeps microseconds: the answer must equal what a later read returns.
  *device.mutable_create_time() =
      ToProtoTime(absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now())));
  if (absl::Status s = store_.CreateDevice(device, TokenHash(token)); !s.ok()) return s;
  SetExpiry(device, *max_age);
  response.set_device_token(token);
  GetLogger("credential")
      ->info("remembered device {} for user {}", device.device_id(), device.user_id());
  return response;
}

absl::StatusOr<pb::VerifyDeviceResponse> DeviceManager::VerifyDevice(
    const Caller& /*cluster: orchestrator*/, const pb::VerifyDeviceRequest& request) {
  if (absl::Status s = CheckIds(request.directory_id(), request.user_id()); !s.ok()) return s;
  absl::StatusOr<absl::Duration> max_age = DeviceMaxAge(request.max_age(), request.has_max_age());
  if (!max_age.ok()) return max_age.status();
  const absl::string_view token =
      absl::string_view(request.device_token()).substr(0, kMaxTokenChars);
  const absl::Time now = clock_.Now();
  absl::StatusOr<pb::Device> device = store_.UseDevice(request.directory_id(), request.user_id(),
                                                       TokenHash(token), now - *max_age, now);
  if (absl::IsNotFound(device.status())) return absl::UnauthenticatedError("no device");
  if (!device.ok()) return device.status();
  SetExpiry(*device, *max_age);
  pb::VerifyDeviceResponse response;
  *response.mutable_device() = *std::move(device);
  return response;
}

absl::StatusOr<pb::ListDevicesResponse> DeviceManager::ListDevices(
    const Caller& /*cluster: orchestrator*/, const pb::ListDevicesRequest& request) {
  if (absl::Status s = CheckIds(request.directory_id(), request.user_id()); !s.ok()) return s;
  absl::StatusOr<absl::Duration> max_age = DeviceMaxAge(request.max_age(), request.has_max_age());
  if (!max_age.ok()) return max_age.status();
  absl::StatusOr<std::vector<pb::Device>> devices =
      store_.ListDevices(request.directory_id(), request.user_id(), clock_.Now() - *max_age);
  if (!devices.ok()) return devices.status();
  pb::ListDevicesResponse response;
  for (pb::Device& device : *devices) {
    SetExpiry(device, *max_age);
    *response.add_devices() = std::move(device);
  }
  return response;
}

absl::StatusOr<pb::DeleteDeviceResponse> DeviceManager::DeleteDevice(
    const Caller& /*cluster: orchestrator*/, const pb::DeleteDeviceRequest& request) {
  if (absl::Status s = CheckIds(request.directory_id(), request.user_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("device_id", request.device_id()); !s.ok()) return s;
  if (absl::Status s =
          store_.DeleteDevice(request.directory_id(), request.user_id(), request.device_id());
      !s.ok()) {
    return s;
  }
  GetLogger("credential")
      ->info("forgot device {} of user {}", request.device_id(), request.user_id());
  return pb::DeleteDeviceResponse();
}

}  // namespace tally::credential
