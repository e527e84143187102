#include "services/orchestrator/trusted_devices.h"

#include <string>
#include <utility>

#include "common/auth/freshness.h"
#include "common/logging/logging.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace otppb = ::tally::otp::v1;
using ::tally::policy::v1::AuthSettings;

// The credential service's own limit on a device's name (it checks it too); checked here so a
// malformed request is refused before the login is read.
constexpr size_t kMaxDeviceNameBytes = 128;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("login");
  return logger;
}

// The directory's trusted_device_max_age as the credential service's requests carry it.
google::protobuf::Duration MaxAge(const AuthSettings& settings) {
  return ToProtoDuration(policy::TrustedDeviceMaxAge(settings));
}

}  // namespace

DeviceFactor::DeviceFactor(LoginCore& core, OtpPeer& otp) : core_(core), otp_(otp) {}

bool DeviceFactor::Completes(AuthMethod method) const {
  return method == cpb::AUTH_METHOD_TRUSTED_DEVICE;
}

void DeviceFactor::AlongWith(const LoginRecord& record, AuthMethod accepted,
                             absl::string_view user_id, const AuthSettings& settings,
                             absl::Time deadline, LoginUpdate& update) {
  // Rule 9: a device counts only alongside a password or a passkey; the token is checked then,
  // once, and dropped from the login whatever the answer.
  if (record.device_token.empty() || user_id.empty()) return;
  if (accepted != cpb::AUTH_METHOD_PASSWORD && accepted != cpb::AUTH_METHOD_PASSKEY) return;
  credpb::VerifyDeviceRequest request;
  request.set_directory_id(record.directory_id);
  request.set_user_id(std::string(user_id));
  request.set_device_token(record.device_token);
  *request.mutable_max_age() = MaxAge(settings);
  absl::StatusOr<credpb::Device> device = core_.credentials().VerifyDevice(request, deadline);
  if (!device.ok() && !absl::IsUnauthenticated(device.status())) {
    // The device is a convenience: the login goes on without it (another method still works).
    Log()->warn("remembered device of user {} not checked: {}", user_id,
                device.status().ToString());
  }
  update.device_trusted = device.ok();
}

absl::StatusOr<pb::RememberDeviceResponse> DeviceFactor::Remember(
    const pb::RememberDeviceRequest& request, absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("device_name", request.device_name(), kMaxDeviceNameBytes);
      !s.ok()) {
    return s;
  }
  if (HasControlCharacters(request.device_name())) {
    return absl::InvalidArgumentError("device_name must not contain control characters");
  }
  // Within the login's TTL (Load: NOT_FOUND after it), and only once it has succeeded.
  absl::StatusOr<LoginRecord> login = core_.Load(request.login_id());
  if (!login.ok()) return login.status();
  if (!login->finished()) return absl::FailedPreconditionError("the login has not succeeded");
  // One device per login: the login id is less guarded than the session token (GetLogin answers
  // anyone holding it), so whoever sees it later must not mint a device of their own.
  absl::StatusOr<bool> claimed = core_.logins().ClaimDeviceRemembering(request.login_id());
  if (!claimed.ok()) return claimed.status();
  if (!*claimed) {
    return absl::FailedPreconditionError("a device was already remembered for this login");
  }
  absl::StatusOr<AuthSettings> settings =
      core_.policy().GetAuthSettings(login->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  credpb::CreateDeviceRequest create;
  create.set_directory_id(login->directory_id);
  create.set_user_id(login->user_id);
  create.set_device_name(request.device_name());
  *create.mutable_max_age() = MaxAge(*settings);
  absl::StatusOr<credpb::CreateDeviceResponse> created =
      core_.credentials().CreateDevice(create, deadline);
  if (!created.ok()) return created.status();
  Log()->info("remembered device {} for user {} in directory {}", created->device().device_id(),
              login->user_id, login->directory_id);
  Notify(*login, deadline);
  pb::RememberDeviceResponse response;
  response.set_device_token(created->device_token());
  response.set_device_id(created->device().device_id());
  *response.mutable_expire_time() = created->device().expire_time();
  return response;
}

