// The real tally-orchestrator binary against the real Redis of `tools/dev test`, with the four
// peers it calls (policy, credential, otp, passkey) played by small in-process gRPC fakes on one
// port: a whole login over gRPC, session validation / JWKS / revocation, metrics, and a peer
// that goes down answering UNAVAILABLE with its name instead of hanging.

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/otp/v1/otp.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using ::testing::HasSubstr;

class FakePolicyService final : public polpb::PolicyService::Service {
 public:
  explicit FakePolicyService(std::string dir) : dir_(std::move(dir)) {}
  grpc::Status GetAuthSettings(grpc::ServerContext*, const polpb::GetAuthSettingsRequest* request,
                               polpb::GetAuthSettingsResponse* response) override {
    if (request->directory_id() != dir_) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown directory");
    }
    polpb::AuthSettings* s = response->mutable_settings();
    s->set_directory_id(dir_);
    s->set_required_level(30);
    for (auto [method, points] : std::vector<std::pair<cpb::AuthMethod, int>>{
             {cpb::AUTH_METHOD_PASSWORD, 20},
             {cpb::AUTH_METHOD_SMS_OTP, 10},
             {cpb::AUTH_METHOD_EMAIL_OTP, 10},
             {cpb::AUTH_METHOD_PASSKEY, 30}}) {
      cpb::MethodPoints* mp = s->add_method_points();
      mp->set_method(method);
      mp->set_points(points);
    }
    if (new_methods) {
      for (cpb::AuthMethod method : {cpb::AUTH_METHOD_TOTP, cpb::AUTH_METHOD_RECOVERY_CODE}) {
        cpb::MethodPoints* mp = s->add_method_points();
        mp->set_method(method);
        mp->set_points(10);
      }
    }
    return grpc::Status::OK;
  }

  // TOTP and recovery codes worth 10 each (issue 21).
  std::atomic<bool> new_methods{false};

 private:
  std::string dir_;
};

class FakeCredentialService final : public credpb::CredentialService::Service {
 public:
  explicit FakeCredentialService(std::string dir) {
    alice_.set_user_id("usr_alice");
    alice_.set_directory_id(dir);
    alice_.set_username("alice");
    alice_.set_phone_number("+31612345678");
    alice_.set_email("alice@example.com");
    alice_.add_roles("admin");
    alice_.set_has_password(true);
    alice_.set_has_totp(true);
    alice_.set_recovery_codes_left(1);
  }
  grpc::Status FindUser(grpc::ServerContext*, const credpb::FindUserRequest* request,
                        credpb::FindUserResponse* response) override {
    if (absl::AsciiStrToLower(request->username()) != "alice") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
    }
    *response->mutable_user() = alice_;
    return grpc::Status::OK;
  }
  grpc::Status GetUser(grpc::ServerContext*, const credpb::GetUserRequest* request,
                       credpb::GetUserResponse* response) override {
    if (request->user_id() != alice_.user_id()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
    }
    *response->mutable_user() = alice_;
    return grpc::Status::OK;
  }
  grpc::Status VerifyPassword(grpc::ServerContext*, const credpb::VerifyPasswordRequest* request,
                              credpb::VerifyPasswordResponse* response) override {
    if (absl::AsciiStrToLower(request->username()) != "alice" ||
        request->password() != "correct horse") {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong username or password");
    }
    *response->mutable_user() = alice_;
    return grpc::Status::OK;
  }
  // Alice's app shows 246810 (accepted once); her one recovery code is abcd-efgh-jkmn.
  grpc::Status VerifyTotp(grpc::ServerContext*, const credpb::VerifyTotpRequest* request,
                          credpb::VerifyTotpResponse*) override {
    if (request->user_id() != alice_.user_id() || request->code() != "246810" ||
        totp_used_.exchange(true)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong code");
    }
    return grpc::Status::OK;
  }
  grpc::Status VerifyRecoveryCode(grpc::ServerContext*,
                                  const credpb::VerifyRecoveryCodeRequest* request,
                                  credpb::VerifyRecoveryCodeResponse* response) override {
    if (request->user_id() != alice_.user_id() || request->code() != "abcd-efgh-jkmn" ||
        recovery_used_.exchange(true)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong code");
    }
    response->set_codes_left(0);
    return grpc::Status::OK;
  }

 private:
  credpb::User alice_;
  std::atomic<bool> totp_used_{false};
  std::atomic<bool> recovery_used_{false};
};

