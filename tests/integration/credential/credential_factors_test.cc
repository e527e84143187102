// The credential service's second factors and remembered devices against the real binaries
// (tally-credential asking the real tally-policy for levels and names) and the real PostgreSQL:
// enrolment's level and freshness gate, confirmation, replay across calls, codes computed from
// the otpauth URI by an independent implementation (oathtool), single use under 16 parallel
// calls, regeneration, the attempt budget and remembered devices.

#include <algorithm>
#include <atomic>
#include <functional>
#include <latch>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/error_details.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"

namespace tally {
namespace {

namespace pb = ::tally::credential::v1;
using ::testing::HasSubstr;
using testing::NewContext;
using ::testing::StartsWith;

constexpr int kAttempts = 40;

// The cluster runs for the whole suite; each test makes its own directory and users.
class CredentialFactorsTest : public testing::ClusterTest<CredentialFactorsTest> {
 public:
  static testing::ClusterOptions Options() {
    testing::ClusterOptions options;
    options.orchestrators = 1;
    // 16 parallel calls of one user fit in the attempt budget (the default, 10, is unit-tested).
    options.flags["credential"] = {absl::StrCat("--factor_attempts=", kAttempts)};
    return options;
  }

 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ClusterTest::SetUp());
    directory_ = cluster().CreateDirectory(policy::v1::TIER_FREEMIUM);  // level 30
    alice_ = cluster().CreateUser(directory_, absl::StrCat("alice", testing::UniqueSuffix()));
    bob_ = cluster().CreateUser(directory_, absl::StrCat("bob", testing::UniqueSuffix()));
  }

  // A session token of `user` in this test's directory, logged in `age` ago.
  std::string Token(const std::string& user, int level, absl::Duration age,
                    std::vector<std::string> roles = {"user"}) {
    return cluster().keys().Token({.directory_id = directory_,
                                   .user_id = user,
                                   .roles = std::move(roles),
                                   .acr = absl::StrCat(level),
                                   .auth_time = absl::Now() - age});
  }
  std::string Fresh(const std::string& user) { return Token(user, 30, absl::ZeroDuration()); }

  grpc::Status Start(const std::string& token, const std::string& user,
                     pb::StartTotpEnrollmentResponse* response) {
    pb::StartTotpEnrollmentRequest request;
    request.set_user_id(user);
    return cluster().users().StartTotpEnrollment(NewContext(token).get(), request, response);
  }

  grpc::Status Confirm(const std::string& token, const std::string& enrollment,
                       const std::string& code) {
    pb::ConfirmTotpEnrollmentRequest request;
    request.set_enrollment_id(enrollment);
    request.set_code(code);
    pb::ConfirmTotpEnrollmentResponse response;
    return cluster().users().ConfirmTotpEnrollment(NewContext(token).get(), request, &response);
  }

  grpc::Status VerifyTotp(const std::string& user, const std::string& code) {
    pb::VerifyTotpRequest request;
    request.set_directory_id(directory_);
    request.set_user_id(user);
    request.set_code(code);
    pb::VerifyTotpResponse response;
    return cluster().users().VerifyTotp(NewContext().get(), request, &response);
  }

  grpc::Status UseRecoveryCode(const std::string& user, const std::string& code,
                               int* left = nullptr) {
    pb::VerifyRecoveryCodeRequest request;
    request.set_directory_id(directory_);
    request.set_user_id(user);
    request.set_code(code);
    pb::VerifyRecoveryCodeResponse response;
    grpc::Status s = cluster().users().VerifyRecoveryCode(NewContext().get(), request, &response);
    if (left != nullptr) *left = response.codes_left();
    return s;
  }

  pb::User GetUser(const std::string& user) {
    pb::GetUserRequest request;
    request.set_user_id(user);
    pb::GetUserResponse response;
    EXPECT_TRUE(cluster().users().GetUser(NewContext().get(), request, &response).ok());
    return response.user();
  }

