// End to end: the whole cluster (tally-policy, tally-credential, tally-otp api + sender,
// tally-passkey and two tally-orchestrator replicas) as separate processes on free ports against
// the real Redis and PostgreSQL of `tools/dev test`. Logins are driven through the
// orchestrator's gRPC API only; policy and credential are called just to set up directories and
// users (platform key) and for the admin's settings change (the admin's own session token).
// OTP codes are read from the sender's outbox file, passkeys come from the software
// authenticator, and one token is checked by an independent Python verifier. Built three times:
// the e2e_tls_test binary runs the same tests with mutual TLS between every client and service,
// and e2e_redis_cluster_test with every service on a Redis Cluster of its own (issue 23).

#include <signal.h>

#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/redis_cluster.h"
#include "common/testing/test_support.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/soft_authenticator.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
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
using webauthn::testing::SoftAuthenticator;

using testing::Cluster;
using testing::ClusterOptions;

constexpr const char* kPassword = testing::kClusterPassword;
constexpr const char* kOrigin = testing::kClusterOrigin;
constexpr int kLockoutSeconds = testing::kClusterLockoutSeconds;

// TALLY_E2E_TLS builds the same suite against a cluster with mutual TLS on every hop
// (e2e_tls_test): certificates from openssl, every server requiring a client certificate.
#ifdef TALLY_E2E_TLS
constexpr bool kTls = true;
#else
constexpr bool kTls = false;
#endif
// TALLY_ON_REDIS_CLUSTER (e2e_redis_cluster_test): every service on the process's own Redis
// Cluster (three primaries, three replicas) instead of the one Redis of `tools/dev test`.
#ifndef TALLY_ON_REDIS_CLUSTER
#define TALLY_ON_REDIS_CLUSTER 0
#endif

std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
  return testing::NewContext(token);
}

// Thin helpers over the LoginService (tests/cluster/logins.h) on replica A, or B with `b`.
class E2eTest : public testing::ClusterTest<E2eTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.tls = kTls;
    if (TALLY_ON_REDIS_CLUSTER) {
      testing::LocalRedisCluster* redis = testing::SharedRedisCluster();
      if (redis == nullptr) {
        ADD_FAILURE() << "no Redis Cluster for the e2e suite";
      } else {
        options.redis_cluster_nodes = redis->seeds();
      }
    }
    return options;
  }

 protected:
  opb::LoginService::Stub& Logins(bool b) { return cluster().logins(b ? 1 : 0); }

  // The state of a new login, failing the test on an RPC error.
  opb::LoginState Start(const std::string& dir, const std::string& username, bool b = false) {
    opb::LoginState state;
    grpc::Status s = testing::StartLogin(Logins(b), dir, username, &state);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return state;
  }
  grpc::Status Password(const std::string& login, const std::string& password,
                        opb::LoginState* state, bool b = false) {
    return testing::SubmitPassword(Logins(b), login, password, state);
  }
  grpc::Status Send(const std::string& login, otppb::Channel channel, opb::LoginState* state,
                    bool b = false) {
    return testing::SendOtp(Logins(b), login, channel, state);
  }
  grpc::Status Verify(const std::string& login, const std::string& code, opb::LoginState* state,
                      bool b = false) {
    return testing::VerifyOtp(Logins(b), login, code, state);
  }
  // Sends a code by `channel` to `user`, reads it from the outbox and verifies it.
  opb::LoginState Otp(const std::string& login, const Cluster::User& user,
                      otppb::Channel channel, bool b = false, std::string* code_out = nullptr) {
    const size_t mark = cluster().OutboxMark();
    opb::LoginState state;
    grpc::Status s = Send(login, channel, &state, b);
    EXPECT_TRUE(s.ok()) << s.error_message();
    const bool sms = channel == otppb::CHANNEL_SMS;
    const std::string code =
        cluster().WaitForCode(mark, sms ? "sms" : "email", sms ? user.phone : user.email);
    EXPECT_FALSE(code.empty()) << "no code in the outbox";
    if (code_out != nullptr) *code_out = code;
    s = Verify(login, code, &state, b);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return state;
  }
  // A password + SMS login of `user`; the session token.
  std::string LoginWithPasswordAndSms(const std::string& dir, const Cluster::User& user) {
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir, user);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }
  absl::StatusOr<opb::ValidateSessionResponse> Validate(const std::string& token) {
    opb::ValidateSessionResponse out;
    grpc::Status s = testing::ValidateSession(cluster().sessions(), token, &out);
    if (!s.ok()) return absl::UnauthenticatedError(s.error_message());
    return out;
  }
  // Registers a passkey for `user` through the passkey service with the user's session token.
  void RegisterPasskey(const std::string& dir, const Cluster::User& user, const std::string& token,
                       SoftAuthenticator& authenticator) {
    absl::StatusOr<pkpb::Passkey> registered =
        testing::RegisterPasskey(cluster(), dir, user, token, authenticator);
    ASSERT_TRUE(registered.ok()) << registered.status();
  }
  // StartPasskey on `login`; the request options JSON.
  std::string StartPasskey(const std::string& login) {
    std::string options;
    grpc::Status s = testing::StartPasskey(cluster().logins(), login, &options);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return options;
  }
  grpc::Status FinishPasskey(const std::string& login, const std::string& assertion,
                             opb::LoginState* state) {
    return testing::FinishPasskey(cluster().logins(), login, assertion, state);
  }

  static std::vector<int> Offered(const opb::LoginState& state) {
    std::vector<int> methods;
    for (const cpb::MethodPoints& m : state.offered_methods()) {
      methods.push_back(m.method() * 1000 + m.points());
    }
    return methods;
  }
};

