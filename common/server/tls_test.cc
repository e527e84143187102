// Mutual TLS end to end: certificates made by the openssl CLI, a real server and real clients.

#include "common/server/tls.h"

#include <fstream>

#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/server/server_runner.h"
#include "common/testing/pki.h"
#include "common/testing/test_support.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// The files of certificate `name` issued by `ca`, re-read every second.
TlsFiles Files(const testing::Pki& pki, const std::string& name, const std::string& ca) {
  TlsFiles files;
  files.cert = pki.Path(name + ".pem");
  files.key = pki.Path(name + ".key");
  files.ca = pki.Path(ca + ".pem");
  files.refresh = absl::Seconds(1);
  return files;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.MakeCa("ca").ok());
    ASSERT_TRUE(pki_.MakeCa("other-ca").ok());
    ASSERT_TRUE(pki_.MakeCert("server", "ca").ok());
    ASSERT_TRUE(pki_.MakeCert("client", "ca").ok());
    ASSERT_TRUE(pki_.MakeCert("stranger", "other-ca").ok());
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls = Files(pki_, "server", "ca");
    runner_ = std::make_unique<ServerRunner>(options, GetLogger("tls-test"));
    ASSERT_TRUE(runner_->Start().ok());
  }

  // A health check over a fresh channel; the server's certificate when `peer_cert` is given.
  grpc::Status Check(std::shared_ptr<grpc::ChannelCredentials> credentials,
                     std::string* peer_cert = nullptr) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // no connection shared between checks
    auto channel = grpc::CreateCustomChannel(absl::StrCat("localhost:", runner_->port()),
                                             credentials, args);
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, HealthCheckRequest(), &response);
    if (status.ok() && peer_cert != nullptr) {
      auto values = context.auth_context()->FindPropertyValues("x509_pem_cert");
      if (!values.empty()) *peer_cert = std::string(values[0].data(), values[0].size());
    }
    return status;
  }

  testing::TempDir dir_;
  testing::Pki pki_{dir_.path()};
  std::unique_ptr<ServerRunner> runner_;
};

TEST_F(TlsTest, MutualTlsClientIsServed) {
  EXPECT_TRUE(Check(MakeChannelCredentials(Files(pki_, "client", "ca"))).ok());
}

TEST_F(TlsTest, PlaintextClientIsRefused) {
  EXPECT_FALSE(Check(grpc::InsecureChannelCredentials()).ok());
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefused) {
  grpc::SslCredentialsOptions no_client_cert;
  no_client_cert.pem_root_certs = pki_.Read("ca.pem");
  EXPECT_FALSE(Check(grpc::SslCredentials(no_client_cert)).ok());
}

TEST_F(TlsTest, ClientOfAnotherCaIsRefused) {
  // The stranger trusts our CA but its own certificate chains to another one.
  TlsFiles files = Files(pki_, "stranger", "ca");
  EXPECT_FALSE(Check(MakeChannelCredentials(files)).ok());
}

TEST_F(TlsTest, RotatedServerCertificateIsPickedUpWithoutRestart) {
  std::string before;
  ASSERT_TRUE(Check(MakeChannelCredentials(Files(pki_, "client", "ca")), &before).ok());
  EXPECT_EQ(before, pki_.Read("server.pem"));
  ASSERT_TRUE(pki_.MakeCert("server", "ca").ok());  // cert-manager writes a new certificate and key
  const std::string rotated = pki_.Read("server.pem");
  ASSERT_NE(rotated, before);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        std::string served;
        return Check(MakeChannelCredentials(Files(pki_, "client", "ca")), &served).ok() &&
               served == rotated;
      },
      absl::Seconds(15)));
}

TEST(TlsFlagsTest, PlaintextWithoutFilesAndAllOrNothing) {
  auto none = TlsFilesFromFlags();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->enabled());
}

}  // namespace
}  // namespace tally