class FakeOtpService final : public otppb::OtpService::Service {
 public:
  grpc::Status SendCode(grpc::ServerContext*, const otppb::SendCodeRequest* request,
                        otppb::SendCodeResponse* response) override {
    absl::MutexLock lock(&mu_);
    const std::string id = absl::StrCat("otp_", ++counter_);
    codes_[id] = {request->user_id(), request->channel(), absl::StrCat(654320 + counter_)};
    last_code_ = codes_[id].code;
    response->set_challenge_id(id);
    response->set_masked_destination("+31******78");
    response->mutable_resend_after()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 30);
    return grpc::Status::OK;
  }
  grpc::Status VerifyCode(grpc::ServerContext*, const otppb::VerifyCodeRequest* request,
                          otppb::VerifyCodeResponse* response) override {
    absl::MutexLock lock(&mu_);
    auto it = codes_.find(request->challenge_id());
    if (it == codes_.end()) {
      response->set_result(otppb::VERIFY_RESULT_EXPIRED);
      return grpc::Status::OK;
    }
    response->set_user_id(it->second.user);
    response->set_channel(it->second.channel);
    if (it->second.code != request->code()) {
      response->set_result(otppb::VERIFY_RESULT_WRONG_CODE);
      response->set_attempts_left(4);
      return grpc::Status::OK;
    }
    codes_.erase(it);
    response->set_result(otppb::VERIFY_RESULT_ACCEPTED);
    return grpc::Status::OK;
  }
  std::string last_code() {
    absl::MutexLock lock(&mu_);
    return last_code_;
  }

 private:
  struct Code {
    std::string user;
    otppb::Channel channel;
    std::string code;
  };
  absl::Mutex mu_;
  int counter_ = 0;
  std::map<std::string, Code> codes_;
  std::string last_code_;
};

class FakePasskeyService final : public pkpb::PasskeyService::Service {
 public:
  grpc::Status StartAuthentication(grpc::ServerContext*,
                                   const pkpb::StartAuthenticationRequest* request,
                                   pkpb::StartAuthenticationResponse* response) override {
    if (!request->user_id().empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the user has no passkey");
    }
    response->set_challenge_id("wa_1");
    response->set_request_options_json("{}");
    return grpc::Status::OK;
  }
};