TEST_F(E2eTest, PasswordAndSmsSucceeds) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User alice = cluster().CreateUser(dir, "alice", {"admin"});
  opb::LoginState state = Start(dir, "alice");
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(state.required_level(), 30);
  ASSERT_TRUE(Password(state.login_id(), kPassword, &state).ok());
  EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(state.score(), 20);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  state = Otp(state.login_id(), alice, otppb::CHANNEL_SMS);
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(state.score(), 30);
  absl::StatusOr<opb::ValidateSessionResponse> claims = Validate(state.session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id(), alice.id);
  EXPECT_EQ(claims->directory_id(), dir);
  EXPECT_EQ(claims->level(), 30);
  ASSERT_EQ(claims->methods_size(), 2);
  EXPECT_EQ(claims->methods(0), cpb::AUTH_METHOD_PASSWORD);
  EXPECT_EQ(claims->methods(1), cpb::AUTH_METHOD_SMS_OTP);
}

TEST_F(E2eTest, PasswordAndEmailSucceeds) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User bob = cluster().CreateUser(dir, "bob");
  opb::LoginState state = Start(dir, "bob");
  ASSERT_TRUE(Password(state.login_id(), kPassword, &state).ok());
  state = Otp(state.login_id(), bob, otppb::CHANNEL_EMAIL);
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  absl::StatusOr<opb::ValidateSessionResponse> claims = Validate(state.session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->methods_size(), 2);
  EXPECT_EQ(claims->methods(1), cpb::AUTH_METHOD_EMAIL_OTP);
}