  // Makes `n` calls at once (released together from a latch); returns how many succeeded.
  static int SucceedingAtOnce(int n, const std::function<grpc::Status()>& call) {
    std::atomic<int> succeeded{0};
    std::latch go(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        go.arrive_and_wait();
        if (call().ok()) ++succeeded;
      });
    }
    for (std::thread& t : threads) t.join();
    return succeeded.load();
  }

  // A remembered device of `user`; returns its token.
  std::string RememberDevice(const std::string& user) {
    pb::CreateDeviceRequest request;
    request.set_directory_id(directory_);
    request.set_user_id(user);
    request.set_device_name("Firefox on Linux");
    pb::CreateDeviceResponse response;
    grpc::Status s = cluster().users().CreateDevice(NewContext().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.device_token();
  }

  grpc::Status VerifyDevice(const std::string& user, const std::string& token,
                            absl::Duration max_age = absl::Hours(24 * 30),
                            pb::VerifyDeviceResponse* response = nullptr) {
    pb::VerifyDeviceRequest request;
    request.set_directory_id(directory_);
    request.set_user_id(user);
    request.set_device_token(token);
    *request.mutable_max_age() = ToProtoDuration(max_age);
    pb::VerifyDeviceResponse ignored;
    return cluster().users().VerifyDevice(NewContext().get(), request,
                                          response != nullptr ? response : &ignored);
  }

  // Moves the device's creation `age` into the past, as if it had been remembered then: the
  // service's clock is real, so expiry is reached by ageing the row, not by waiting.
  static void AgeDevice(const std::string& device_id, absl::Duration age) {
    pqxx::connection connection(cluster().options().postgres_url);
    pqxx::work tx(connection);
    int updated = 0;
    // Each cluster has its own credential schema; the device id is unique across them.
    for (const pqxx::row& row :
         tx.exec("SELECT schemaname FROM pg_tables WHERE tablename = 'devices'")) {
      updated += tx.exec_params(absl::StrCat("UPDATE ", tx.quote_name(row[0].as<std::string>()),
                                             ".devices SET create_time = create_time - "
                                             "make_interval(secs => $2) WHERE device_id = $1"),
                                device_id, absl::ToDoubleSeconds(age))
                     .affected_rows();
    }
    tx.commit();
    ASSERT_EQ(updated, 1) << device_id;
  }

  // The code an authenticator app shows now for the otpauth URI, computed by oathtool
  // (Debian's OATH Toolkit), which knows nothing of Tally: `offset` steps from now.
  static std::string Oathtool(const std::string& otpauth_uri, int offset = 0) {
    const std::string query = otpauth_uri.substr(otpauth_uri.find('?') + 1);
    std::string secret;
    for (absl::string_view param : absl::StrSplit(query, '&')) {
      if (absl::StartsWith(param, "secret=")) secret = std::string(param.substr(7));
    }
    EXPECT_FALSE(secret.empty()) << otpauth_uri;
    const auto result = testing::RunCommand(
        {"/usr/bin/oathtool", "--totp=sha1", "--digits=6", "--time-step-size=30s", "--base32",
         absl::StrCat("--now=@", absl::ToUnixSeconds(absl::Now() + absl::Seconds(30 * offset))),
         secret});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return std::string(absl::StripAsciiWhitespace(result.output));
  }

  // Enrols `user` with a code from oathtool; returns the otpauth URI.
  std::string Enrol(const std::string& user) {
    pb::StartTotpEnrollmentResponse started;
    grpc::Status s = Start(Fresh(user), user, &started);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = Confirm(Fresh(user), started.enrollment_id(), Oathtool(started.otpauth_uri()));
    EXPECT_TRUE(s.ok()) << s.error_message();
    return started.otpauth_uri();
  }

  std::string directory_;
  testing::Cluster::User alice_;
  testing::Cluster::User bob_;
};

