#include "common/server/call_auth.h"

#include <fstream>
#include <memory>
#include <string>

#include <grpcpp/create_channel.h>
#include <grpcpp/server_context.h>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/server/server_runner.h"
#include "common/testing/fake_clock.h"
#include "common/testing/pki.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/otp/v1/otp.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, jwks_file);
ABSL_DECLARE_FLAG(absl::Duration, reauth_max_age);

namespace tally {
namespace {

using ::testing::HasSubstr;
namespace otppb = ::tally::otp::v1;

// Logic of a cluster-only service: no Caller, with and without the call's deadline.
class EchoLogic {
 public:
  absl::StatusOr<std::string> Echo(const std::string& request) {
    if (request.empty()) return absl::NotFoundError("nothing to echo");
    return "echo " + request;
  }
  absl::StatusOr<std::string> EchoBefore(const std::string& request, absl::Time deadline) {
    deadline_ = deadline;
    return "before " + request;
  }
  absl::StatusOr<std::string> Who(const Caller& caller, const std::string& request) {
    return caller.Actor() + " " + request;
  }
  absl::Time deadline_ = absl::UnixEpoch();
};

const Authenticator& Plain() {
  static const Authenticator* const kAuthenticator = new Authenticator("", nullptr);
  return *kAuthenticator;
}

TEST(HandleCallTest, WithoutCallerWritesTheResponse) {
  grpc::ServerContext context;
  EchoLogic logic;
  std::string response;
  grpc::Status status =
      HandleCall(Plain(), context, logic, &EchoLogic::Echo, std::string("hi"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, "echo hi");
}

TEST(HandleCallTest, WithoutCallerConvertsTheError) {
  grpc::ServerContext context;
  EchoLogic logic;
  std::string response = "untouched";
  grpc::Status status =
      HandleCall(Plain(), context, logic, &EchoLogic::Echo, std::string(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "nothing to echo");
  EXPECT_EQ(response, "untouched");
}

TEST(HandleCallTest, LogicThatTakesTheDeadlineGetsTheCallsDeadline) {
  grpc::ServerContext context;  // a call without a deadline
  EchoLogic logic;
  std::string response;
  grpc::Status status =
      HandleCall(Plain(), context, logic, &EchoLogic::EchoBefore, std::string("hi"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, "before hi");
  EXPECT_EQ(logic.deadline_, absl::InfiniteFuture());
}

TEST(HandleCallTest, LogicThatTakesTheCallerGetsIt) {
  grpc::ServerContext context;
  EchoLogic logic;
  std::string response;
  ASSERT_TRUE(
      HandleCall(Plain(), context, logic, &EchoLogic::Who, std::string("hi"), &response).ok());
  EXPECT_EQ(response, "cluster hi");
}

TEST(MethodOfRequestTest, TheRequestTypeNamesItsRpc) {
  EXPECT_EQ(MethodOfRequest(*otppb::SendCodeRequest::descriptor()),
            "tally.otp.v1.OtpService.SendCode");
  EXPECT_EQ(MethodOfRequest(*otppb::SendNoticeRequest::descriptor()),
            "tally.otp.v1.OtpService.SendNotice");
  // A message no RPC takes names none.
  EXPECT_EQ(MethodOfRequest(*otppb::SendCodeResponse::descriptor()), "");
}

ClusterCallers OtpTable() {
  return ClusterCallers("tally.otp.v1",
                        {
                            {"OtpService.SendCode", ClusterOnly({"orchestrator", "credential"})},
                            {"OtpService.VerifyCode", ClusterOnly({"orchestrator"})},
                            {"OtpService.ListDeadLetters", CredentialsOnly()},
                            {"OtpService.SendNotice", ClusterOrCredentials({"credential"})},
                        });
}

TEST(CheckClusterCallersTest, EveryRpcNeedsARuleAndEveryRuleAnRpc) {
  EXPECT_TRUE(CheckClusterCallers(OtpTable()).ok());
  EXPECT_TRUE(CheckClusterCallers(ClusterCallers()).ok());
  ClusterCallers gap("tally.otp.v1", {{"OtpService.SendCode", ClusterOnly({"orchestrator"})}});
  EXPECT_THAT(CheckClusterCallers(gap).message(),
              HasSubstr("no rule for tally.otp.v1.OtpService.VerifyCode"));
  ClusterCallers extra("tally.otp.v1", {{"OtpService.SendFax", CredentialsOnly()}});
  EXPECT_THAT(CheckClusterCallers(extra).message(), HasSubstr("no RPC tally.otp.v1.OtpService.SendFax"));
  ClusterCallers stranger("tally.otp.v1", {{"OtpService.SendCode", ClusterOnly({"tallyctl"})}});
  EXPECT_THAT(CheckClusterCallers(stranger).message(), HasSubstr("tallyctl, not a Tally service"));
  ClusterCallers nobody("tally.otp.v1", {{"OtpService.SendCode", ClusterOnly({})}});
  EXPECT_THAT(CheckClusterCallers(nobody).message(), HasSubstr("names no caller"));
}

class AuthenticatorFromFlagsTest : public ::testing::Test {
 protected:
  absl::FlagSaver saver_;
  testing::FakeClock clock_;
};

TEST_F(AuthenticatorFromFlagsTest, TokensAreNeverTakenWithoutTheRevocationRecords) {
  // No "revoked tokens work here" mode: a JWKS without a revocation store is bad configuration.
  const std::string jwks = ::testing::TempDir() + "/call_auth_test_jwks.json";
  JwtSigner signer(*Ed25519PrivateKey::Generate());
  std::ofstream(jwks) << JwtVerifier::FromKeys({signer.PublicKey()}, {.issuer = "tally"}, clock_)
                             ->ToJwks();
  absl::SetFlag(&FLAGS_jwks_file, jwks);
  absl::StatusOr<std::shared_ptr<const Authenticator>> none =
      AuthenticatorFromFlags(clock_, nullptr, ClusterCallers());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("no Redis of revoked sessions"));
}

TEST_F(AuthenticatorFromFlagsTest, ReauthMaxAgeAndTheTableAreChecked) {
  EXPECT_EQ(AuthenticatorFromFlags(clock_, nullptr, ClusterCallers()).value()->reauth_max_age(),
            absl::Minutes(5));
  absl::SetFlag(&FLAGS_reauth_max_age, absl::Minutes(2));
  EXPECT_EQ(AuthenticatorFromFlags(clock_, nullptr, ClusterCallers()).value()->reauth_max_age(),
            absl::Minutes(2));
  absl::SetFlag(&FLAGS_reauth_max_age, absl::ZeroDuration());
  EXPECT_THAT(AuthenticatorFromFlags(clock_, nullptr, ClusterCallers()).status().message(),
              HasSubstr("--reauth_max_age must be between"));
  absl::SetFlag(&FLAGS_reauth_max_age, absl::Minutes(5));
  ClusterCallers gap("tally.otp.v1", {{"OtpService.SendCode", ClusterOnly({"orchestrator"})}});
  EXPECT_THAT(AuthenticatorFromFlags(clock_, nullptr, gap).status().message(),
              HasSubstr("no rule for"));
}

// OtpService on a real server, whose SendCode answers with who the Authenticator says calls.
class WhoIsCalling final : public otppb::OtpService::Service {
 public:
  explicit WhoIsCalling(std::shared_ptr<const Authenticator> auth) : auth_(std::move(auth)) {}
  grpc::Status SendCode(grpc::ServerContext* context, const otppb::SendCodeRequest* request,
                        otppb::SendCodeResponse* response) override {
    return HandleCall(*auth_, *context, *this, &WhoIsCalling::Answer, *request, response);
  }
  absl::StatusOr<otppb::SendCodeResponse> Answer(const Caller& caller,
                                                 const otppb::SendCodeRequest&) {
    otppb::SendCodeResponse response;
    response.set_challenge_id(absl::StrCat(caller.peer.mutual_tls ? "mtls:" : "plain:",
                                           caller.peer.service, ":", caller.Actor()));
    return response;
  }

 private:
  std::shared_ptr<const Authenticator> auth_;
};

class ClusterCallersTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.MakeCa("ca").ok());
    ASSERT_TRUE(pki_.MakeCert("otp", "ca", {testing::Pki::ServiceSan("otp")}).ok());
    ASSERT_TRUE(
        pki_.MakeCert("orchestrator", "ca", {testing::Pki::ServiceSan("orchestrator")}).ok());
    ASSERT_TRUE(pki_.MakeCert("passkey", "ca", {testing::Pki::ServiceSan("passkey")}).ok());
    // The DNS name the deploy overlays give the credential service.
    ASSERT_TRUE(pki_.MakeCert("credential", "ca", {"DNS:tally-credential"}).ok());
    ASSERT_TRUE(pki_.MakeCert("login-client", "ca").ok());
    // One certificate for several services, as the overlays once issued: it names none.
    ASSERT_TRUE(pki_.MakeCert("shared", "ca",
                              {"DNS:tally-orchestrator", "DNS:tally-credential", "DNS:tally-otp-api"})
                    .ok());
    AuthenticatorOptions options;
    options.platform_key = "platform-secret-123";
    options.cluster_callers = OtpTable();
    service_ = std::make_unique<WhoIsCalling>(std::make_shared<const Authenticator>(options));
  }