TEST_F(E2eTest, SmsAndEmailAloneDoNotSucceedAndAMethodCountsOnce) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User carol = cluster().CreateUser(dir, "carol");
  opb::LoginState state = Start(dir, "carol");
  const std::string login = state.login_id();
  std::string sms_code;
  state = Otp(login, carol, otppb::CHANNEL_SMS, false, &sms_code);
  EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(state.score(), 10);
  // The same code again: refused, and SMS still counts once.
  opb::LoginState again;
  grpc::Status reused = Verify(login, sms_code, &again);
  if (reused.ok()) {
    EXPECT_EQ(again.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(again.score(), 10);
  } else {
    EXPECT_EQ(reused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << reused.error_message();
  }
  // SMS is no longer offered: a second SMS is refused.
  opb::LoginState resent;
  EXPECT_EQ(Send(login, otppb::CHANNEL_SMS, &resent).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  state = Otp(login, carol, otppb::CHANNEL_EMAIL);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(state.score(), 20);
  ASSERT_EQ(state.completed_methods_size(), 2);
  opb::GetLoginRequest get;
  get.set_login_id(login);
  opb::GetLoginResponse got;
  ASSERT_TRUE(cluster().logins().GetLogin(Context().get(), get, &got).ok());
  EXPECT_EQ(got.state().status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(got.state().score(), 20);

  // The used code on another login (with its own fresh code) is rejected too.
  opb::LoginState other = Start(dir, "carol");
  const size_t mark = cluster().OutboxMark();
  ASSERT_TRUE(Send(other.login_id(), otppb::CHANNEL_SMS, &other).ok());
  const std::string fresh = cluster().WaitForCode(mark, "sms", carol.phone);
  ASSERT_FALSE(fresh.empty());
  if (fresh != sms_code) {  // one in a million: the new code equals the old one
    ASSERT_TRUE(Verify(other.login_id(), sms_code, &other).ok());
    EXPECT_EQ(other.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(other.score(), 0);
  }
}

TEST_F(E2eTest, SettingsChangeAppliesAtTheNextStep) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User admin = cluster().CreateUser(dir, "dana", {"admin"});
  const std::string admin_token = LoginWithPasswordAndSms(dir, admin);
  ASSERT_FALSE(admin_token.empty());

  opb::LoginState state = Start(dir, "dana");
  ASSERT_TRUE(Password(state.login_id(), kPassword, &state).ok());
  EXPECT_EQ(state.required_level(), 30);

  // The admin raises the level with their own session token.
  polpb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  polpb::GetAuthSettingsResponse current;
  ASSERT_TRUE(cluster().policies().GetAuthSettings(Context(admin_token).get(), get, &current).ok());
  polpb::UpdateAuthSettingsRequest update;
  *update.mutable_settings() = current.settings();
  update.mutable_settings()->set_required_level(40);
  update.set_etag(current.settings().etag());
  polpb::UpdateAuthSettingsResponse updated;
  grpc::Status s =
      cluster().policies().UpdateAuthSettings(Context(admin_token).get(), update, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::EndsWith(updated.settings().updated_by(), admin.id))
      << updated.settings().updated_by();

  state = Otp(state.login_id(), admin, otppb::CHANNEL_SMS);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(state.score(), 30);
  EXPECT_EQ(state.required_level(), 40);
  state = Otp(state.login_id(), admin, otppb::CHANNEL_EMAIL);
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(state.score(), 40);
  absl::StatusOr<opb::ValidateSessionResponse> claims = Validate(state.session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->level(), 40);
}

TEST_F(E2eTest, PasskeyOnlyAndDiscoverableLoginsAndReplayRefused) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User erin = cluster().CreateUser(dir, "erin");
  const std::string token = LoginWithPasswordAndSms(dir, erin);
  ASSERT_FALSE(token.empty());
  SoftAuthenticator authenticator(SoftAuthenticator::Alg::kES256);
  ASSERT_NO_FATAL_FAILURE(RegisterPasskey(dir, erin, token, authenticator));

  // Passkey only, with the username.
  opb::LoginState state = Start(dir, "erin");
  std::string options = StartPasskey(state.login_id());
  ASSERT_FALSE(options.empty());
  const std::string assertion = authenticator.AssertFromOptions(options, kOrigin);
  grpc::Status s = FinishPasskey(state.login_id(), assertion, &state);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  absl::StatusOr<opb::ValidateSessionResponse> claims = Validate(state.session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->user_id(), erin.id);
  ASSERT_EQ(claims->methods_size(), 1);
  EXPECT_EQ(claims->methods(0), cpb::AUTH_METHOD_PASSKEY);

  // The same assertion replayed on a new login is refused.
  opb::LoginState replay = Start(dir, "erin");
  ASSERT_FALSE(StartPasskey(replay.login_id()).empty());
  s = FinishPasskey(replay.login_id(), assertion, &replay);
  if (s.ok()) {
    EXPECT_EQ(replay.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_NE(replay.status(), opb::LOGIN_STATUS_SUCCEEDED);
    EXPECT_EQ(replay.score(), 0);
  } else {
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }

  // Discoverable: no username; the passkey names the user.
  opb::LoginState discoverable = Start(dir, "");
  options = StartPasskey(discoverable.login_id());
  ASSERT_FALSE(options.empty());
  s = FinishPasskey(discoverable.login_id(), authenticator.AssertFromOptions(options, kOrigin),
                    &discoverable);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(discoverable.status(), opb::LOGIN_STATUS_SUCCEEDED);
  claims = Validate(discoverable.session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->user_id(), erin.id);
}

TEST_F(E2eTest, LockoutAndItsExpiry) {
  const std::string dir = cluster().CreateDirectory();
  cluster().CreateUser(dir, "frank");
  opb::LoginState state;
  bool locked = false;
  for (int i = 0; i < 8 && !locked; ++i) {
    state = Start(dir, "frank");
    if (state.status() == opb::LOGIN_STATUS_LOCKED) {
      locked = true;
      break;
    }
    ASSERT_TRUE(Password(state.login_id(), "wrong password here", &state).ok());
    locked = state.status() == opb::LOGIN_STATUS_LOCKED;
    if (!locked) {
      EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    }
  }
  ASSERT_TRUE(locked) << "no lock after repeated wrong passwords";
  // While locked, even the right password is not checked.
  opb::LoginState during = Start(dir, "frank");
  if (during.status() != opb::LOGIN_STATUS_LOCKED) {
    ASSERT_TRUE(Password(during.login_id(), kPassword, &during).ok());
  }
  EXPECT_EQ(during.status(), opb::LOGIN_STATUS_LOCKED);
  EXPECT_GT(during.retry_after().seconds() + during.retry_after().nanos(), 0);
  EXPECT_LE(during.retry_after().seconds(), kLockoutSeconds);
  EXPECT_NE(during.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);

  // After the lock: the right password is accepted again.
  opb::LoginState after;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        after = Start(dir, "frank");
        if (after.status() == opb::LOGIN_STATUS_LOCKED) return false;
        return Password(after.login_id(), kPassword, &after).ok() &&
               after.status() != opb::LOGIN_STATUS_LOCKED;
      },
      absl::Seconds(4 * kLockoutSeconds)));
  EXPECT_EQ(after.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(after.score(), 20);
}

TEST_F(E2eTest, UnknownUsernameIsIndistinguishable) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User gina = cluster().CreateUser(dir, "gina");
  opb::LoginState known = Start(dir, "gina");
  opb::LoginState unknown = Start(dir, "nobody-" + testing::UniqueSuffix());
  EXPECT_EQ(known.status(), unknown.status());
  EXPECT_EQ(known.score(), unknown.score());
  EXPECT_EQ(known.required_level(), unknown.required_level());
  EXPECT_EQ(Offered(known), Offered(unknown));
  EXPECT_GT(known.offered_methods_size(), 0);

  // A wrong password: the same answer.
  opb::LoginState k, u;
  ASSERT_TRUE(Password(known.login_id(), "not the password", &k).ok());
  ASSERT_TRUE(Password(unknown.login_id(), "not the password", &u).ok());
  EXPECT_EQ(k.status(), u.status());
  EXPECT_EQ(k.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(k.last_step().outcome(), u.last_step().outcome());
  EXPECT_EQ(k.last_step().attempts_left(), u.last_step().attempts_left());
  EXPECT_EQ(k.score(), u.score());
  EXPECT_EQ(Offered(k), Offered(u));

  // A code "sent": the same shape of answer (the unknown one goes to nobody).
  ASSERT_TRUE(Send(known.login_id(), otppb::CHANNEL_SMS, &k).ok());
  ASSERT_TRUE(Send(unknown.login_id(), otppb::CHANNEL_SMS, &u).ok());
  EXPECT_EQ(k.status(), u.status());
  EXPECT_EQ(k.otp_delivery().channel(), u.otp_delivery().channel());
  EXPECT_EQ(k.otp_delivery().channel(), otppb::CHANNEL_SMS);
  // Before the user is proven nothing about the destination is shown, for either.
  EXPECT_EQ(k.otp_delivery().masked_destination(), u.otp_delivery().masked_destination());
  EXPECT_EQ(k.otp_delivery().has_resend_after(), u.otp_delivery().has_resend_after());
  EXPECT_EQ(Offered(k), Offered(u));
  ASSERT_TRUE(Verify(known.login_id(), "000000", &k).ok());
  ASSERT_TRUE(Verify(unknown.login_id(), "000000", &u).ok());
  EXPECT_EQ(k.last_step().outcome(), u.last_step().outcome());
  EXPECT_EQ(k.last_step().attempts_left(), u.last_step().attempts_left());
  EXPECT_EQ(k.score(), u.score());
  (void)gina;
}

// Codes to nobody are the OTP service's alone: this cluster's OTP service has a cooldown and
// attempts of its own (the orchestrator keeps no copy of them), which the unknown username meets
// exactly as a known user does; nothing is delivered and no code is accepted.
class E2eCodesToNobodyTest : public E2eTest {
 protected:
  static constexpr int kCooldownSeconds = 45;
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.tls = kTls;
    options.orchestrators = 1;
    options.metrics = true;
    options.flags["otp"] = {absl::StrCat("--otp_cooldown=", kCooldownSeconds, "s"),
                            "--otp_max_attempts=3"};
    StartCluster(options);
  }
};

