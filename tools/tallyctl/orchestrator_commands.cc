#include "tools/tallyctl/orchestrator_commands.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/grpc_status.h"
#include "common/util/proto_time.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"

ABSL_FLAG(std::string, client_ip, "",
          "login: the end user's address to report (StartLoginRequest.client_ip), for the "
          "StartLogin rate limit and the OTP send budgets; empty = none.");

ABSL_FLAG(bool, remember, false,
          "login: remember this device once logged in (RememberDevice) and print its token, for "
          "--device_token in later logins.");
ABSL_FLAG(std::string, device_name, "tallyctl",
          "login --remember: the name the device is listed under.");
ABSL_FLAG(std::string, device_token, "",
          "login: a token from an earlier login --remember (StartLoginRequest.device_token).");
ABSL_FLAG(int32_t, min_level, 0,
          "login: the level this login must reach, when above the directory's "
          "(StartLoginRequest.min_level); 0 = the directory's.");

namespace tally::cli {
namespace {

namespace pb = ::tally::orchestrator::v1;
namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;

constexpr int kOrchestratorPort = 50050;

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

std::string MethodName(int method) {
  switch (method) {
    case cpb::AUTH_METHOD_PASSWORD: return "password";
    case cpb::AUTH_METHOD_SMS_OTP: return "sms";
    case cpb::AUTH_METHOD_EMAIL_OTP: return "email";
    case cpb::AUTH_METHOD_PASSKEY: return "passkey";
    case cpb::AUTH_METHOD_TOTP: return "totp";
    case cpb::AUTH_METHOD_RECOVERY_CODE: return "recovery_code";
    case cpb::AUTH_METHOD_TRUSTED_DEVICE: return "trusted_device";
    default: return "unknown";
  }
}

void PrintProgress(const pb::LoginState& s) {
  std::vector<std::string> offers;
  for (const cpb::MethodPoints& mp : s.offered_methods()) {
    offers.push_back(absl::StrCat(MethodName(mp.method()), " (", mp.points(), ")"));
  }
  std::cerr << "score " << s.score() << "/" << s.required_level();
  if (s.has_last_step()) {
    std::cerr << "; last step "
              << (s.last_step().outcome() == pb::STEP_OUTCOME_ACCEPTED ? "accepted" : "rejected");
    if (s.last_step().outcome() == pb::STEP_OUTCOME_REJECTED) {
      std::cerr << " (" << s.last_step().attempts_left() << " attempts left)";
    }
  }
  if (!offers.empty()) std::cerr << "; offered: " << absl::StrJoin(offers, ", ");
  std::cerr << "\n";
}

bool Offered(const pb::LoginState& s, cpb::AuthMethod method) {
  for (const cpb::MethodPoints& mp : s.offered_methods()) {
    if (mp.method() == method) return true;
  }
  return false;
}

// Runs one LoginService call with the common deadline.
template <typename Request, typename Response, typename Call>
absl::StatusOr<pb::LoginState> Step(CommandContext& ctx, const Request& request, Call call) {
  grpc::ClientContext context;
  ctx.Prepare(context);
  Response response;
  if (auto s = FromGrpcStatus(call(&context, request, &response)); !s.ok()) return s;
  return response.state();
}

absl::Status Login(CommandContext& ctx) {
  auto stub = pb::LoginService::NewStub(ctx.Channel(kOrchestratorPort));
  pb::StartLoginRequest start;
  start.set_directory_id(ctx.args()[0]);
  start.set_username(ctx.args()[1]);
  start.set_client_ip(absl::GetFlag(FLAGS_client_ip));
  start.set_device_token(absl::GetFlag(FLAGS_device_token));
  start.set_min_level(absl::GetFlag(FLAGS_min_level));
  absl::StatusOr<pb::LoginState> state = Step<pb::StartLoginRequest, pb::StartLoginResponse>(
      ctx, start, [&](auto* c, const auto& r, auto* o) { return stub->StartLogin(c, r, o); });
  if (!state.ok()) return state.status();
  const std::string login_id = state->login_id();
  while (state->status() == pb::LOGIN_STATUS_IN_PROGRESS) {
    PrintProgress(*state);
    if (Offered(*state, cpb::AUTH_METHOD_PASSWORD)) {
      absl::StatusOr<std::string> password = Ask("password: ", /*secret=*/true);
      if (!password.ok()) return password.status();
      pb::SubmitPasswordRequest r;
      r.set_login_id(login_id);
      r.set_password(*password);
      state = Step<pb::SubmitPasswordRequest, pb::SubmitPasswordResponse>(
          ctx, r, [&](auto* c, const auto& q, auto* o) { return stub->SubmitPassword(c, q, o); });
      if (!state.ok()) return state.status();
      continue;
    }
    // The other methods this tool can complete, by their names in PrintProgress.
    std::vector<std::string> choices;
    for (cpb::AuthMethod method : {cpb::AUTH_METHOD_SMS_OTP, cpb::AUTH_METHOD_EMAIL_OTP,
                                   cpb::AUTH_METHOD_TOTP, cpb::AUTH_METHOD_RECOVERY_CODE}) {
      if (Offered(*state, method)) choices.push_back(MethodName(method));
    }
    if (choices.empty()) {
      return absl::FailedPreconditionError(
          "no method this tool can complete is offered (a passkey needs a browser)");
    }
    std::string choice = choices.front();
    if (choices.size() > 1) {
      const std::string list = absl::StrJoin(choices, ", ");
      absl::StatusOr<std::string> pick = Ask(absl::StrCat("which method: ", list, "? "), false);
      if (!pick.ok()) return pick.status();
      choice = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*pick));
      if (std::find(choices.begin(), choices.end(), choice) == choices.end()) {
        std::cerr << "please answer one of " << list << "\n";
        continue;
      }
    }
    if (choice == "totp") {
      absl::StatusOr<std::string> code = Ask("code from your authenticator app: ", false);
      if (!code.ok()) return code.status();
      pb::SubmitTotpRequest r;
      r.set_login_id(login_id);
      r.set_code(*code);
      state = Step<pb::SubmitTotpRequest, pb::SubmitTotpResponse>(
          ctx, r, [&](auto* c, const auto& q, auto* o) { return stub->SubmitTotp(c, q, o); });
      if (!state.ok()) return state.status();
      continue;
    }
    if (choice == "recovery_code") {
      absl::StatusOr<std::string> code = Ask("recovery code: ", false);
      if (!code.ok()) return code.status();
      pb::SubmitRecoveryCodeRequest r;
      r.set_login_id(login_id);
      r.set_code(*code);
      state = Step<pb::SubmitRecoveryCodeRequest, pb::SubmitRecoveryCodeResponse>(
          ctx, r,
          [&](auto* c, const auto& q, auto* o) { return stub->SubmitRecoveryCode(c, q, o); });
      if (!state.ok()) return state.status();
      if (state->has_recovery_codes_left()) {
        std::cerr << state->recovery_codes_left() << " recovery codes left\n";
      }
      continue;
    }
    const otppb::Channel channel = choice == "sms" ? otppb::CHANNEL_SMS : otppb::CHANNEL_EMAIL;
    pb::SendOtpRequest send;
    send.set_login_id(login_id);
    send.set_channel(channel);
    state = Step<pb::SendOtpRequest, pb::SendOtpResponse>(
        ctx, send, [&](auto* c, const auto& q, auto* o) { return stub->SendOtp(c, q, o); });
    if (!state.ok()) return state.status();
    if (state->status() != pb::LOGIN_STATUS_IN_PROGRESS) break;
    const std::string where = state->otp_delivery().masked_destination();
    std::cerr << "code sent" << (where.empty() ? "" : absl::StrCat(" to ", where)) << "\n";
    absl::StatusOr<std::string> code = Ask("code: ", false);
    if (!code.ok()) return code.status();
    pb::VerifyOtpRequest verify;
    verify.set_login_id(login_id);
    verify.set_code(*code);
    state = Step<pb::VerifyOtpRequest, pb::VerifyOtpResponse>(
        ctx, verify, [&](auto* c, const auto& q, auto* o) { return stub->VerifyOtp(c, q, o); });
    if (!state.ok()) return state.status();
  }
  if (ctx.options().json) {
    ctx.PrintJson(*state);
    return absl::OkStatus();
  }
  if (state->status() == pb::LOGIN_STATUS_LOCKED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "locked: too many failures; try again in ", state->retry_after().seconds(), "s"));
  }
  ctx.out() << "session     " << state->session().session_id() << "\nlevel       "
            << state->score() << "\nexpires     " << Time(state->session().expire_time())
            << "\ntoken       " << state->session().token() << "\n";
  if (absl::GetFlag(FLAGS_remember) && state->status() == pb::LOGIN_STATUS_SUCCEEDED) {
    grpc::ClientContext context;
    ctx.Prepare(context);
    pb::RememberDeviceRequest remember;
    remember.set_login_id(login_id);
    remember.set_device_name(absl::GetFlag(FLAGS_device_name));
    pb::RememberDeviceResponse device;
    if (auto s = FromGrpcStatus(stub->RememberDevice(&context, remember, &device)); !s.ok()) {
      return s;
    }
    ctx.out() << "device      " << device.device_id() << " (until "
              << Time(device.expire_time()) << ")\ndevice token " << device.device_token()
              << "\n";
  }
  return absl::OkStatus();
}