// The four peers on one port.
class FakePeers {
 public:
  explicit FakePeers(const std::string& dir) : policy_(dir), credentials_(dir) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&policy_);
    builder.RegisterService(&credentials_);
    builder.RegisterService(&otp_);
    builder.RegisterService(&passkey_);
    server_ = builder.BuildAndStart();
  }
  ~FakePeers() { Stop(); }
  void Stop() {
    if (server_) {
      server_->Shutdown();
      server_.reset();
    }
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  FakeOtpService& otp() { return otp_; }
  FakePolicyService& policy() { return policy_; }

 private:
  FakePolicyService policy_;
  FakeCredentialService credentials_;
  FakeOtpService otp_;
  FakePasskeyService passkey_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<grpc::ClientContext> Context() {
  return testing::NewContext("", "", absl::Seconds(10));
}

class OrchestratorServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "dir_" + testing::UniqueSuffix();
    peers_ = std::make_unique<FakePeers>(dir_);
    server_ = std::make_unique<testing::ServiceProcess>(testing::ServiceOptions{
        .binary = "tally-orchestrator",
        .flags = {"--policy_addr=" + peers_->address(), "--credential_addr=" + peers_->address(),
                  "--otp_addr=" + peers_->address(), "--passkey_addr=" + peers_->address(),
                  "--settings_cache_ttl=0s", "--peer_timeout=1s"},
        .redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL")});
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    logins_ = opb::LoginService::NewStub(server_->channel());
    sessions_ = opb::SessionService::NewStub(server_->channel());
  }

  std::string dir_;
  std::unique_ptr<FakePeers> peers_;
  std::unique_ptr<testing::ServiceProcess> server_;
  std::unique_ptr<opb::LoginService::Stub> logins_;
  std::unique_ptr<opb::SessionService::Stub> sessions_;
};

TEST_F(OrchestratorServerTest, PasswordAndSmsLoginThenValidateAndRevoke) {
  opb::StartLoginRequest start;
  start.set_directory_id(dir_);
  start.set_username("alice");
  opb::StartLoginResponse started;
  ASSERT_TRUE(logins_->StartLogin(Context().get(), start, &started).ok()) << server_->Output();
  const std::string login_id = started.state().login_id();
  EXPECT_EQ(started.state().status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(started.state().offered_methods_size(), 4);

  opb::SubmitPasswordRequest wrong;
  wrong.set_login_id(login_id);
  wrong.set_password("nope");
  opb::SubmitPasswordResponse rejected;
  ASSERT_TRUE(logins_->SubmitPassword(Context().get(), wrong, &rejected).ok());
  EXPECT_EQ(rejected.state().last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(rejected.state().last_step().attempts_left(), 4);

  opb::SubmitPasswordRequest password;
  password.set_login_id(login_id);
  password.set_password("correct horse");
  opb::SubmitPasswordResponse after_password;
  ASSERT_TRUE(logins_->SubmitPassword(Context().get(), password, &after_password).ok());
  EXPECT_EQ(after_password.state().score(), 20);

  opb::SendOtpRequest send;
  send.set_login_id(login_id);
  send.set_channel(otppb::CHANNEL_SMS);
  opb::SendOtpResponse sent;
  ASSERT_TRUE(logins_->SendOtp(Context().get(), send, &sent).ok());
  EXPECT_EQ(sent.state().otp_delivery().masked_destination(), "+31******78");

  opb::VerifyOtpRequest verify;
  verify.set_login_id(login_id);
  verify.set_code(peers_->otp().last_code());
  opb::VerifyOtpResponse verified;
  ASSERT_TRUE(logins_->VerifyOtp(Context().get(), verify, &verified).ok());
  ASSERT_EQ(verified.state().status(), opb::LOGIN_STATUS_SUCCEEDED);
  const std::string token = verified.state().session().token();

  // A finished login refuses further steps.
  opb::SubmitPasswordResponse again;
  grpc::Status refused = logins_->SubmitPassword(Context().get(), password, &again);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  opb::ValidateSessionRequest validate;
  validate.set_token(token);
  opb::ValidateSessionResponse claims;
  ASSERT_TRUE(sessions_->ValidateSession(Context().get(), validate, &claims).ok());
  EXPECT_EQ(claims.user_id(), "usr_alice");
  EXPECT_EQ(claims.directory_id(), dir_);
  EXPECT_EQ(claims.level(), 30);
  ASSERT_EQ(claims.methods_size(), 2);
  EXPECT_EQ(claims.methods(0), cpb::AUTH_METHOD_PASSWORD);
  EXPECT_EQ(claims.methods(1), cpb::AUTH_METHOD_SMS_OTP);
  EXPECT_EQ(claims.roles(0), "admin");
  EXPECT_EQ(claims.session_id(), verified.state().session().session_id());

  opb::GetJwksResponse jwks;
  ASSERT_TRUE(sessions_->GetJwks(Context().get(), opb::GetJwksRequest(), &jwks).ok());
  nlohmann::json set = nlohmann::json::parse(jwks.jwks_json());
  ASSERT_EQ(set["keys"].size(), 1u);
  EXPECT_EQ(set["keys"][0]["kty"], "OKP");
  EXPECT_EQ(set["keys"][0]["crv"], "Ed25519");

  opb::RevokeSessionRequest revoke;
  revoke.set_token(token);
  opb::RevokeSessionResponse revoked;
  ASSERT_TRUE(sessions_->RevokeSession(Context().get(), revoke, &revoked).ok());
  grpc::Status invalid = sessions_->ValidateSession(Context().get(), validate, &claims);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Metrics: the finished login by its methods, step latency.
  std::string metrics;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto body = testing::HttpGet(server_->metrics_port(), "/metrics");
        if (body.ok()) metrics = *body;
        return body.ok();
      },
      absl::Seconds(10)));
  EXPECT_THAT(metrics, HasSubstr("tally_orchestrator_logins_total"));
  EXPECT_THAT(metrics, HasSubstr("methods=\"password+sms_otp\""));
  EXPECT_THAT(metrics, HasSubstr("tally_orchestrator_login_step_seconds"));
}

TEST_F(OrchestratorServerTest, APeerDownIsUnavailableNamingIt) {
  opb::StartLoginRequest start;
  start.set_directory_id("dir_unknown");
  opb::StartLoginResponse started;
  grpc::Status unknown = logins_->StartLogin(Context().get(), start, &started);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND) << unknown.error_message();

  peers_->Stop();
  start.set_directory_id(dir_);
  start.set_username("alice");
  const absl::Time before = absl::Now();
  grpc::Status down = logins_->StartLogin(Context().get(), start, &started);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(down.error_message(), "policy service unavailable");
  // Bounded by --peer_timeout and the retries, well inside the call's own 10 s.
  EXPECT_LT(absl::Now() - before, absl::Seconds(9));
}