TEST_F(E2eCodesToNobodyTest, ThrottledByTheOtpServiceNeverDeliveredNeverAccepted) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ivy = cluster().CreateUser(dir, "ivy");
  opb::LoginState known = Start(dir, "ivy");
  opb::LoginState unknown = Start(dir, "nobody-" + testing::UniqueSuffix());
  const size_t mark = cluster().OutboxMark();
  opb::LoginState k, u;
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  ASSERT_TRUE(Send(unknown.login_id(), otppb::CHANNEL_SMS, &u).ok());
  ASSERT_TRUE(Send(known.login_id(), otppb::CHANNEL_SMS, &k).ok());
  const int64_t after = absl::ToUnixSeconds(absl::Now());
  // The OTP service's cooldown, for both.
  for (const opb::LoginState* state : {&k, &u}) {
    EXPECT_GE(state->otp_delivery().resend_after().seconds(), before + kCooldownSeconds);
    EXPECT_LE(state->otp_delivery().resend_after().seconds(), after + kCooldownSeconds);
    EXPECT_EQ(state->otp_delivery().masked_destination(), "");
  }
  const std::string code = cluster().WaitForCode(mark, "sms", ivy.phone);
  ASSERT_FALSE(code.empty()) << "no code in the outbox";
  const std::regex refusal("a code was just sent to this destination; retry in [0-9]+s");
  for (const std::string& login : {known.login_id(), unknown.login_id()}) {
    opb::LoginState again;
    grpc::Status s = Send(login, otppb::CHANNEL_SMS, &again);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_TRUE(std::regex_match(s.error_message(), refusal)) << s.error_message();
  }

  // The OTP service's 3 attempts, counted alike; never accepted.
  const std::string wrong = code == "000000" ? "000001" : "000000";
  for (int left : {2, 1, 0}) {
    ASSERT_TRUE(Verify(known.login_id(), wrong, &k).ok());
    ASSERT_TRUE(Verify(unknown.login_id(), left == 0 ? code : wrong, &u).ok());
    EXPECT_EQ(k.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(u.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(k.last_step().attempts_left(), left);
    EXPECT_EQ(u.last_step().attempts_left(), left);
    EXPECT_EQ(u.score(), 0);
  }

  // One delivery (ivy's); the code to nobody was issued as such and never queued.
  EXPECT_EQ(cluster().OutboxMark(), mark + 1);
  absl::StatusOr<std::string> metrics =
      testing::HttpGet(cluster().service("otp").metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_TRUE(absl::StrContains(
      *metrics, "tally_otp_codes_issued_total{channel=\"sms\",result=\"no_recipient\"} 1"))
      << *metrics;
  EXPECT_TRUE(absl::StrContains(
      *metrics, "tally_otp_codes_issued_total{channel=\"sms\",result=\"issued\"} 1"));
}

TEST_F(E2eTest, StepUpRevocationAndIndependentVerification) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User hank = cluster().CreateUser(dir, "hank", {"admin"});
  const std::string token = LoginWithPasswordAndSms(dir, hank);
  ASSERT_FALSE(token.empty());

  // Step-up to 40: password and SMS of the session count; email completes it.
  opb::StartStepUpRequest step_up;
  step_up.set_session_token(token);
  step_up.set_required_level(40);
  step_up.set_max_age_seconds(600);
  opb::StartStepUpResponse stepped;
  grpc::Status s = cluster().logins().StartStepUp(Context().get(), step_up, &stepped);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stepped.state().status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(stepped.state().required_level(), 40);
  EXPECT_EQ(stepped.state().score(), 30);
  opb::LoginState state = Otp(stepped.state().login_id(), hank, otppb::CHANNEL_EMAIL);
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  const std::string higher = state.session().token();
  absl::StatusOr<opb::ValidateSessionResponse> claims = Validate(higher);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->level(), 40);
  EXPECT_EQ(claims->user_id(), hank.id);

  // An independent implementation (Python, python3-cryptography) checks the new token
  // against GetJwks.
  opb::GetJwksResponse jwks;
  ASSERT_TRUE(cluster().sessions().GetJwks(Context().get(), opb::GetJwksRequest(), &jwks).ok());
  const std::string jwks_file = absl::StrCat(cluster().temp_path(), "/published-jwks.json");
  const std::string token_file = absl::StrCat(cluster().temp_path(), "/token.txt");
  std::ofstream(jwks_file) << jwks.jwks_json();
  std::ofstream(token_file) << higher;
  const std::string script = absl::StrCat(testing::SourceDir(), "/tests/e2e/verify_token.py");
  testing::CommandResult verified = testing::RunCommand(
      {"/usr/bin/python3", script, jwks_file, token_file, "tally", hank.id, dir, "40"});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  // The script can fail: a token with a flipped signature byte, or the wrong subject.
  std::string tampered = higher;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  std::ofstream(token_file) << tampered;
  testing::CommandResult refused = testing::RunCommand(
      {"/usr/bin/python3", script, jwks_file, token_file, "tally", hank.id, dir, "40"});
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  std::ofstream(token_file) << higher;
  refused = testing::RunCommand(
      {"/usr/bin/python3", script, jwks_file, token_file, "tally", "usr_other", dir, "40"});
  EXPECT_NE(refused.exit_code, 0) << refused.output;

  // Revocation: the step-up token and the login it stepped up are one family (API.md "Changed
  // behaviour"), so revoking either ends both; another login of the same user lives on.
  const std::string other = LoginWithPasswordAndSms(dir, hank);
  ASSERT_FALSE(other.empty());
  opb::RevokeSessionRequest revoke;
  revoke.set_token(higher);
  opb::RevokeSessionResponse revoked;
  ASSERT_TRUE(cluster().sessions().RevokeSession(Context().get(), revoke, &revoked).ok());
  EXPECT_FALSE(Validate(higher).ok());
  EXPECT_FALSE(Validate(token).ok()) << "the stepped-up login is of the revoked family";
  EXPECT_TRUE(Validate(other).ok()) << "only the revoked session's family ends";
}

