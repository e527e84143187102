// The gRPC peers over gMock stubs: deadlines, retries only for idempotent reads, and errors
// naming the peer; the settings cache.
#include "services/orchestrator/grpc_peers.h"

#include <grpcpp/client_context.h>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/credential/v1/credential_mock.grpc.pb.h"
#include "tally/passkey/v1/passkey_mock.grpc.pb.h"
#include "tally/policy/v1/policy_mock.grpc.pb.h"

namespace tally::orchestrator {
namespace {

namespace credpb = ::tally::credential::v1;
namespace polpb = ::tally::policy::v1;
namespace pkpb = ::tally::passkey::v1;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;

PeerCallOptions FastOptions() {
  PeerCallOptions options;
  options.timeout = absl::Seconds(5);
  options.read_attempts = 3;
  options.retry_backoff = absl::Milliseconds(1);
  return options;
}

TEST(GrpcPeersTest, ReadsAreRetriedOnUnavailableAndThenNameThePeer) {
  auto stub = std::make_shared<credpb::MockCredentialServiceStub>();
  EXPECT_CALL(*stub, GetUser(_, _, _))
      .Times(3)
      .WillRepeatedly(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")));
  GrpcCredentialPeer peer(stub, FastOptions());
  absl::StatusOr<credpb::User> user = peer.GetUser("usr_1", absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsUnavailable(user.status()));
  EXPECT_EQ(user.status().message(), "credential service unavailable");
}

TEST(GrpcPeersTest, ARetryThatSucceedsReturnsTheAnswer) {
  auto stub = std::make_shared<credpb::MockCredentialServiceStub>();
  credpb::FindUserResponse found;
  found.mutable_user()->set_user_id("usr_1");
  EXPECT_CALL(*stub, FindUser(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")))
      .WillOnce(
          [&](grpc::ClientContext*, const credpb::FindUserRequest& request,
              credpb::FindUserResponse* response) {
            EXPECT_EQ(request.directory_id(), "dir_1");
            EXPECT_EQ(request.username(), "alice");
            *response = found;
            return grpc::Status::OK;
          });
  GrpcCredentialPeer peer(stub, FastOptions());
  absl::StatusOr<credpb::User> user = peer.FindUser("dir_1", "alice", absl::InfiniteFuture());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->user_id(), "usr_1");
}

TEST(GrpcPeersTest, PasswordChecksAreNeverRetried) {
  auto stub = std::make_shared<credpb::MockCredentialServiceStub>();
  EXPECT_CALL(*stub, VerifyPassword(_, _, _))
      .Times(1)
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")));
  GrpcCredentialPeer peer(stub, FastOptions());
  auto user = peer.VerifyPassword("dir_1", "alice", "secret", absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsUnavailable(user.status()));
  EXPECT_THAT(user.status().message(), HasSubstr("credential service unavailable"));
}

TEST(GrpcPeersTest, WrongPasswordIsUnauthenticatedAndNotFoundPassesThrough) {
  auto stub = std::make_shared<credpb::MockCredentialServiceStub>();
  EXPECT_CALL(*stub, VerifyPassword(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong")));
  EXPECT_CALL(*stub, GetUser(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user")));
  GrpcCredentialPeer peer(stub, FastOptions());
  EXPECT_TRUE(absl::IsUnauthenticated(
      peer.VerifyPassword("dir_1", "alice", "x", absl::InfiniteFuture()).status()));
  EXPECT_TRUE(absl::IsNotFound(peer.GetUser("usr_1", absl::InfiniteFuture()).status()));
}

TEST(GrpcPeersTest, HashingOverloadPassesThroughAsResourceExhausted) {
  auto stub = std::make_shared<credpb::MockCredentialServiceStub>();
  EXPECT_CALL(*stub, VerifyPassword(_, _, _))
      .Times(1)
      .WillOnce(Return(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy")));
  GrpcCredentialPeer peer(stub, FastOptions());
  EXPECT_TRUE(absl::IsResourceExhausted(
      peer.VerifyPassword("dir_1", "alice", "x", absl::InfiniteFuture()).status()));
}

TEST(GrpcPeersTest, UnexpectedCodesBecomeUnavailableNamingThePeer) {
  auto stub = std::make_shared<pkpb::MockPasskeyServiceStub>();
  EXPECT_CALL(*stub, FinishAuthentication(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no")));
  GrpcPasskeyPeer peer(stub, FastOptions());
  auto result = peer.FinishAuthentication("dir_1", "ch", "{}", absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_THAT(result.status().message(), HasSubstr("passkey service unavailable"));
}

TEST(GrpcPeersTest, TheCallersDeadlineBoundsTheCall) {
  auto stub = std::make_shared<polpb::MockPolicyServiceStub>();
  const absl::Time caller_deadline = absl::Now() + absl::Milliseconds(700);
  EXPECT_CALL(*stub, GetAuthSettings(_, _, _))
      .WillOnce([&](grpc::ClientContext* context, const polpb::GetAuthSettingsRequest&,
                    polpb::GetAuthSettingsResponse* response) {
        EXPECT_LE(absl::FromChrono(context->deadline()), caller_deadline);
        response->mutable_settings()->set_required_level(30);
        return grpc::Status::OK;
      });
  GrpcPolicyPeer peer(stub, FastOptions());
  auto settings = peer.GetAuthSettings("dir_1", caller_deadline);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->required_level(), 30);

  // Without a caller deadline the peer's own timeout applies.
  PeerCallOptions options = FastOptions();
  options.timeout = absl::Milliseconds(300);
  const absl::Time limit = absl::Now() + absl::Seconds(1);
  EXPECT_CALL(*stub, GetAuthSettings(_, _, _))
      .WillOnce([&](grpc::ClientContext* context, const polpb::GetAuthSettingsRequest&,
                    polpb::GetAuthSettingsResponse*) {
        EXPECT_LE(absl::FromChrono(context->deadline()), limit);
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown directory");
      });
  GrpcPolicyPeer short_peer(stub, options);
  EXPECT_TRUE(
      absl::IsNotFound(short_peer.GetAuthSettings("dir_x", absl::InfiniteFuture()).status()));
}

TEST(GrpcPeersTest, APassedDeadlineCallsNobody) {
  auto stub = std::make_shared<polpb::MockPolicyServiceStub>();
  EXPECT_CALL(*stub, GetAuthSettings(_, _, _)).Times(0);
  GrpcPolicyPeer peer(stub, FastOptions());
  auto settings = peer.GetAuthSettings("dir_1", absl::Now() - absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(settings.status()));
  EXPECT_THAT(settings.status().message(), HasSubstr("policy service unavailable"));
}

class CountingPolicy final : public PolicyPeer {
 public:
  absl::StatusOr<polpb::AuthSettings> GetAuthSettings(absl::string_view,
                                                      absl::Time) override {
    ++calls;
    if (!status.ok()) return status;
    polpb::AuthSettings settings;
    settings.set_required_level(level);
    return settings;
  }
  int calls = 0;
  int level = 30;
  absl::Status status;
};

TEST(CachingPolicyPeerTest, CachesForTheTtlOnlyAndNeverErrors) {
  CountingPolicy inner;
  testing::FakeClock clock(absl::FromUnixSeconds(1900000000));
  CachingPolicyPeer cache(inner, clock, absl::Seconds(2));
  EXPECT_EQ(cache.GetAuthSettings("dir_1", absl::InfiniteFuture())->required_level(), 30);
  inner.level = 40;
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.GetAuthSettings("dir_1", absl::InfiniteFuture())->required_level(), 30);
  EXPECT_EQ(inner.calls, 1);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.GetAuthSettings("dir_1", absl::InfiniteFuture())->required_level(), 40);
  EXPECT_EQ(inner.calls, 2);

  inner.status = absl::UnavailableError("policy service unavailable");
  EXPECT_FALSE(cache.GetAuthSettings("dir_2", absl::InfiniteFuture()).ok());
  EXPECT_FALSE(cache.GetAuthSettings("dir_2", absl::InfiniteFuture()).ok());
  EXPECT_EQ(inner.calls, 4);
}

// A credential service whose answers the test sets.
class ScriptedCredential final : public CredentialPeer {
 public:
  absl::StatusOr<credpb::User> FindUser(absl::string_view, absl::string_view,
                                        absl::Time) override {
    return Answer();
  }
  absl::StatusOr<credpb::User> GetUser(absl::string_view, absl::Time) override {
    return Answer();
  }
  absl::StatusOr<credpb::User> VerifyPassword(absl::string_view, absl::string_view,
                                              absl::string_view, absl::Time) override {
    return Answer();
  }
  absl::Status VerifyTotp(absl::string_view, absl::string_view, absl::string_view,
                          absl::Time) override {
    return status;
  }
  absl::StatusOr<int> VerifyRecoveryCode(absl::string_view, absl::string_view, absl::string_view,
                                         absl::Time) override {
    if (!status.ok()) return status;
    return 9;
  }
  // Not used by the stale-user copy: devices always go to the service.
  absl::StatusOr<credpb::CreateDeviceResponse> CreateDevice(const credpb::CreateDeviceRequest&,
                                                            absl::Time) override {
    return absl::UnimplementedError("not scripted");
  }
  absl::StatusOr<credpb::Device> VerifyDevice(const credpb::VerifyDeviceRequest&,
                                              absl::Time) override {
    return absl::UnimplementedError("not scripted");
  }
  absl::StatusOr<credpb::ListDevicesResponse> ListDevices(const credpb::ListDevicesRequest&,
                                                          absl::Time) override {
    return absl::UnimplementedError("not scripted");
  }
  absl::Status DeleteDevice(const credpb::DeleteDeviceRequest&, absl::Time) override {
    return absl::UnimplementedError("not scripted");
  }
  absl::StatusOr<credpb::User> Answer() {
    if (!status.ok()) return status;
    credpb::User user;
    user.set_user_id("usr_1");
    user.add_roles(role);
    return user;
  }
  absl::Status status;
  std::string role = "admin";
};

TEST(StaleUserCredentialPeerTest, ServesTheLastSeenUserOnlyWhileUnavailableAndNotTooOld) {
  ScriptedCredential inner;
  testing::FakeClock clock(absl::FromUnixSeconds(1900000000));
  StaleUserCredentialPeer peer(inner, clock, absl::Minutes(5));
  const absl::Time forever = absl::InfiniteFuture();
  // Never seen: the outage shows.
  inner.status = absl::UnavailableError("credential service unavailable");
  EXPECT_TRUE(absl::IsUnavailable(peer.GetUser("usr_1", forever).status()));

  inner.status = absl::OkStatus();
  ASSERT_TRUE(peer.GetUser("usr_1", forever).ok());
  inner.role = "user";  // demoted; the service's answer always wins while it answers
  EXPECT_EQ(peer.GetUser("usr_1", forever)->roles(0), "user");

  inner.status = absl::UnavailableError("credential service unavailable");
  clock.Advance(absl::Minutes(5));
  absl::StatusOr<credpb::User> stale = peer.GetUser("usr_1", forever);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->roles(0), "user");
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(peer.GetUser("usr_1", forever).status()));
  // Password checks are never answered from the copy.
  EXPECT_TRUE(absl::IsUnavailable(peer.VerifyPassword("dir_1", "a", "pw", forever).status()));
  // Other errors pass through; NOT_FOUND forgets the user.
  inner.status = absl::OkStatus();
  ASSERT_TRUE(peer.VerifyPassword("dir_1", "a", "pw", forever).ok());  // seen again
  inner.status = absl::NotFoundError("unknown user");
  EXPECT_TRUE(absl::IsNotFound(peer.GetUser("usr_1", forever).status()));
  inner.status = absl::UnavailableError("credential service unavailable");
  EXPECT_TRUE(absl::IsUnavailable(peer.GetUser("usr_1", forever).status()));
}

TEST(StaleUserCredentialPeerTest, ZeroMaxStaleDisablesIt) {
  ScriptedCredential inner;
  testing::FakeClock clock(absl::FromUnixSeconds(1900000000));
  StaleUserCredentialPeer peer(inner, clock, absl::ZeroDuration());
  ASSERT_TRUE(peer.GetUser("usr_1", absl::InfiniteFuture()).ok());
  inner.status = absl::UnavailableError("credential service unavailable");
  EXPECT_TRUE(absl::IsUnavailable(peer.GetUser("usr_1", absl::InfiniteFuture()).status()));
}

// A TOTP or recovery-code check is never answered from the copy: a user seen a moment ago proves
// nothing about a code.
TEST(StaleUserCredentialPeerTest, FactorChecksAlwaysGoToTheService) {
  ScriptedCredential inner;
  testing::FakeClock clock(absl::FromUnixSeconds(1900000000));
  StaleUserCredentialPeer peer(inner, clock, absl::Minutes(5));
  const absl::Time forever = absl::InfiniteFuture();
  ASSERT_TRUE(peer.GetUser("usr_1", forever).ok());
  EXPECT_TRUE(peer.VerifyTotp("dir_1", "usr_1", "123456", forever).ok());
  EXPECT_EQ(*peer.VerifyRecoveryCode("dir_1", "usr_1", "abcd-efgh", forever), 9);
  inner.status = absl::UnavailableError("credential service unavailable");
  EXPECT_TRUE(peer.GetUser("usr_1", forever).ok());  // the copy
  EXPECT_TRUE(absl::IsUnavailable(peer.VerifyTotp("dir_1", "usr_1", "123456", forever)));
  EXPECT_TRUE(absl::IsUnavailable(
      peer.VerifyRecoveryCode("dir_1", "usr_1", "abcd-efgh", forever).status()));
}

}  // namespace
}  // namespace tally::orchestrator