  void Serve(bool tls) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "";
    if (tls) options.tls = Files("otp");
    runner_ = std::make_unique<ServerRunner>(options, GetLogger("call-auth-test"));
    runner_->AddService(service_.get());
    ASSERT_TRUE(runner_->Start().ok());
  }

  TlsFiles Files(const std::string& name) const {
    TlsFiles files;
    files.cert = pki_.Path(name + ".pem");
    files.key = pki_.Path(name + ".key");
    files.ca = pki_.Path("ca.pem");
    return files;
  }

  // SendCode as the holder of certificate `name` ("" plaintext): the answer's challenge id, or
  // the status.
  absl::StatusOr<std::string> SendCodeAs(const std::string& name,
                                         const std::string& platform_key = "") {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto channel = grpc::CreateCustomChannel(
        absl::StrCat("localhost:", runner_->port()),
        name.empty() ? grpc::InsecureChannelCredentials() : MakeChannelCredentials(Files(name)),
        args);
    auto stub = otppb::OtpService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!platform_key.empty()) context.AddMetadata("x-tally-platform-key", platform_key);
    otppb::SendCodeResponse response;
    grpc::Status status = stub->SendCode(&context, otppb::SendCodeRequest(), &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return response.challenge_id();
  }

  testing::TempDir dir_;
  testing::Pki pki_{dir_.path()};
  std::unique_ptr<WhoIsCalling> service_;
  std::unique_ptr<ServerRunner> runner_;
};

TEST_F(ClusterCallersTlsTest, TheNamedServicesPassByTheirCertificates) {
  Serve(/*tls=*/true);
  EXPECT_EQ(SendCodeAs("orchestrator").value_or("refused"), "mtls:orchestrator:cluster");
  EXPECT_EQ(SendCodeAs("credential").value_or("refused"), "mtls:credential:cluster");
}

TEST_F(ClusterCallersTlsTest, AnyOtherCertificateFromTheCaIsPermissionDenied) {
  Serve(/*tls=*/true);
  for (const char* name : {"login-client", "passkey", "shared"}) {
    absl::StatusOr<std::string> refused = SendCodeAs(name);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << name;
    EXPECT_THAT(refused.status().message(), HasSubstr("SendCode is for the cluster callers"));
  }
  // The platform key grants nothing on a cluster-only RPC.
  EXPECT_EQ(SendCodeAs("login-client", "platform-secret-123").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ClusterCallersTlsTest, WithoutTlsAnyoneIsTheCluster) {
  Serve(/*tls=*/false);
  EXPECT_EQ(SendCodeAs("").value_or("refused"), "plain::cluster");
}

}  // namespace
}  // namespace tally