// SessionService.RevokeUserSessions (issue 19): every token of the user issued until then is
// refused by every service, not only the orchestrator; later logins work; an admin's own
// sessions live on.
TEST_F(E2eTest, RevokeUserSessionsEndsEveryTokenOfTheUserEverywhere) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ivy = cluster().CreateUser(dir, "ivy", {"admin"});
  const Cluster::User jack = cluster().CreateUser(dir, "jack");
  const std::string first = LoginWithPasswordAndSms(dir, jack);
  const std::string second = LoginWithPasswordAndSms(dir, jack);
  const std::string admin = LoginWithPasswordAndSms(dir, ivy);
  ASSERT_FALSE(first.empty() || second.empty() || admin.empty());
  auto get_user = [&](const std::string& token) {
    credpb::GetUserRequest request;
    request.set_user_id(jack.id);
    credpb::GetUserResponse response;
    return cluster().users().GetUser(Context(token).get(), request, &response);
  };
  ASSERT_TRUE(get_user(first).ok());

  opb::RevokeUserSessionsRequest revoke;
  revoke.set_user_id(jack.id);
  opb::RevokeUserSessionsResponse revoked;
  // Not without credentials, and not by the platform key (the user or an admin only).
  EXPECT_EQ(cluster().sessions().RevokeUserSessions(Context().get(), revoke, &revoked).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Validate(first).ok());
  grpc::Status s = cluster().sessions().RevokeUserSessions(Context(admin).get(), revoke, &revoked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(Validate(first).ok());
  EXPECT_FALSE(Validate(second).ok());
  EXPECT_EQ(get_user(second).error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "the credential service still takes a token of a user whose sessions were ended";
  EXPECT_TRUE(Validate(admin).ok()) << "only the user's sessions end";

  // A login after it is a new session, and the user may end their own.
  const std::string later = LoginWithPasswordAndSms(dir, jack);
  ASSERT_FALSE(later.empty());
  EXPECT_TRUE(Validate(later).ok());
  EXPECT_TRUE(get_user(later).ok());
  s = cluster().sessions().RevokeUserSessions(Context(later).get(), revoke, &revoked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(Validate(later).ok());
}

#ifdef TALLY_E2E_TLS
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The logins above ran over mutual TLS; here every service, the OTP senders included, refuses a
// plaintext client and a TLS client without a certificate, and none of them logged that it
// serves plaintext.
TEST_F(E2eTest, EveryServiceRequiresAClientCertificate) {
  grpc::SslCredentialsOptions no_client_cert;
  no_client_cert.pem_root_certs = ReadFile(absl::StrCat(cluster().temp_path(), "/ca.pem"));
  for (const std::string& name : cluster().service_names()) {
    SCOPED_TRACE(name);
    const std::string address = cluster().service(name).address();
    for (auto credentials :
         {grpc::InsecureChannelCredentials(), grpc::SslCredentials(no_client_cert)}) {
      auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, credentials));
      grpc::health::v1::HealthCheckResponse response;
      grpc::Status s = stub->Check(testing::NewContext("", "", absl::Seconds(3)).get(),
                                   grpc::health::v1::HealthCheckRequest(), &response);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    }
    EXPECT_TRUE(cluster().Serving(name));
    EXPECT_FALSE(absl::StrContains(cluster().service(name).process().Output(), "PLAINTEXT"));
  }
}

