#include "common/auth/cluster_callers.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;

constexpr char kVerify[] = "tally.test.v1.UserService.VerifyPassword";
constexpr char kGetUser[] = "tally.test.v1.UserService.GetUser";
constexpr char kListUsers[] = "tally.test.v1.UserService.ListUsers";
constexpr char kLogin[] = "tally.test.v1.UserService.Login";

ClusterCallers Table() {
  return ClusterCallers("tally.test.v1",
                        {
                            {"UserService.VerifyPassword", ClusterOnly({"orchestrator"})},
                            {"UserService.GetUser", ClusterOrCredentials({"orchestrator"})},
                            {"UserService.ListUsers", CredentialsOnly()},
                            {"UserService.Login", ClusterOnly({std::string(kAnyCertificate)})},
                        });
}

Peer Certificate(std::string service) { return Peer{true, std::move(service)}; }

TEST(TallyServiceOfTest, NamesTheServiceOfASpiffeIdOrAnOverlayDnsName) {
  EXPECT_EQ(TallyServiceOf({"spiffe://tally/orchestrator"}, {"localhost"}), "orchestrator");
  EXPECT_EQ(TallyServiceOf({}, {"tally-credential", "localhost"}), "credential");
  EXPECT_EQ(TallyServiceOf({}, {"tally-otp-api"}), "otp");
  EXPECT_EQ(TallyServiceOf({}, {"tally-otp-sender"}), "otp");
  // The same service twice (URI and DNS name) is one service.
  EXPECT_EQ(TallyServiceOf({"spiffe://tally/passkey"}, {"tally-passkey"}), "passkey");
}

TEST(TallyServiceOfTest, AnyOtherCertificateNamesNoService) {
  EXPECT_EQ(TallyServiceOf({}, {"localhost"}), "");
  EXPECT_EQ(TallyServiceOf({"spiffe://tally/tallyctl"}, {}), "");
  EXPECT_EQ(TallyServiceOf({"spiffe://other/orchestrator"}, {}), "");
  EXPECT_EQ(TallyServiceOf({"https://tally/orchestrator"}, {}), "");
  EXPECT_EQ(TallyServiceOf({"spiffe://tally/orchestrator/x"}, {}), "");
  EXPECT_EQ(TallyServiceOf({}, {"tally-otp"}), "");
  EXPECT_EQ(TallyServiceOf({}, {"orchestrator"}), "");
  EXPECT_EQ(TallyServiceOf({}, {"tally-orchestrator.evil.example"}), "");
  // One certificate valid for several services would let one act as another: it names none.
  EXPECT_EQ(TallyServiceOf({"spiffe://tally/orchestrator"}, {"tally-credential"}), "");
  EXPECT_EQ(TallyServiceOf({}, {"tally-orchestrator", "tally-policy", "tally-credential"}), "");
}

TEST(ClusterCallersTest, WithoutMutualTlsEveryoneIsTheCluster) {
  for (const char* method : {kVerify, kGetUser, kListUsers, kLogin, "tally.test.v1.X.Unknown"}) {
    EXPECT_TRUE(Table().Check(method, Peer{}, false).ok()) << method;
  }
}

TEST(ClusterCallersTest, AClusterOnlyRpcTakesOnlyTheNamedServices) {
  const ClusterCallers table = Table();
  EXPECT_TRUE(table.Check(kVerify, Certificate("orchestrator"), false).ok());
  EXPECT_TRUE(table.Check(kVerify, Certificate("orchestrator"), true).ok());
  for (const Peer& peer : {Certificate(""), Certificate("passkey")}) {
    // Credentials grant nothing on a cluster-only RPC.
    for (bool credentials : {false, true}) {
      absl::Status s = table.Check(kVerify, peer, credentials);
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << peer.service;
      EXPECT_THAT(s.message(), HasSubstr("VerifyPassword is for the cluster callers orchestrator"));
    }
  }
  EXPECT_THAT(table.Check(kVerify, Certificate(""), false).message(),
              HasSubstr("names no Tally service"));
}

TEST(ClusterCallersTest, ClusterOrCredentialsLeavesTokenCallsToTheService) {
  const ClusterCallers table = Table();
  EXPECT_TRUE(table.Check(kGetUser, Certificate("orchestrator"), false).ok());
  EXPECT_TRUE(table.Check(kGetUser, Certificate(""), true).ok());
  EXPECT_EQ(table.Check(kGetUser, Certificate(""), false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(table.Check(kGetUser, Certificate("policy"), false).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ClusterCallersTest, CredentialsOnlyAndAnyCertificatePassEveryPeer) {
  const ClusterCallers table = Table();
  for (const Peer& peer : {Certificate(""), Certificate("otp")}) {
    EXPECT_TRUE(table.Check(kListUsers, peer, false).ok());
    EXPECT_TRUE(table.Check(kLogin, peer, false).ok());
  }
}

TEST(ClusterCallersTest, AnRpcWithoutARuleIsRefusedUnderMutualTls) {
  EXPECT_EQ(Table().Check("tally.test.v1.UserService.Other", Certificate("orchestrator"), false)
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ClusterCallers().Check(kLogin, Certificate("orchestrator"), true).code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace tally
