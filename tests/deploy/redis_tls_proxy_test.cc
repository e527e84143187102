// The stunnel sidecar of deploy/stunnel/redis-tls-proxy.conf in front of a TLS-only Redis
// (issue 23: hiredis 0.14 has no TLS): RedisClient reaches Redis through it in plaintext on
// loopback, and stunnel refuses a server whose certificate is for another host. The file is
// used as shipped, with only its placeholders and the CA bundle replaced.

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/redis/redis_client.h"
#include "common/testing/pki.h"
#include "common/testing/test_support.h"
#include "common/util/file.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using testing::FreePort;
using testing::Subprocess;

class RedisTlsProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Pki pki(temp_.path());
    ASSERT_TRUE(pki.MakeCa("ca").ok());
    ASSERT_TRUE(pki.MakeCert("redis", "ca").ok());  // for localhost and 127.0.0.1
    ca_ = pki.Path("ca.pem");
    tls_port_ = FreePort();
    // TLS only: no plaintext port at all, as managed offerings run it.
    ASSERT_TRUE(redis_
                    .Start({"/usr/bin/redis-server", "--port", "0", "--tls-port",
                            absl::StrCat(tls_port_), "--bind", "127.0.0.1", "--tls-cert-file",
                            pki.Path("redis.pem"), "--tls-key-file", pki.Path("redis.key"),
                            "--tls-ca-cert-file", ca_, "--tls-auth-clients", "no",
                            "--requirepass", "proxy-test-password", "--save", "", "--dir",
                            temp_.path()})
                    .ok());
  }

  // Starts stunnel on the shipped file with the placeholders filled in; its local port.
  int StartProxy(Subprocess& proxy, const std::string& expected_host) {
    absl::StatusOr<std::string> shipped =
        ReadFile(testing::SourceDir() + "/deploy/stunnel/redis-tls-proxy.conf");
    EXPECT_TRUE(shipped.ok()) << shipped.status();
    std::string conf = shipped.value_or("");
    EXPECT_TRUE(absl::StrContains(conf, "REDIS_HOST:REDIS_TLS_PORT"));
    const int port = FreePort();
    conf = absl::StrReplaceAll(
        conf, {{"127.0.0.1:6379", absl::StrCat("127.0.0.1:", port)},
               {"REDIS_HOST:REDIS_TLS_PORT", absl::StrCat("localhost:", tls_port_)},
               {"REDIS_HOST", expected_host},
               {"/etc/ssl/certs/ca-certificates.crt", ca_}});
    const std::string path = absl::StrCat(temp_.path(), "/stunnel-", port, ".conf");
    std::ofstream(path) << conf;
    EXPECT_TRUE(proxy.Start({"/usr/bin/stunnel4", path}).ok());
    return port;
  }

  RedisOptions Through(int port) const {
    RedisOptions options;
    options.port = port;
    options.password = "proxy-test-password";
    options.connect_timeout = absl::Seconds(2);
    options.command_timeout = absl::Seconds(2);
    options.reconnect_backoff = absl::ZeroDuration();
    return options;
  }

  testing::TempDir temp_;
  std::string ca_;
  int tls_port_ = 0;
  Subprocess redis_;
};

TEST_F(RedisTlsProxyTest, TallyReachesATlsOnlyRedisThroughTheSidecar) {
  Subprocess proxy;
  const int port = StartProxy(proxy, "localhost");
  RedisClient redis(Through(port));
  ASSERT_TRUE(testing::WaitFor([&] { return redis.Ping().ok(); }, absl::Seconds(20)))
      << redis.Ping() << "\nstunnel: " << proxy.Output() << "\nredis: " << redis_.Output();
  ASSERT_TRUE(redis.Command({"SET", "k", "over tls"}).ok());
  absl::StatusOr<RedisReply> got = redis.Command({"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str(), "over tls");
  // Straight to the TLS port in plaintext: nothing works.
  RedisClient direct(Through(tls_port_));
  EXPECT_FALSE(direct.Ping().ok());
}

TEST_F(RedisTlsProxyTest, RefusesAServerCertificateForAnotherHost) {
  Subprocess proxy;
  const int port = StartProxy(proxy, "redis.example.com");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return absl::StrContains(proxy.Output(), "Configuration successful"); },
      absl::Seconds(20)))
      << proxy.Output();
  RedisClient redis(Through(port));
  // stunnel accepts the local connection, then drops it when the certificate check fails.
  for (int i = 0; i < 3; ++i) {
    const absl::Status ping = redis.Ping();
    EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  }
}

}  // namespace
}  // namespace tally