// Cluster callers are named (API.md "Cluster callers"): the orchestrator's certificate may check
// a password; the test's client certificate (a login client's, an admin tool's), from the same
// CA, is refused for it and for the other Tally-internal RPCs, while it still starts logins.
TEST_F(E2eTest, ClusterRpcsAdmitOnlyTheCallersTheContractNames) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ivan = cluster().CreateUser(dir, "ivan");
  credpb::VerifyPasswordRequest verify;
  verify.set_directory_id(dir);
  verify.set_username(ivan.username);
  verify.set_password(kPassword);
  credpb::VerifyPasswordResponse verified;
  auto as_orchestrator = credpb::CredentialService::NewStub(
      cluster().ChannelAs(cluster().credential_names().front(), "orchestrator"));
  grpc::Status s = as_orchestrator->VerifyPassword(Context().get(), verify, &verified);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(verified.user().user_id(), ivan.id);

  auto as_client = credpb::CredentialService::NewStub(
      cluster().ChannelAs(cluster().credential_names().front(), "client"));
  s = as_client->VerifyPassword(Context().get(), verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // Another Tally service is not the orchestrator either.
  auto as_passkey = credpb::CredentialService::NewStub(
      cluster().ChannelAs(cluster().credential_names().front(), "passkey"));
  s = as_passkey->VerifyPassword(Context().get(), verify, &verified);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  otppb::SendCodeRequest send;
  send.set_directory_id(dir);
  send.set_user_id(ivan.id);
  send.set_channel(otppb::CHANNEL_SMS);
  send.set_destination(ivan.phone);
  otppb::SendCodeResponse sent;
  const size_t mark = cluster().OutboxMark();
  s = otppb::OtpService::NewStub(cluster().ChannelAs("otp", "client"))
          ->SendCode(Context().get(), send, &sent);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  polpb::EvaluateRequest evaluate;
  evaluate.set_directory_id(dir);
  polpb::EvaluateResponse evaluated;
  s = polpb::PolicyService::NewStub(cluster().ChannelAs("policy", "client"))
          ->Evaluate(Context().get(), evaluate, &evaluated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  // A login client may log in (the logins above), and nothing was sent for the refused call.
  EXPECT_FALSE(Start(dir, ivan.username).login_id().empty());
  EXPECT_EQ(cluster().OutboxMark(), mark);
}
#endif

// Runs last in this file: it kills replica B.
TEST_F(E2eTest, ReplicaKilledBetweenStepsLoginFinishesOnAnother) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ivy = cluster().CreateUser(dir, "ivy");
  opb::LoginState state = Start(dir, "ivy", /*b=*/true);
  ASSERT_TRUE(Password(state.login_id(), kPassword, &state, /*b=*/true).ok());
  EXPECT_EQ(state.score(), 20);
  cluster().service("orchestrator-b").process().Signal(SIGKILL);
  absl::StatusOr<int> exit = cluster().service("orchestrator-b").process().Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, 128 + SIGKILL);
  state = Otp(state.login_id(), ivy, otppb::CHANNEL_SMS, /*b=*/false);
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(state.score(), 30);
  EXPECT_TRUE(Validate(state.session().token()).ok());
}

}  // namespace
}  // namespace tally