TEST_F(OrchestratorServerTest, TallyctlLoginAndSessionCommands) {
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", server_->address());
  // The fake OTP service's first code is 654321; answers come on standard input.
  testing::CommandResult login = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'correct horse\\nsms\\n654321\\n' | ", tallyctl, " ", addr,
                    " login ", dir_, " alice")});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  EXPECT_THAT(login.output, HasSubstr("offered: password (20), sms (10), email (10), passkey (30)"));
  EXPECT_THAT(login.output, HasSubstr("code sent to +31******78"));
  EXPECT_THAT(login.output, HasSubstr("level       30"));
  const size_t at = login.output.find("token       ");
  ASSERT_NE(at, std::string::npos) << login.output;
  std::string token = login.output.substr(at + 12);
  token = token.substr(0, token.find('\n'));

  testing::CommandResult validate =
      testing::RunCommand({tallyctl, addr, "session", "validate", token});
  ASSERT_EQ(validate.exit_code, 0) << validate.output;
  EXPECT_THAT(validate.output, HasSubstr("user       usr_alice"));
  EXPECT_THAT(validate.output, HasSubstr("methods    password, sms"));
  testing::CommandResult jwks = testing::RunCommand({tallyctl, addr, "session", "jwks"});
  EXPECT_THAT(jwks.output, HasSubstr("\"crv\":\"Ed25519\""));
  testing::CommandResult revoke = testing::RunCommand({tallyctl, addr, "session", "revoke", token});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  validate = testing::RunCommand({tallyctl, addr, "session", "validate", token});
  EXPECT_NE(validate.exit_code, 0);
  EXPECT_THAT(validate.output, HasSubstr("revoked"));

  // A wrong password: rejected, asked again; the input runs out.
  testing::CommandResult wrong = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'nope\\n' | ", tallyctl, " ", addr, " login ", dir_, " alice")});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.output, HasSubstr("rejected (4 attempts left)"));
}

TEST_F(OrchestratorServerTest, TallyctlLoginOffersTotpAndRecoveryCodes) {
  peers_->policy().new_methods = true;
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", server_->address());
  testing::CommandResult login = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'correct horse\\ntotp\\n246810\\n' | ", tallyctl, " ", addr,
                    " login ", dir_, " alice")});
  ASSERT_EQ(login.exit_code, 0) << login.output;
  EXPECT_THAT(login.output, HasSubstr("which method: sms, email, totp, recovery_code?"));
  EXPECT_THAT(login.output, HasSubstr("level       30"));
  const size_t at = login.output.find("token       ");
  ASSERT_NE(at, std::string::npos) << login.output;
  std::string token = login.output.substr(at + 12);
  token = token.substr(0, token.find('\n'));
  testing::CommandResult validate =
      testing::RunCommand({tallyctl, addr, "session", "validate", token});
  ASSERT_EQ(validate.exit_code, 0) << validate.output;
  EXPECT_THAT(validate.output, HasSubstr("methods    password, totp"));

  testing::CommandResult recovery = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'correct horse\\nrecovery_code\\nabcd-efgh-jkmn\\n' | ", tallyctl,
                    " ", addr, " login ", dir_, " alice")});
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  EXPECT_THAT(recovery.output, HasSubstr("0 recovery codes left"));
  EXPECT_THAT(recovery.output, HasSubstr("level       30"));
}

TEST_F(OrchestratorServerTest, BadRequests) {
  opb::GetLoginRequest get;
  get.set_login_id("garbage");
  opb::GetLoginResponse got;
  EXPECT_EQ(logins_->GetLogin(Context().get(), get, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  opb::ValidateSessionRequest validate;
  validate.set_token("not.a.token");
  opb::ValidateSessionResponse claims;
  EXPECT_EQ(sessions_->ValidateSession(Context().get(), validate, &claims).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  opb::StartStepUpRequest step_up;
  step_up.set_session_token("not.a.token");
  step_up.set_required_level(40);
  opb::StartStepUpResponse stepped;
  EXPECT_EQ(logins_->StartStepUp(Context().get(), step_up, &stepped).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tally
