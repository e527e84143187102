#include "services/orchestrator/testing/fake_peers.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/util/proto_time.h"

namespace tally::orchestrator::testing {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;

// ---------------------------------------------------------------------------------------------
// Policy

absl::StatusOr<polpb::AuthSettings> FakePolicy::GetAuthSettings(absl::string_view directory_id,
                                                                absl::Time) {
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return status_;
  auto it = settings_.find(std::string(directory_id));
  if (it == settings_.end()) return absl::NotFoundError("unknown directory");
  return it->second;
}

void FakePolicy::Set(const std::string& directory_id, polpb::AuthSettings settings) {
  absl::MutexLock lock(&mu_);
  settings.set_directory_id(directory_id);
  settings_[directory_id] = std::move(settings);
}

void FakePolicy::SetStatus(absl::Status status) {
  absl::MutexLock lock(&mu_);
  status_ = std::move(status);
}

polpb::AuthSettings Settings(int required, int password, int sms, int email, int passkey) {
  polpb::AuthSettings s;
  s.set_required_level(required);
  for (auto [method, points] :
       std::vector<std::pair<cpb::AuthMethod, int>>{{cpb::AUTH_METHOD_PASSWORD, password},
                                                    {cpb::AUTH_METHOD_SMS_OTP, sms},
                                                    {cpb::AUTH_METHOD_EMAIL_OTP, email},
                                                    {cpb::AUTH_METHOD_PASSKEY, passkey}}) {
    cpb::MethodPoints* mp = s.add_method_points();
    mp->set_method(method);
    mp->set_points(points);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Credentials

void FakeCredentials::Add(const std::string& directory_id, const std::string& user_id,
                          const std::string& username, const std::string& password,
                          const std::string& phone, const std::string& email,
                          std::vector<std::string> roles) {
  absl::MutexLock lock(&mu_);
  credpb::User u;
  u.set_user_id(user_id);
  u.set_directory_id(directory_id);
  u.set_username(username);
  u.set_phone_number(phone);
  u.set_email(email);
  u.set_has_password(!password.empty());
  for (const std::string& r : roles) u.add_roles(r);
  users_[user_id] = u;
  passwords_[user_id] = password;
  by_name_[directory_id + "/" + absl::AsciiStrToLower(username)] = user_id;
}

absl::StatusOr<credpb::User> FakeCredentials::FindUser(absl::string_view directory_id,
                                                       absl::string_view username, absl::Time) {
  absl::MutexLock lock(&mu_);
  auto it = by_name_.find(absl::StrCat(directory_id, "/", absl::AsciiStrToLower(username)));
  if (it == by_name_.end()) return absl::NotFoundError("no such user");
  return users_.at(it->second);
}

absl::StatusOr<credpb::User> FakeCredentials::GetUser(absl::string_view user_id, absl::Time) {
  get_user_calls++;
  absl::MutexLock lock(&mu_);
  auto it = users_.find(std::string(user_id));
  if (it == users_.end()) return absl::NotFoundError("no such user");
  return it->second;
}

absl::StatusOr<credpb::User> FakeCredentials::VerifyPassword(absl::string_view directory_id,
                                                             absl::string_view username,
                                                             absl::string_view password,
                                                             absl::Time) {
  verify_calls++;
  absl::MutexLock lock(&mu_);
  if (!verify_status.ok()) return verify_status;
  auto it = by_name_.find(absl::StrCat(directory_id, "/", absl::AsciiStrToLower(username)));
  if (it == by_name_.end() || passwords_.at(it->second).empty() ||
      passwords_.at(it->second) != password) {
    return absl::UnauthenticatedError("wrong username or password");
  }
  return users_.at(it->second);
}

void FakeCredentials::SetTotpCode(const std::string& user_id, const std::string& code) {
  absl::MutexLock lock(&mu_);
  totp_codes_[user_id] = code;
  users_.at(user_id).set_has_totp(true);
}

void FakeCredentials::SetRecoveryCodes(const std::string& user_id,
                                       std::vector<std::string> codes) {
  absl::MutexLock lock(&mu_);
  users_.at(user_id).set_recovery_codes_left(static_cast<int>(codes.size()));
  recovery_codes_[user_id] = std::set<std::string>(codes.begin(), codes.end());
}

absl::Status FakeCredentials::VerifyTotp(absl::string_view directory_id,
                                         absl::string_view user_id, absl::string_view code,
                                         absl::Time) {
  totp_calls++;
  absl::MutexLock lock(&mu_);
  if (!factor_status.ok()) return factor_status;
  auto user = users_.find(std::string(user_id));
  if (user == users_.end() || user->second.directory_id() != directory_id) {
    return absl::NotFoundError("no such user");
  }
  auto app = totp_codes_.find(std::string(user_id));
  if (app == totp_codes_.end() || app->second != code ||
      !used_totp_.insert(absl::StrCat(user_id, "/", code)).second) {
    return absl::UnauthenticatedError("wrong code");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> FakeCredentials::VerifyRecoveryCode(absl::string_view directory_id,
                                                        absl::string_view user_id,
                                                        absl::string_view code, absl::Time) {
  recovery_calls++;
  absl::MutexLock lock(&mu_);
  if (!factor_status.ok()) return factor_status;
  auto user = users_.find(std::string(user_id));
  if (user == users_.end() || user->second.directory_id() != directory_id) {
    return absl::NotFoundError("no such user");
  }
  std::set<std::string>& codes = recovery_codes_[std::string(user_id)];
  if (codes.erase(std::string(code)) == 0) return absl::UnauthenticatedError("wrong code");
  user->second.set_recovery_codes_left(static_cast<int>(codes.size()));
  return static_cast<int>(codes.size());
}

namespace {

absl::Duration MaxAgeOf(bool present, const google::protobuf::Duration& max_age) {
  return present ? FromProtoDuration(max_age) : absl::Hours(24 * 30);
}

}  // namespace

absl::StatusOr<credpb::CreateDeviceResponse> FakeCredentials::CreateDevice(
    const credpb::CreateDeviceRequest& request, absl::Time) {
  absl::MutexLock lock(&mu_);
  auto user = users_.find(request.user_id());
  if (user == users_.end() || user->second.directory_id() != request.directory_id()) {
    return absl::NotFoundError("unknown user");
  }
  StoredDevice stored;
  ++device_counter_;
  stored.token = absl::StrCat("dvt_", device_counter_);
  credpb::Device& device = stored.device;
  device.set_device_id(absl::StrCat("dev_", device_counter_));
  device.set_directory_id(request.directory_id());
  device.set_user_id(request.user_id());
  device.set_device_name(request.device_name());
  const absl::Time now = clock_->Now();
  *device.mutable_create_time() = ToProtoTime(now);
  devices_.push_back(stored);
  credpb::CreateDeviceResponse response;
  *response.mutable_device() = device;
  *response.mutable_device()->mutable_expire_time() =
      ToProtoTime(now + MaxAgeOf(request.has_max_age(), request.max_age()));
  response.set_device_token(stored.token);
  return response;
}

absl::StatusOr<credpb::Device> FakeCredentials::VerifyDevice(
    const credpb::VerifyDeviceRequest& request, absl::Time) {
  verify_device_calls++;
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const absl::Duration max_age = MaxAgeOf(request.has_max_age(), request.max_age());
  for (StoredDevice& stored : devices_) {
    credpb::Device& device = stored.device;
    if (stored.token != request.device_token() || device.user_id() != request.user_id() ||
        device.directory_id() != request.directory_id() ||
        FromProtoTime(device.create_time()) + max_age <= now) {
      continue;
    }
    *device.mutable_last_used_time() = ToProtoTime(now);
    credpb::Device answer = device;
    *answer.mutable_expire_time() = ToProtoTime(FromProtoTime(device.create_time()) + max_age);
    return answer;
  }
  return absl::UnauthenticatedError("not a remembered device");
}

absl::StatusOr<credpb::ListDevicesResponse> FakeCredentials::ListDevices(
    const credpb::ListDevicesRequest& request, absl::Time) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const absl::Duration max_age = MaxAgeOf(request.has_max_age(), request.max_age());
  credpb::ListDevicesResponse response;
  // Newest first.
  for (auto it = devices_.rbegin(); it != devices_.rend(); ++it) {
    const credpb::Device& device = it->device;
    if (device.user_id() != request.user_id() ||
        device.directory_id() != request.directory_id() ||
        FromProtoTime(device.create_time()) + max_age <= now) {
      continue;
    }
    credpb::Device* listed = response.add_devices();
    *listed = device;
    *listed->mutable_expire_time() = ToProtoTime(FromProtoTime(device.create_time()) + max_age);
  }
  return response;
}

absl::Status FakeCredentials::DeleteDevice(const credpb::DeleteDeviceRequest& request,
                                           absl::Time) {
  absl::MutexLock lock(&mu_);
  for (auto it = devices_.begin(); it != devices_.end(); ++it) {
    if (it->device.device_id() == request.device_id() &&
        it->device.user_id() == request.user_id() &&
        it->device.directory_id() == request.directory_id()) {
      devices_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError("no such device");
}

void FakeCredentials::ForgetDevicesOf(const std::string& user_id) {
  absl::MutexLock lock(&mu_);
  std::erase_if(devices_, [&](const StoredDevice& d) { return d.device.user_id() == user_id; });
}

// ---------------------------------------------------------------------------------------------
// OTP

FakeOtp::FakeOtp(const Clock& clock) : clock_(clock) {}

absl::StatusOr<otppb::SendCodeResponse> FakeOtp::SendCode(const otppb::SendCodeRequest& request,
                                                          absl::Time) {
  absl::MutexLock lock(&mu_);
  requests_.push_back(request);
  const bool nobody = request.no_recipient();
  const std::string owner =
      nobody ? absl::StrCat("nobody:", request.no_recipient_key()) : request.user_id();
  // The real service's cooldown per user and channel (and its message).
  const std::string cooldown_key = absl::StrCat(owner, "/", request.channel());
  auto last = last_send_.find(cooldown_key);
  if (last != last_send_.end() && clock_.Now() < last->second + absl::Seconds(30)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a code was just sent to this destination; retry in ",
                     absl::ToInt64Seconds(absl::Ceil(
                         last->second + absl::Seconds(30) - clock_.Now(), absl::Seconds(1))),
                     "s"));
  }
  last_send_[cooldown_key] = clock_.Now();
  const std::string id = absl::StrCat("otp_", ++counter_);
  Challenge c{owner, request.channel(), nobody ? "" : absl::StrCat(100000 + counter_), 5, false};
  // A new send replaces the previous challenge for the user and channel.
  for (auto& [cid, old] : challenges_) {
    if (old.owner == c.owner && old.channel == c.channel) old.used = true;
  }
  challenges_[id] = c;
  otppb::SendCodeResponse response;
  response.set_challenge_id(id);
  *response.mutable_expire_time() = ToProtoTime(clock_.Now() + absl::Minutes(5));
  *response.mutable_resend_after() = ToProtoTime(clock_.Now() + absl::Seconds(30));
  if (!nobody) {
    last_code_[request.destination()] = c.code;
    sends.push_back(request.destination());
    response.set_masked_destination(absl::StrCat(request.destination().substr(0, 3), "***"));
  }
  return response;
}

absl::StatusOr<otppb::VerifyCodeResponse> FakeOtp::VerifyCode(
    const otppb::VerifyCodeRequest& request, absl::Time) {
  absl::MutexLock lock(&mu_);
  ++verifies;
  otppb::VerifyCodeResponse response;
  auto it = challenges_.find(request.challenge_id());
  if (it == challenges_.end() || it->second.used) {
    response.set_result(otppb::VERIFY_RESULT_EXPIRED);
    return response;
  }
  Challenge& c = it->second;
  if (!absl::StartsWith(c.owner, "nobody:")) response.set_user_id(c.owner);
  response.set_channel(c.channel);
  if (c.attempts_left <= 0) {
    response.set_result(otppb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
    return response;
  }
  if (!c.code.empty() && request.code() == c.code) {
    c.used = true;
    ++accepted;
    response.set_result(otppb::VERIFY_RESULT_ACCEPTED);
    return response;
  }
  --c.attempts_left;
  response.set_result(otppb::VERIFY_RESULT_WRONG_CODE);
  response.set_attempts_left(c.attempts_left);
  return response;
}

std::string FakeOtp::CodeFor(const std::string& destination) {
  absl::MutexLock lock(&mu_);
  return last_code_[destination];
}

absl::Status FakeOtp::SendNotice(const otppb::SendNoticeRequest& request, absl::Time) {
  absl::MutexLock lock(&mu_);
  if (!notice_status.ok()) return notice_status;
  notices_.push_back(request);
  return absl::OkStatus();
}

std::vector<otppb::SendNoticeRequest> FakeOtp::Notices() {
  absl::MutexLock lock(&mu_);
  return notices_;
}

std::vector<otppb::SendCodeRequest> FakeOtp::Requests() {
  absl::MutexLock lock(&mu_);
  return requests_;
}

// ---------------------------------------------------------------------------------------------
// Passkeys

void FakePasskeys::AddPasskey(const std::string& user_id, bool synced) {
  absl::MutexLock lock(&mu_);
  with_passkey_.insert(user_id);
  if (synced) synced_.insert(user_id);
}

absl::StatusOr<pkpb::StartAuthenticationResponse> FakePasskeys::StartAuthentication(
    absl::string_view, absl::string_view user_id, absl::Time) {
  absl::MutexLock lock(&mu_);
  ++starts;
  if (!status.ok()) return status;
  if (!user_id.empty() && !with_passkey_.contains(std::string(user_id))) {
    return absl::FailedPreconditionError("the user has no passkey");
  }
  const std::string id = absl::StrCat("wa_", ++counter_);
  challenges_[id] = std::string(user_id);
  pkpb::StartAuthenticationResponse response;
  response.set_challenge_id(id);
  response.set_request_options_json(
      user_id.empty()
          ? R"({"rpId":"tally.test","allowCredentials":[]})"
          : absl::StrCat(R"({"rpId":"tally.test","allowCredentials":["cred-)", user_id, R"("]})"));
  return response;
}

absl::StatusOr<pkpb::FinishAuthenticationResponse> FakePasskeys::FinishAuthentication(
    absl::string_view, absl::string_view challenge_id, absl::string_view json, absl::Time) {
  absl::MutexLock lock(&mu_);
  auto it = challenges_.find(std::string(challenge_id));
  if (it == challenges_.end()) return absl::NotFoundError("unknown, used or expired challenge");
  const std::string allowed = it->second;
  challenges_.erase(it);
  // "assert:<user>", or "touch:<user>": an assertion without user verification (UV=0).
  const bool verified = absl::StartsWith(json, "assert:");
  if (!verified && !absl::StartsWith(json, "touch:")) {
    return absl::UnauthenticatedError("bad assertion");
  }
  const std::string user(json.substr(json.find(':') + 1));
  if (!with_passkey_.contains(user) || (!allowed.empty() && allowed != user)) {
    return absl::UnauthenticatedError("unknown credential");
  }
  pkpb::FinishAuthenticationResponse response;
  response.set_user_id(user);
  response.set_credential_id("cred-" + user);
  response.set_user_verified(verified);
  response.set_backup_state(synced_.contains(user));
  return response;
}

}  // namespace tally::orchestrator::testing
