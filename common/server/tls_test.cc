// Mutual TLS end to end: certificates made by the openssl CLI, a real server and real clients.

#include "common/server/tls.h"

#include <fstream>

#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/server/server_runner.h"
#include "common/testing/test_support.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class Pki {
 public:
  explicit Pki(const std::string& dir) : dir_(dir) {}

  // A self-signed CA named `name`.
  void MakeCa(const std::string& name) {
    Run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", absl::StrCat("/CN=", name), "-keyout", Path(name + ".key"),
         "-out", Path(name + ".pem")});
  }

  // A certificate for localhost / 127.0.0.1 named `name`, signed by CA `ca`.
  void MakeCert(const std::string& name, const std::string& ca) {
    Run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
         absl::StrCat("/CN=", name), "-keyout", Path(name + ".key"), "-out", Path(name + ".csr")});
    std::ofstream(Path(name + ".ext"))
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
    Run({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca + ".pem"), "-CAkey",
         Path(ca + ".key"), "-CAcreateserial", "-days", "2", "-extfile", Path(name + ".ext"),
         "-out", Path(name + ".pem")});
  }

  TlsFiles Files(const std::string& name, const std::string& ca) const {
    TlsFiles files;
    files.cert = Path(name + ".pem");
    files.key = Path(name + ".key");
    files.ca = Path(ca + ".pem");
    files.refresh = absl::Seconds(1);
    return files;
  }

  std::string Read(const std::string& file) const {
    std::ifstream in(Path(file));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string Path(const std::string& file) const { return absl::StrCat(dir_, "/", file); }

 private:
  void Run(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto result = testing::RunCommand(args);
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  std::string dir_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.MakeCa("ca");
    pki_.MakeCa("other-ca");
    pki_.MakeCert("server", "ca");
    pki_.MakeCert("client", "ca");
    pki_.MakeCert("stranger", "other-ca");
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls = pki_.Files("server", "ca");
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
  Pki pki_{dir_.path()};
  std::unique_ptr<ServerRunner> runner_;
};

TEST_F(TlsTest, MutualTlsClientIsServed) {
  EXPECT_TRUE(Check(MakeChannelCredentials(pki_.Files("client", "ca"))).ok());
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
  TlsFiles files = pki_.Files("stranger", "ca");
  EXPECT_FALSE(Check(MakeChannelCredentials(files)).ok());
}

TEST_F(TlsTest, RotatedServerCertificateIsPickedUpWithoutRestart) {
  std::string before;
  ASSERT_TRUE(Check(MakeChannelCredentials(pki_.Files("client", "ca")), &before).ok());
  EXPECT_EQ(before, pki_.Read("server.pem"));
  pki_.MakeCert("server", "ca");  // cert-manager writes a new certificate and key
  const std::string rotated = pki_.Read("server.pem");
  ASSERT_NE(rotated, before);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        std::string served;
        return Check(MakeChannelCredentials(pki_.Files("client", "ca")), &served).ok() &&
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