void DeviceFactor::Notify(const LoginRecord& login, absl::Time deadline) {
  absl::StatusOr<credpb::User> user = core_.credentials().GetUser(login.user_id, deadline);
  if (!user.ok()) {
    Log()->warn("no device notice for user {}: {}", login.user_id, user.status().ToString());
    return;
  }
  if (user->email().empty()) return;
  otppb::SendNoticeRequest notice;
  notice.set_directory_id(login.directory_id);
  notice.set_channel(otppb::CHANNEL_EMAIL);
  notice.set_destination(user->email());
  notice.set_kind(otppb::NOTICE_DEVICE_REMEMBERED);
  // The device is remembered either way: a notice that cannot go is logged, not answered.
  if (absl::Status s = otp_.SendNotice(notice, deadline); !s.ok()) {
    Log()->warn("device notice to user {} not sent: {}", login.user_id, s.ToString());
  }
}

UserDevices::UserDevices(CredentialPeer& credentials, PolicyPeer& policy)
    : credentials_(credentials), policy_(policy) {}

absl::Status UserDevices::Authorize(const Caller& caller, absl::string_view user_id,
                                    absl::Time deadline) {
  // A token names its directory: the user must be in it, whoever asks.
  const std::string& directory_id = caller.claims.directory_id;
  const std::string user(user_id);
  if (absl::Status s = RequireSelfOrAdmin(caller, directory_id, user); !s.ok()) return s;
  if (absl::Status s = CheckId("user_id", user); !s.ok()) return s;
  if (caller.IsUser(user)) return absl::OkStatus();
  // An admin: someone of the admin's own directory.
  absl::StatusOr<credpb::User> found = credentials_.GetUser(user, deadline);
  if (absl::IsNotFound(found.status()) || (found.ok() && found->directory_id() != directory_id)) {
    return absl::NotFoundError("unknown user");
  }
  return found.status();
}

absl::StatusOr<pb::ListTrustedDevicesResponse> UserDevices::ListTrustedDevices(
    const Caller& caller, const pb::ListTrustedDevicesRequest& request, absl::Time deadline) {
  if (absl::Status s = Authorize(caller, request.user_id(), deadline); !s.ok()) return s;
  const std::string& directory_id = caller.claims.directory_id;
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(directory_id, deadline);
  if (!settings.ok()) return settings.status();
  credpb::ListDevicesRequest list;
  list.set_directory_id(directory_id);
  list.set_user_id(request.user_id());
  *list.mutable_max_age() = MaxAge(*settings);
  absl::StatusOr<credpb::ListDevicesResponse> devices = credentials_.ListDevices(list, deadline);
  if (!devices.ok()) return devices.status();
  pb::ListTrustedDevicesResponse response;
  for (const credpb::Device& device : devices->devices()) {
    pb::TrustedDevice* shown = response.add_devices();
    shown->set_device_id(device.device_id());
    shown->set_device_name(device.device_name());
    *shown->mutable_create_time() = device.create_time();
    if (device.has_last_used_time()) *shown->mutable_last_used_time() = device.last_used_time();
    *shown->mutable_expire_time() = device.expire_time();
  }
  return response;
}

absl::StatusOr<pb::ForgetDeviceResponse> UserDevices::ForgetDevice(
    const Caller& caller, const pb::ForgetDeviceRequest& request, absl::Time deadline) {
  if (absl::Status s = Authorize(caller, request.user_id(), deadline); !s.ok()) return s;
  if (absl::Status s = CheckId("device_id", request.device_id()); !s.ok()) return s;
  // The user's own ForgetDevice needs a fresh token (API.md); an admin's does not.
  if (caller.IsUser(request.user_id())) {
    if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  }
  credpb::DeleteDeviceRequest forget;
  forget.set_directory_id(caller.claims.directory_id);
  forget.set_user_id(request.user_id());
  forget.set_device_id(request.device_id());
  if (absl::Status s = credentials_.DeleteDevice(forget, deadline); !s.ok()) return s;
  Log()->info("forgot device {} of user {} in directory {}", request.device_id(),
              request.user_id(), caller.claims.directory_id);
  return pb::ForgetDeviceResponse();
}

}  // namespace tally::orchestrator
