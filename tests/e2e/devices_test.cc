// End to end (issue 22): remembered devices and per-application levels against the whole
// cluster as separate processes, with the FREEMIUM defaults (password 20, SMS 10, e-mail 10,
// remembered device 10, level 30): a remembered device turns the password alone into a full
// login; it adds nothing for another user, as garbage, once forgotten or after a password
// change; min_level above the directory's needs a third method, above every method's sum it is
// refused. Before issue 22 RememberDevice, ListTrustedDevices and ForgetDevice answered
// UNIMPLEMENTED and StartLoginRequest.device_token / min_level were ignored, so every test here
// failed against that code.

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
using ::grpc::StatusCode;
using testing::Cluster;

class DevicesTest : public testing::ClusterTest<DevicesTest> {
 protected:
  // A new login of `user` with `device_token` and `min_level`: its first state.
  opb::LoginState Start(const std::string& dir, const Cluster::User& user,
                        const std::string& device_token, int min_level = 0,
                        grpc::Status* status = nullptr) {
    opb::StartLoginRequest request;
    request.set_directory_id(dir);
    request.set_username(user.username);
    request.set_device_token(device_token);
    request.set_min_level(min_level);
    opb::StartLoginResponse response;
    grpc::Status s =
        cluster().logins().StartLogin(testing::NewContext().get(), request, &response);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << testing::Describe(s);
    }
    return response.state();
  }
  // `state`'s login after `password`.
  opb::LoginState Password(const opb::LoginState& state,
                           const std::string& password = testing::kClusterPassword) {
    opb::LoginState after;
    grpc::Status s = testing::SubmitPassword(cluster().logins(), state.login_id(), password, &after);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return after;
  }
  // `state`'s login after a code on `channel` to `destination`.
  opb::LoginState Code(const opb::LoginState& state, otppb::Channel channel,
                       const std::string& destination) {
    const size_t mark = cluster().OutboxMark();
    opb::LoginState after;
    grpc::Status s = testing::SendOtp(cluster().logins(), state.login_id(), channel, &after);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    const std::string code = cluster().WaitForCode(
        mark, channel == otppb::CHANNEL_SMS ? "sms" : "email", destination);
    EXPECT_FALSE(code.empty()) << "no code in the outbox";
    s = testing::VerifyOtp(cluster().logins(), state.login_id(), code, &after);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return after;
  }
  // Password + SMS, then RememberDevice: the device's token; `session` gets the login's token.
  opb::RememberDeviceResponse LogInAndRemember(const std::string& dir, const Cluster::User& user,
                                               std::string* session = nullptr) {
    opb::LoginState s = Start(dir, user, "");
    Password(s);
    opb::LoginState done = Code(s, otppb::CHANNEL_SMS, user.phone);
    EXPECT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
    if (session != nullptr) *session = done.session().token();
    opb::RememberDeviceRequest request;
    request.set_login_id(s.login_id());
    request.set_device_name("Firefox on Linux");
    opb::RememberDeviceResponse response;
    grpc::Status status =
        cluster().logins().RememberDevice(testing::NewContext().get(), request, &response);
    EXPECT_TRUE(status.ok()) << testing::Describe(status);
    EXPECT_FALSE(response.device_token().empty());
    return response;
  }
  // Whether `device_token` alone with the password logs `user` in.
  bool PasswordAndDeviceSucceed(const std::string& dir, const Cluster::User& user,
                                const std::string& device_token,
                                const std::string& password = testing::kClusterPassword) {
    opb::LoginState after = Password(Start(dir, user, device_token), password);
    EXPECT_NE(after.status(), opb::LOGIN_STATUS_UNSPECIFIED);
    if (after.status() != opb::LOGIN_STATUS_SUCCEEDED) {
      // Exactly what no token answers: the password's points, nothing else.
      EXPECT_EQ(after.status(), opb::LOGIN_STATUS_IN_PROGRESS);
      EXPECT_EQ(after.score(), 20);
      EXPECT_EQ(after.completed_methods_size(), 1);
      EXPECT_FALSE(after.has_session());
    }
    return after.status() == opb::LOGIN_STATUS_SUCCEEDED;
  }
};

