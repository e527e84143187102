#include "common/redis/redis_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A loopback TCP socket bound to an ephemeral port; listening only if asked.
class LocalSocket {
 public:
  explicit LocalSocket(bool listen_on_it) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (listen_on_it) listen(fd_, 16);
  }
  ~LocalSocket() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ParseRedisUrlTest, HostOnlyKeepsDefaults) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "cache.internal");
  EXPECT_EQ(options->port, 6379);
  EXPECT_EQ(options->db, 0);
  EXPECT_EQ(options->user, "");
  EXPECT_EQ(options->password, "");
  EXPECT_EQ(options->pool_size, RedisOptions().pool_size);
}

TEST(ParseRedisUrlTest, AllParts) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl("redis://alice:s3cret@10.0.0.5:6390/3");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->user, "alice");
  EXPECT_EQ(options->password, "s3cret");
  EXPECT_EQ(options->host, "10.0.0.5");
  EXPECT_EQ(options->port, 6390);
  EXPECT_EQ(options->db, 3);
}

TEST(ParseRedisUrlTest, PasswordWithoutUser) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl("REDIS://:pw@localhost/");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->user, "");
  EXPECT_EQ(options->password, "pw");
  EXPECT_EQ(options->host, "localhost");
  EXPECT_EQ(options->db, 0);
}

TEST(ParseRedisUrlTest, PercentEncodedAndRawReservedCharacters) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl("redis://u%3Ax:p%40ss:w@rd@h:1");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->user, "u:x");
  EXPECT_EQ(options->password, "p@ss:w@rd");
  EXPECT_EQ(options->host, "h");
  EXPECT_EQ(options->port, 1);
}

TEST(ParseRedisUrlTest, Ipv6) {
  absl::StatusOr<RedisOptions> options = ParseRedisUrl("redis://[::1]:7000/15");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "::1");
  EXPECT_EQ(options->port, 7000);
  EXPECT_EQ(options->db, 15);
  options = ParseRedisUrl("redis://[fe80::1]");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "fe80::1");
  EXPECT_EQ(options->port, 6379);
}

TEST(ParseRedisUrlTest, RejectsEverythingElse) {
  for (const char* url : {"",
                          "redis:/",
                          "redis://",
                          "http://host",
                          "rediss://host",
                          "unix:///tmp/redis.sock",
                          "redis://host:",
                          "redis://host:0",
                          "redis://host:65536",
                          "redis://host:12a",
                          "redis://host:-1",
                          "redis://host:1:2",
                          "redis://host/x",
                          "redis://host/-1",
                          "redis://host/1/2",
                          "redis://host/1?x=y",
                          "redis://host?x",
                          "redis://ho st",
                          "redis://:6379",
                          "redis://[::1",
                          "redis://[]:1",
                          "redis://[::1]x",
                          "redis://[::1]:",
                          "redis://user@host",
                          "redis://user:@host",
                          "redis://:p%4@host",
                          "redis://:p%zz@host",
                          "redis://host/99999999999"}) {
    absl::StatusOr<RedisOptions> options = ParseRedisUrl(url);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
}

TEST(ParseRedisUrlTest, ErrorsNeverEchoThePassword) {
  for (const char* url :
       {"redis://u:TopSecret@host:99999", "redis://u:TopSecret@/0", "redis://u:TopSecret%zz@host",
        "redis://TopSecret@host", "http://u:TopSecret@host", "redis://u:TopSecret@host/db"}) {
    absl::StatusOr<RedisOptions> options = ParseRedisUrl(url);
    ASSERT_FALSE(options.ok()) << url;
    EXPECT_THAT(options.status().message(), Not(HasSubstr("TopSecret"))) << url;
  }
}

TEST(RedisScriptTest, Sha1OfSource) {
  const RedisScript script("return 1");
  EXPECT_EQ(script.source(), "return 1");
  EXPECT_EQ(script.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(RedisScript("").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(RedisReplyTest, Factories) {
  EXPECT_TRUE(RedisReply::Nil().IsNil());
  const RedisReply s = RedisReply::String(std::string("a\0b", 3));
  EXPECT_TRUE(s.IsString());
  EXPECT_EQ(s.str(), std::string("a\0b", 3));
  EXPECT_EQ(RedisReply::Integer(-7).integer(), -7);
  EXPECT_TRUE(RedisReply::Status("OK").IsStatus());
  EXPECT_TRUE(RedisReply::Error("ERR x").IsError());
  const RedisReply array = RedisReply::Array({RedisReply::Integer(1), RedisReply::Nil()});
  ASSERT_EQ(array.type(), RedisReply::Type::kArray);
  ASSERT_EQ(array.elements().size(), 2u);
  EXPECT_EQ(array.elements()[0].integer(), 1);
  EXPECT_TRUE(array.elements()[1].IsNil());
  EXPECT_TRUE(s.elements().empty());
  EXPECT_EQ(s.integer(), 0);
}

RedisOptions FastOptions(int port) {
  RedisOptions options;
  options.port = port;
  options.connect_timeout = absl::Milliseconds(300);
  options.command_timeout = absl::Milliseconds(300);
  options.pool_size = 2;
  return options;
}

TEST(RedisClientTest, ConstructionDoesNotConnect) {
  // Nothing routes to TEST-NET-1; constructing must still be immediate.
  RedisOptions options;
  options.host = "192.0.2.1";
  options.connect_timeout = absl::Seconds(30);
  const absl::Time start = absl::Now();
  auto client = std::make_shared<RedisClient>(options);
  client.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(RedisClientTest, NothingListeningIsUnavailable) {
  int port;
  {
    LocalSocket probe(/*listen_on_it=*/false);
    port = probe.port();
  }
  RedisOptions options = FastOptions(port);
  options.password = "TopSecret";
  RedisClient client(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<RedisReply> reply = client.Command({"SET", "k", "TopSecretValue"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(reply.status().message(), HasSubstr("redis unavailable: "));
  EXPECT_THAT(reply.status().message(), Not(HasSubstr("TopSecret")));
  EXPECT_EQ(client.Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Eval(RedisScript("return 1"), {"k"}, {"a"}).status().code(),
            absl::StatusCode::kUnavailable);
  // Retried after the back-off: still unavailable, still no hang.
  absl::SleepFor(options.reconnect_backoff + absl::Milliseconds(50));
  EXPECT_EQ(client.Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RedisClientTest, ServerThatNeverAnswersTimesOut) {
  // The kernel completes the handshake for a listening socket even though nobody accepts,
  // so the connect succeeds and the first read must time out.
  LocalSocket listener(/*listen_on_it=*/true);
  RedisClient client(FastOptions(listener.port()));
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&client, &results, i] { results[i] = client.Ping(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RedisClientTest, EmptyCommandIsInvalid) {
  RedisClient client(FastOptions(1));
  EXPECT_EQ(client.Command({}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally
