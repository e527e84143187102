#include "tests/cluster/logins.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"

namespace tally::testing {
namespace {

namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;

}  // namespace

grpc::Status StartLogin(opb::LoginService::Stub& stub, const std::string& directory,
                        const std::string& username, opb::LoginState* state,
                        absl::Duration timeout) {
  opb::StartLoginRequest r;
  r.set_directory_id(directory);
  r.set_username(username);
  opb::StartLoginResponse out;
  grpc::Status s = stub.StartLogin(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SubmitPassword(opb::LoginService::Stub& stub, const std::string& login,
                            const std::string& password, opb::LoginState* state,
                            absl::Duration timeout) {
  opb::SubmitPasswordRequest r;
  r.set_login_id(login);
  r.set_password(password);
  opb::SubmitPasswordResponse out;
  grpc::Status s = stub.SubmitPassword(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SubmitTotp(opb::LoginService::Stub& stub, const std::string& login,
                        const std::string& code, opb::LoginState* state, absl::Duration timeout) {
  opb::SubmitTotpRequest r;
  r.set_login_id(login);
  r.set_code(code);
  opb::SubmitTotpResponse out;
  grpc::Status s = stub.SubmitTotp(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SubmitRecoveryCode(opb::LoginService::Stub& stub, const std::string& login,
                                const std::string& code, opb::LoginState* state,
                                absl::Duration timeout) {
  opb::SubmitRecoveryCodeRequest r;
  r.set_login_id(login);
  r.set_code(code);
  opb::SubmitRecoveryCodeResponse out;
  grpc::Status s = stub.SubmitRecoveryCode(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SendOtp(opb::LoginService::Stub& stub, const std::string& login,
                     otppb::Channel channel, opb::LoginState* state, absl::Duration timeout) {
  opb::SendOtpRequest r;
  r.set_login_id(login);
  r.set_channel(channel);
  opb::SendOtpResponse out;
  grpc::Status s = stub.SendOtp(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status VerifyOtp(opb::LoginService::Stub& stub, const std::string& login,
                       const std::string& code, opb::LoginState* state, absl::Duration timeout) {
  opb::VerifyOtpRequest r;
  r.set_login_id(login);
  r.set_code(code);
  opb::VerifyOtpResponse out;
  grpc::Status s = stub.VerifyOtp(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status GetLogin(opb::LoginService::Stub& stub, const std::string& login,
                      opb::LoginState* state, absl::Duration timeout) {
  opb::GetLoginRequest r;
  r.set_login_id(login);
  opb::GetLoginResponse out;
  grpc::Status s = stub.GetLogin(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status StartPasskey(opb::LoginService::Stub& stub, const std::string& login,
                          std::string* options, absl::Duration timeout) {
  opb::StartPasskeyRequest r;
  r.set_login_id(login);
  opb::StartPasskeyResponse out;
  grpc::Status s = stub.StartPasskey(NewContext("", "", timeout).get(), r, &out);
  if (options != nullptr) *options = out.request_options_json();
  return s;
}

grpc::Status FinishPasskey(opb::LoginService::Stub& stub, const std::string& login,
                           const std::string& assertion, opb::LoginState* state,
                           absl::Duration timeout) {
  opb::FinishPasskeyRequest r;
  r.set_login_id(login);
  r.set_authentication_response_json(assertion);
  opb::FinishPasskeyResponse out;
  grpc::Status s = stub.FinishPasskey(NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status ValidateSession(opb::SessionService::Stub& stub, const std::string& token,
                             opb::ValidateSessionResponse* claims) {
  opb::ValidateSessionRequest r;
  r.set_token(token);
  opb::ValidateSessionResponse out;
  grpc::Status s = stub.ValidateSession(NewContext().get(), r, &out);
  if (claims != nullptr) *claims = out;
  return s;
}

absl::StatusOr<std::string> LoginWithPasswordAndSms(Cluster& cluster,
                                                    const std::string& directory,
                                                    const Cluster::User& user,
                                                    int replica) {
  opb::LoginService::Stub& stub = cluster.logins(replica);
  auto failed = [](const char* step, const grpc::Status& s) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(step, ": ", s.error_message()));
  };
  opb::LoginState state;
  grpc::Status s = StartLogin(stub, directory, user.username, &state);
  if (!s.ok()) return failed("StartLogin", s);
  s = SubmitPassword(stub, state.login_id(), kClusterPassword, &state);
  if (!s.ok()) return failed("SubmitPassword", s);
  const size_t mark = cluster.OutboxMark();
  s = SendOtp(stub, state.login_id(), otppb::CHANNEL_SMS, &state);
  if (!s.ok()) return failed("SendOtp", s);
  const std::string code = cluster.WaitForCode(mark, "sms", user.phone);
  if (code.empty()) return absl::DeadlineExceededError("no SMS code in the outbox");
  s = VerifyOtp(stub, state.login_id(), code, &state);
  if (!s.ok()) return failed("VerifyOtp", s);
  if (state.status() != opb::LOGIN_STATUS_SUCCEEDED) {
    return absl::InternalError(
        absl::StrCat("the login ended ", opb::LoginStatus_Name(state.status())));
  }
  return state.session().token();
}

absl::StatusOr<pkpb::Passkey> RegisterPasskey(Cluster& cluster, const std::string& directory,
                                              const Cluster::User& user,
                                              const std::string& token,
                                              webauthn::testing::SoftAuthenticator& authenticator) {
  pkpb::StartRegistrationRequest start;
  start.set_directory_id(directory);
  start.set_user_id(user.id);
  start.set_username(user.username);
  start.set_display_name(user.username);
  pkpb::StartRegistrationResponse started;
  grpc::Status s =
      cluster.passkeys().StartRegistration(NewContext(token).get(), start, &started);
  if (!s.ok()) return absl::InternalError(absl::StrCat("StartRegistration: ", Describe(s)));
  pkpb::FinishRegistrationRequest finish;
  finish.set_directory_id(directory);
  finish.set_challenge_id(started.challenge_id());
  finish.set_registration_response_json(authenticator.RegisterFromOptions(
      started.creation_options_json(), kClusterOrigin, "none"));
  finish.set_nickname("soft key");
  pkpb::FinishRegistrationResponse finished;
  s = cluster.passkeys().FinishRegistration(NewContext(token).get(), finish, &finished);
  if (!s.ok()) return absl::InternalError(absl::StrCat("FinishRegistration: ", Describe(s)));
  return finished.passkey();
}

grpc::Status PasskeyLogin(opb::LoginService::Stub& stub, const std::string& directory,
                          const std::string& username,
                          webauthn::testing::SoftAuthenticator& authenticator,
                          opb::LoginState* state, absl::Duration timeout) {
  grpc::Status s = StartLogin(stub, directory, username, state, timeout);
  if (!s.ok()) return s;
  std::string options;
  s = StartPasskey(stub, state->login_id(), &options, timeout);
  if (!s.ok()) return s;
  return FinishPasskey(stub, state->login_id(),
                       authenticator.AssertFromOptions(options, kClusterOrigin), state,
                       timeout);
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), ": ", status.error_message());
}

}  // namespace tally::testing