// SessionService.ListTrustedDevices with --token (the user, or a directory admin).
absl::Status DevicesList(CommandContext& ctx) {
  auto stub = pb::SessionService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ListTrustedDevicesRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::ListTrustedDevicesResponse response;
  if (auto s = FromGrpcStatus(stub->ListTrustedDevices(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  for (const pb::TrustedDevice& device : response.devices()) {
    ctx.out() << device.device_id() << "  " << device.device_name() << "  remembered "
              << Time(device.create_time()) << "  last used "
              << (device.has_last_used_time() ? Time(device.last_used_time()) : "never")
              << "  until " << Time(device.expire_time()) << "\n";
  }
  return absl::OkStatus();
}

// SessionService.ForgetDevice with --token (the user, fresh, or a directory admin).
absl::Status DevicesForget(CommandContext& ctx) {
  auto stub = pb::SessionService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ForgetDeviceRequest request;
  request.set_user_id(ctx.args()[0]);
  request.set_device_id(ctx.args()[1]);
  pb::ForgetDeviceResponse response;
  if (auto s = FromGrpcStatus(stub->ForgetDevice(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "forgotten\n";
  }
  return absl::OkStatus();
}

absl::Status SessionValidate(CommandContext& ctx) {
  auto stub = pb::SessionService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ValidateSessionRequest request;
  request.set_token(ctx.args()[0]);
  pb::ValidateSessionResponse response;
  if (auto s = FromGrpcStatus(stub->ValidateSession(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  std::vector<std::string> methods;
  for (int m : response.methods()) methods.push_back(MethodName(m));
  ctx.out() << "session    " << response.session_id() << "\nuser       " << response.user_id()
            << "\ndirectory  " << response.directory_id() << "\nlevel      " << response.level()
            << "\nmethods    " << absl::StrJoin(methods, ", ") << "\nroles      "
            << absl::StrJoin(response.roles(), ", ") << "\nauth time  "
            << Time(response.auth_time()) << "\nexpires    " << Time(response.expire_time())
            << "\n";
  return absl::OkStatus();
}

absl::Status SessionRevoke(CommandContext& ctx) {
  auto stub = pb::SessionService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::RevokeSessionRequest request;
  request.set_token(ctx.args()[0]);
  pb::RevokeSessionResponse response;
  if (auto s = FromGrpcStatus(stub->RevokeSession(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "revoked\n";
  }
  return absl::OkStatus();
}

// LoginService.UnlockUser with --token (a directory admin) or --platform_key.
absl::Status LoginUnlock(CommandContext& ctx) {
  auto stub = pb::LoginService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::UnlockUserRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::UnlockUserResponse response;
  if (auto s = FromGrpcStatus(stub->UnlockUser(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "unlocked\n";
  }
  return absl::OkStatus();
}

absl::Status SessionJwks(CommandContext& ctx) {
  auto stub = pb::SessionService::NewStub(ctx.Channel(kOrchestratorPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::GetJwksResponse response;
  if (auto s = FromGrpcStatus(stub->GetJwks(&context, pb::GetJwksRequest(), &response));
      !s.ok()) {
    return s;
  }
  ctx.out() << response.jwks_json() << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterOrchestratorCommands(CommandRegistry& registry) {
  // Before "login DIRECTORY_ID USERNAME", which would take "unlock" for a directory id.
  registry.Add({"login", "unlock",
                "login unlock USER_ID   (ends a lockout, the permanent one too; --token of a "
                "directory admin or --platform_key)",
                1, 1, LoginUnlock});
  registry.Add({"login", "",
                "login DIRECTORY_ID USERNAME [--client_ip ADDRESS] [--min_level N] "
                "[--device_token TOKEN] [--remember [--device_name NAME]]   (asks for the "
                "password, then sms, email, totp or recovery_code and its code; --remember prints "
                "a device token)",
                2, 2, Login});
  registry.Add({"devices", "list",
                "devices list USER_ID   (remembered devices; --token of the user or an admin)", 1,
                1, DevicesList});
  registry.Add({"devices", "forget",
                "devices forget USER_ID DEVICE_ID   (--token of the user, fresh, or an admin)", 2,
                2, DevicesForget});
  registry.Add({"session", "validate", "session validate TOKEN", 1, 1, SessionValidate});
  registry.Add({"session", "revoke", "session revoke TOKEN", 1, 1, SessionRevoke});
  registry.Add({"session", "jwks", "session jwks   (the orchestrator's published keys)", 0, 0,
                SessionJwks});
}

}  // namespace tally::cli
