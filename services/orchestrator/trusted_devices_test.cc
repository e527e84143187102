// UserDevices (SessionService.ListTrustedDevices / ForgetDevice): who may list and forget a
// user's remembered devices, on the credential fake. The login side (DeviceFactor) is tested
// through LoginManager in login_manager_test.cc.

#include "services/orchestrator/trusted_devices.h"

#include <string>

#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/util/proto_time.h"
#include "gtest/gtest.h"
#include "services/orchestrator/testing/fake_peers.h"
#include "services/orchestrator/testing/session_caller.h"

namespace tally::orchestrator {
namespace {

namespace credpb = ::tally::credential::v1;
using ::tally::orchestrator::testing::FakeCredentials;
using ::tally::orchestrator::testing::FakePolicy;
using ::tally::orchestrator::testing::Settings;
using ::tally::testing::FakeClock;

constexpr char kDir[] = "dir_acme";
constexpr char kOtherDir[] = "dir_other";
constexpr char kAlice[] = "usr_alice";
constexpr char kBob[] = "usr_bob";
constexpr char kAdmin[] = "usr_admin";
constexpr char kOtherAdmin[] = "usr_other_admin";
constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

class UserDevicesTest : public ::testing::Test {
 protected:
  UserDevicesTest() {
    credentials_.set_clock(clock_);
    credentials_.Add(kDir, kAlice, "alice", "pw", "+15550100", "alice@example.com");
    credentials_.Add(kDir, kBob, "bob", "pw", "+15550101", "bob@example.com");
    credentials_.Add(kDir, kAdmin, "admin", "pw", "+15550102", "admin@example.com", {"admin"});
    credentials_.Add(kOtherDir, kOtherAdmin, "other", "pw", "+15550103", "o@example.com",
                     {"admin"});
    policy_.Set(kDir, Settings(30, 20, 10, 10, 30));
    credpb::CreateDeviceRequest create;
    create.set_directory_id(kDir);
    create.set_user_id(kAlice);
    create.set_device_name("Firefox on Linux");
    device_id_ = credentials_.CreateDevice(create, kNoDeadline)->device().device_id();
  }

  Caller Session(const std::string& dir, const std::string& user, absl::Duration ago = {},
                 std::vector<std::string> roles = {"user"}) {
    return testing::SessionCaller(clock_.Now(), dir, user, ago, std::move(roles));
  }
  absl::StatusOr<pb::ListTrustedDevicesResponse> List(const Caller& caller,
                                                      const std::string& user_id) {
    pb::ListTrustedDevicesRequest request;
    request.set_user_id(user_id);
    return devices_.ListTrustedDevices(caller, request, kNoDeadline);
  }
  absl::Status Forget(const Caller& caller, const std::string& user_id,
                      const std::string& device_id) {
    pb::ForgetDeviceRequest request;
    request.set_user_id(user_id);
    request.set_device_id(device_id);
    return devices_.ForgetDevice(caller, request, kNoDeadline).status();
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  FakeCredentials credentials_;
  FakePolicy policy_;
  UserDevices devices_{credentials_, policy_};
  std::string device_id_;
};

TEST_F(UserDevicesTest, TheUserAndTheirAdminListTheDevicesUntilTheyExpire) {
  for (const Caller& caller : {Session(kDir, kAlice, absl::Hours(5)),
                               Session(kDir, kAdmin, absl::Hours(5), {"admin"})}) {
    absl::StatusOr<pb::ListTrustedDevicesResponse> listed = List(caller, kAlice);
    ASSERT_TRUE(listed.ok()) << listed.status();
    ASSERT_EQ(listed->devices_size(), 1);
    EXPECT_EQ(listed->devices(0).device_id(), device_id_);
    EXPECT_EQ(listed->devices(0).device_name(), "Firefox on Linux");
    EXPECT_FALSE(listed->devices(0).has_last_used_time());
    // The directory's trusted_device_max_age (30 days when unset).
    EXPECT_EQ(FromProtoTime(listed->devices(0).expire_time()),
              clock_.Now() + absl::Hours(24 * 30));
  }
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_EQ(List(Session(kDir, kAlice), kAlice)->devices_size(), 0);
}

TEST_F(UserDevicesTest, NobodyElseListsOrForgetsThem) {
  // Another user of the directory.
  EXPECT_EQ(List(Session(kDir, kBob), kAlice).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Forget(Session(kDir, kBob), kAlice, device_id_).code(),
            absl::StatusCode::kPermissionDenied);
  // An admin of another directory: the user is not in it.
  const Caller other = Session(kOtherDir, kOtherAdmin, {}, {"admin"});
  EXPECT_FALSE(List(other, kAlice).ok());
  EXPECT_FALSE(Forget(other, kAlice, device_id_).ok());
  // Bob cannot forget Alice's device under his own name either.
  EXPECT_EQ(Forget(Session(kDir, kBob), kBob, device_id_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(List(Session(kDir, kAlice), kAlice)->devices_size(), 1);
}

TEST_F(UserDevicesTest, TheUserForgetsWithAFreshTokenAnAdminAnyway) {
  absl::Status stale = Forget(Session(kDir, kAlice, absl::Hours(5)), kAlice, device_id_);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  EXPECT_EQ(List(Session(kDir, kAlice), kAlice)->devices_size(), 1);
  EXPECT_TRUE(Forget(Session(kDir, kAlice), kAlice, device_id_).ok());
  EXPECT_EQ(List(Session(kDir, kAlice), kAlice)->devices_size(), 0);
  EXPECT_EQ(Forget(Session(kDir, kAdmin, absl::Hours(5), {"admin"}), kAlice, device_id_).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tally::orchestrator