TEST_F(CredentialFactorsTest, EnrolmentNeedsTheLevelThenAFreshSession) {
  pb::StartTotpEnrollmentResponse started;
  // Below the directory's level (20 < 30): PERMISSION_DENIED, whatever the age.
  grpc::Status low = Start(Token(alice_.id, 20, absl::ZeroDuration()), alice_.id, &started);
  EXPECT_EQ(low.error_code(), grpc::StatusCode::PERMISSION_DENIED) << low.error_message();
  EXPECT_THAT(low.error_message(), HasSubstr("required level 30"));
  low = Start(Token(alice_.id, 20, absl::Hours(1)), alice_.id, &started);
  EXPECT_EQ(low.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // At the level but logged in 6 minutes ago (--reauth_max_age 5m).
  grpc::Status stale = Start(Token(alice_.id, 30, absl::Minutes(6)), alice_.id, &started);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  // Bob, even as an admin, cannot enrol for Alice.
  grpc::Status other =
      Start(Token(bob_.id, 30, absl::ZeroDuration(), {"admin"}), alice_.id, &started);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status fresh = Start(Fresh(alice_.id), alice_.id, &started);
  ASSERT_TRUE(fresh.ok()) << fresh.error_message();
  EXPECT_THAT(started.otpauth_uri(), StartsWith("otpauth://totp/"));
  EXPECT_THAT(started.otpauth_uri(),
              HasSubstr(absl::StrCat(":", alice_.username, "?secret=", started.secret_base32())));
  EXPECT_THAT(started.otpauth_uri(), HasSubstr("&algorithm=SHA1&digits=6&period=30"));
  EXPECT_THAT(started.qr_svg(), HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_GE(started.secret_base32().size(), 32u);  // >= 160 bits
  EXPECT_FALSE(GetUser(alice_.id).has_totp());
}

TEST_F(CredentialFactorsTest, OathtoolCodesConfirmAndLogInEachStepOnce) {
  pb::StartTotpEnrollmentResponse started;
  ASSERT_TRUE(Start(Fresh(alice_.id), alice_.id, &started).ok());
  // A code of another time is wrong; the enrolment stays pending.
  grpc::Status wrong =
      Confirm(Fresh(alice_.id), started.enrollment_id(), Oathtool(started.otpauth_uri(), 10));
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const std::string first = Oathtool(started.otpauth_uri());
  grpc::Status confirmed = Confirm(Fresh(alice_.id), started.enrollment_id(), first);
  ASSERT_TRUE(confirmed.ok()) << confirmed.error_message();
  EXPECT_TRUE(GetUser(alice_.id).has_totp());
  // The confirming code cannot be replayed to log in; the next step's code works once.
  EXPECT_EQ(VerifyTotp(alice_.id, first).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const std::string next = Oathtool(started.otpauth_uri(), 1);
  grpc::Status verified = VerifyTotp(alice_.id, next);
  EXPECT_TRUE(verified.ok()) << verified.error_message();
  grpc::Status replay = VerifyTotp(alice_.id, next);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Bob has no app: the same answer as a wrong code.
  grpc::Status none = VerifyTotp(bob_.id, next);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(none.error_message(), replay.error_message());
}

TEST_F(CredentialFactorsTest, OneCodeVerifiedSixteenTimesAtOnceCountsOnce) {
  const std::string uri = Enrol(alice_.id);
  const std::string code = Oathtool(uri, 1);
  EXPECT_EQ(SucceedingAtOnce(16, [&] { return VerifyTotp(alice_.id, code); }), 1);
}

TEST_F(CredentialFactorsTest, RecoveryCodesWorkOnceEvenInParallelAndRegeneratingVoidsThem) {
  pb::GenerateRecoveryCodesRequest generate;
  generate.set_user_id(alice_.id);
  pb::GenerateRecoveryCodesResponse first;
  grpc::Status stale = cluster().users().GenerateRecoveryCodes(
      NewContext(Token(alice_.id, 30, absl::Minutes(6))).get(), generate, &first);
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  ASSERT_TRUE(cluster().users()
                  .GenerateRecoveryCodes(NewContext(Fresh(alice_.id)).get(), generate, &first)
                  .ok());
  ASSERT_EQ(first.codes_size(), 10);
  EXPECT_EQ(GetUser(alice_.id).recovery_codes_left(), 10);

  // 16 parallel uses of one code: exactly one succeeds.
  EXPECT_EQ(SucceedingAtOnce(16, [&] { return UseRecoveryCode(alice_.id, first.codes(0)); }), 1);
  EXPECT_EQ(GetUser(alice_.id).recovery_codes_left(), 9);

  // Typed in capitals with spaces: still the code. Bob cannot use Alice's codes.
  std::string typed = absl::AsciiStrToUpper(first.codes(1));
  std::replace(typed.begin(), typed.end(), '-', ' ');
  EXPECT_EQ(UseRecoveryCode(bob_.id, typed).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  int left = -1;
  ASSERT_TRUE(UseRecoveryCode(alice_.id, typed, &left).ok());
  EXPECT_EQ(left, 8);

  pb::GenerateRecoveryCodesResponse second;
  ASSERT_TRUE(cluster().users()
                  .GenerateRecoveryCodes(NewContext(Fresh(alice_.id)).get(), generate, &second)
                  .ok());
  EXPECT_EQ(UseRecoveryCode(alice_.id, first.codes(2)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(UseRecoveryCode(alice_.id, second.codes(2), &left).ok());
  EXPECT_EQ(left, 9);
}

TEST_F(CredentialFactorsTest, GuessingStopsAtThePerUserBudget) {
  const std::string uri = Enrol(alice_.id);
  // Seven digits can never be right, and still count.
  for (int i = 0; i < kAttempts; ++i) {
    ASSERT_EQ(VerifyTotp(alice_.id, "0000000").error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << i;
  }
  // Every further attempt is refused unchecked, the right code included.
  grpc::Status spent = VerifyTotp(alice_.id, Oathtool(uri, 1));
  EXPECT_EQ(spent.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << spent.error_message();
}

TEST_F(CredentialFactorsTest, DeleteTotpNeedsAFreshAdminOrUser) {
  Enrol(alice_.id);
  pb::DeleteTotpRequest request;
  request.set_user_id(alice_.id);
  pb::DeleteTotpResponse response;
  grpc::Status stale = cluster().users().DeleteTotp(
      NewContext(Token(bob_.id, 30, absl::Hours(1), {"admin"})).get(), request, &response);
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  grpc::Status not_admin =
      cluster().users().DeleteTotp(NewContext(Fresh(bob_.id)).get(), request, &response);
  EXPECT_EQ(not_admin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status deleted = cluster().users().DeleteTotp(
      NewContext(Token(bob_.id, 30, absl::ZeroDuration(), {"admin"})).get(), request, &response);
  ASSERT_TRUE(deleted.ok()) << deleted.error_message();
  EXPECT_FALSE(response.user().has_totp());
  EXPECT_FALSE(GetUser(alice_.id).has_totp());
}

TEST_F(CredentialFactorsTest, RememberedDevicesCountUntilTheCurrentMaxAge) {
  pb::CreateDeviceRequest create;
  create.set_directory_id(directory_);
  create.set_user_id(alice_.id);
  create.set_device_name("Firefox on Linux");
  pb::CreateDeviceResponse created;
  grpc::Status s = cluster().users().CreateDevice(NewContext().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(created.device_token().size(), 22u);  // >= 128 bits in base64url

  auto verify = [&](const std::string& user, const std::string& token, absl::Duration max_age) {
    pb::VerifyDeviceResponse response;
    grpc::Status status = VerifyDevice(user, token, max_age, &response);
    return std::make_pair(status, response);
  };
  auto [ok, device] = verify(alice_.id, created.device_token(), absl::Hours(24 * 30));
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(device.device().has_last_used_time());
  EXPECT_EQ(device.device().device_id(), created.device().device_id());

  // Another user's token, garbage, and a setting shortened below the device's age (remembered
  // two days ago, now a day): one answer. A longer setting lets it count again.
  const grpc::Status other = verify(bob_.id, created.device_token(), absl::Hours(24)).first;
  EXPECT_EQ(other.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status garbage = verify(alice_.id, "garbage", absl::Hours(24)).first;
  EXPECT_EQ(garbage.error_code(), other.error_code());
  EXPECT_EQ(garbage.error_message(), other.error_message());
  AgeDevice(created.device().device_id(), absl::Hours(48));
  const grpc::Status expired = verify(alice_.id, created.device_token(), absl::Hours(24)).first;
  EXPECT_EQ(expired.error_code(), other.error_code());
  EXPECT_EQ(expired.error_message(), other.error_message());
  EXPECT_TRUE(verify(alice_.id, created.device_token(), absl::Hours(72)).first.ok());

  pb::ListDevicesRequest list;
  list.set_directory_id(directory_);
  list.set_user_id(alice_.id);
  pb::ListDevicesResponse listed;
  ASSERT_TRUE(cluster().users().ListDevices(NewContext().get(), list, &listed).ok());
  ASSERT_EQ(listed.devices_size(), 1);
  EXPECT_EQ(listed.devices(0).device_name(), "Firefox on Linux");

  pb::DeleteDeviceRequest forget;
  forget.set_directory_id(directory_);
  forget.set_user_id(alice_.id);
  forget.set_device_id(created.device().device_id());
  pb::DeleteDeviceResponse forgotten;
  ASSERT_TRUE(cluster().users().DeleteDevice(NewContext().get(), forget, &forgotten).ok());
  const grpc::Status after = verify(alice_.id, created.device_token(), absl::Hours(24)).first;
  EXPECT_EQ(after.error_message(), other.error_message());
  EXPECT_EQ(cluster().users().DeleteDevice(NewContext().get(), forget, &forgotten).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CredentialFactorsTest, ANewPasswordForgetsTheUsersRememberedDevices) {
  const std::string alices = RememberDevice(alice_.id);
  const std::string bobs = RememberDevice(bob_.id);
  ASSERT_TRUE(VerifyDevice(alice_.id, alices).ok());

  pb::SetPasswordRequest request;
  request.set_user_id(alice_.id);
  request.set_new_password("a-new-password-for-alice");
  pb::SetPasswordResponse response;
  grpc::Status set = cluster().users().SetPassword(
      NewContext(Token(bob_.id, 30, absl::ZeroDuration(), {"admin"})).get(), request, &response);
  ASSERT_TRUE(set.ok()) << set.error_message();

  // DESIGN.md §1 rule 9: Alice's device no longer counts; Bob's is untouched.
  EXPECT_EQ(VerifyDevice(alice_.id, alices).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(VerifyDevice(bob_.id, bobs).ok());
}

}  // namespace
}  // namespace tally