TEST_F(DevicesTest, ARememberedDeviceTurnsThePasswordIntoAFullLogin) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ann = cluster().CreateUser(dir, "ann");
  const size_t mark = cluster().OutboxMark();
  std::string session;
  const opb::RememberDeviceResponse device = LogInAndRemember(dir, ann, &session);
  // Ann hears of it by e-mail.
  EXPECT_FALSE(cluster()
                   .WaitForMessage(mark, "email", ann.email,
                                   [](const std::string& text) {
                                     return absl::StrContains(text, "device was");
                                   })
                   .empty())
      << "no NOTICE_DEVICE_REMEMBERED";

  opb::LoginState s = Start(dir, ann, device.device_token());
  for (const cpb::MethodPoints& offer : s.offered_methods()) {
    EXPECT_NE(offer.method(), cpb::AUTH_METHOD_TRUSTED_DEVICE) << "never offered";
  }
  opb::LoginState done = Password(s);
  ASSERT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done.score(), 30);
  opb::ValidateSessionResponse claims;
  ASSERT_TRUE(testing::ValidateSession(cluster().sessions(), done.session().token(), &claims).ok());
  EXPECT_EQ(claims.level(), 30);
  bool has_device = false;
  for (int method : claims.methods()) has_device |= method == cpb::AUTH_METHOD_TRUSTED_DEVICE;
  EXPECT_TRUE(has_device) << "the methods claim names trusted_device";

  // Ann sees it listed, used.
  opb::ListTrustedDevicesRequest list;
  list.set_user_id(ann.id);
  opb::ListTrustedDevicesResponse listed;
  grpc::Status st =
      cluster().sessions().ListTrustedDevices(testing::NewContext(session).get(), list, &listed);
  ASSERT_TRUE(st.ok()) << testing::Describe(st);
  ASSERT_EQ(listed.devices_size(), 1);
  EXPECT_EQ(listed.devices(0).device_id(), device.device_id());
  EXPECT_EQ(listed.devices(0).device_name(), "Firefox on Linux");
  EXPECT_TRUE(listed.devices(0).has_last_used_time());
  // So does tallyctl.
  testing::CommandResult cli = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"),
       absl::StrCat("--addr=", cluster().service("orchestrator-a").address()),
       absl::StrCat("--token=", session), "devices", "list", ann.id});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_TRUE(absl::StrContains(cli.output, device.device_id())) << cli.output;
  EXPECT_TRUE(absl::StrContains(cli.output, "Firefox on Linux")) << cli.output;
  // Nobody without a token lists them.
  EXPECT_EQ(cluster().sessions().ListTrustedDevices(testing::NewContext().get(), list, &listed)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
}

TEST_F(DevicesTest, AnotherUsersOrAGarbageTokenAddsNothing) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User bo = cluster().CreateUser(dir, "bo");
  const Cluster::User cy = cluster().CreateUser(dir, "cy");
  const opb::RememberDeviceResponse device = LogInAndRemember(dir, bo);
  EXPECT_FALSE(PasswordAndDeviceSucceed(dir, cy, device.device_token()));
  EXPECT_FALSE(PasswordAndDeviceSucceed(dir, bo, "garbage-token"));
  EXPECT_FALSE(PasswordAndDeviceSucceed(dir, bo, ""));
  // The device still works for its own user.
  EXPECT_TRUE(PasswordAndDeviceSucceed(dir, bo, device.device_token()));
  // Only a succeeded login is remembered.
  opb::RememberDeviceRequest early;
  early.set_login_id(Start(dir, cy, "").login_id());
  early.set_device_name("laptop");
  opb::RememberDeviceResponse response;
  EXPECT_EQ(cluster().logins().RememberDevice(testing::NewContext().get(), early, &response)
                .error_code(),
            StatusCode::FAILED_PRECONDITION);
}

TEST_F(DevicesTest, AForgottenDeviceNoLongerCounts) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User di = cluster().CreateUser(dir, "di");
  std::string session;
  const opb::RememberDeviceResponse device = LogInAndRemember(dir, di, &session);
  ASSERT_TRUE(PasswordAndDeviceSucceed(dir, di, device.device_token()));
  opb::ForgetDeviceRequest forget;
  forget.set_user_id(di.id);
  forget.set_device_id(device.device_id());
  opb::ForgetDeviceResponse forgotten;
  grpc::Status s =
      cluster().sessions().ForgetDevice(testing::NewContext(session).get(), forget, &forgotten);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_FALSE(PasswordAndDeviceSucceed(dir, di, device.device_token()));
  EXPECT_EQ(
      cluster().sessions().ForgetDevice(testing::NewContext(session).get(), forget, &forgotten)
          .error_code(),
      StatusCode::NOT_FOUND);
}

TEST_F(DevicesTest, APasswordChangeForgetsTheDevices) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ed = cluster().CreateUser(dir, "ed");
  std::string session;
  const opb::RememberDeviceResponse device = LogInAndRemember(dir, ed, &session);
  credpb::SetPasswordRequest change;
  change.set_user_id(ed.id);
  change.set_current_password(testing::kClusterPassword);
  change.set_new_password("eds brand new passphrase");
  credpb::SetPasswordResponse changed;
  grpc::Status s =
      cluster().users().SetPassword(testing::NewContext(session).get(), change, &changed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_FALSE(PasswordAndDeviceSucceed(dir, ed, device.device_token(), "eds brand new passphrase"));
}

TEST_F(DevicesTest, MinLevelAboveTheDirectorysNeedsAThirdMethodAndAnUnreachableOneIsRefused) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User fy = cluster().CreateUser(dir, "fy");
  opb::LoginState s = Start(dir, fy, "", /*min_level=*/40);
  EXPECT_EQ(s.required_level(), 40);
  Password(s);
  opb::LoginState two = Code(s, otppb::CHANNEL_SMS, fy.phone);
  EXPECT_EQ(two.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(two.score(), 30);
  opb::LoginState three = Code(s, otppb::CHANNEL_EMAIL, fy.email);
  ASSERT_EQ(three.status(), opb::LOGIN_STATUS_SUCCEEDED);
  opb::ValidateSessionResponse claims;
  ASSERT_TRUE(
      testing::ValidateSession(cluster().sessions(), three.session().token(), &claims).ok());
  EXPECT_EQ(claims.level(), 40);

  // Below the directory's level: ignored.
  EXPECT_EQ(Start(dir, fy, "", 10).required_level(), 30);
  // Above every enabled method's sum: refused.
  grpc::Status refused;
  Start(dir, fy, "", 1000, &refused);
  EXPECT_EQ(refused.error_code(), StatusCode::FAILED_PRECONDITION) << testing::Describe(refused);
}

}  // namespace
}  // namespace tally
