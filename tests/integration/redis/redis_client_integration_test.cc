#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/redis/redis_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRedisServer[] = "/usr/bin/redis-server";

// Tests share one Redis and may run in parallel: every key and client name is unique.
class RedisIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("TALLY_TEST_REDIS_URL");
    ASSERT_NE(url, nullptr) << "TALLY_TEST_REDIS_URL is not set; run through tools/dev test or "
                               "export TALLY_TEST_REDIS_URL=redis://127.0.0.1:6390";
    absl::StatusOr<RedisOptions> options = ParseRedisUrl(url);
    ASSERT_TRUE(options.ok()) << options.status();
    // Generous: the machine may be busy building.
    options->command_timeout = absl::Seconds(5);
    options->connect_timeout = absl::Seconds(5);
    options_ = *options;
    prefix_ =
        absl::StrCat("tally-test:", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                     ":", getpid(), ":", absl::ToUnixNanos(absl::Now()));
    admin_ = std::make_shared<RedisClient>(options_);
    ASSERT_TRUE(admin_->Ping().ok()) << "no Redis at " << url;
  }

  void TearDown() override {
    if (admin_ == nullptr || keys_.empty()) return;
    std::vector<std::string> del = {"DEL"};
    del.insert(del.end(), keys_.begin(), keys_.end());
    EXPECT_TRUE(admin_->Command(del).ok());
  }

  std::string Key(absl::string_view name) {
    keys_.push_back(absl::StrCat(prefix_, ":", name));
    return keys_.back();
  }

  std::string ClientName() {
    return absl::StrCat("tally-test-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
  }

  // Ids of the connections that carry `name`, from CLIENT LIST.
  std::vector<std::string> ConnectionIds(const std::string& name) {
    std::vector<std::string> ids;
    absl::StatusOr<RedisReply> list = admin_->Command({"CLIENT", "LIST"});
    EXPECT_TRUE(list.ok()) << list.status();
    if (!list.ok()) return ids;
    for (absl::string_view line : absl::StrSplit(list->str(), '\n')) {
      std::string id;
      bool named = false;
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        if (absl::StartsWith(field, "id=")) id = std::string(field.substr(3));
        if (field == absl::StrCat("name=", name)) named = true;
      }
      if (named) ids.push_back(id);
    }
    return ids;
  }

  RedisOptions options_;
  std::string prefix_;
  std::shared_ptr<RedisClient> admin_;
  std::vector<std::string> keys_;
};

TEST_F(RedisIntegrationTest, Ping) { EXPECT_TRUE(admin_->Ping().ok()); }

TEST_F(RedisIntegrationTest, BinarySafeValuesAndReplyTypes) {
  const std::string key = Key(std::string("bin\0key", 7));
  const std::string value("\0a\r\n\0\xff$3\r\n", 10);
  absl::StatusOr<RedisReply> set = admin_->Command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->IsStatus());
  EXPECT_EQ(set->str(), "OK");

  absl::StatusOr<RedisReply> get = admin_->Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.status();
  ASSERT_TRUE(get->IsString());
  EXPECT_EQ(get->str(), value);
  EXPECT_EQ(get->str().size(), 10u);

  absl::StatusOr<RedisReply> missing = admin_->Command({"GET", Key("missing")});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE(missing->IsNil());

  const std::string counter = Key("counter");
  absl::StatusOr<RedisReply> incr = admin_->Command({"INCRBY", counter, "-42"});
  ASSERT_TRUE(incr.ok()) << incr.status();
  ASSERT_TRUE(incr->IsInteger());
  EXPECT_EQ(incr->integer(), -42);

  const std::string list = Key("list");
  ASSERT_TRUE(admin_->Command({"RPUSH", list, "a", "", std::string("b\0c", 3)}).ok());
  absl::StatusOr<RedisReply> range = admin_->Command({"LRANGE", list, "0", "-1"});
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_TRUE(range->IsArray());
  ASSERT_EQ(range->elements().size(), 3u);
  EXPECT_EQ(range->elements()[0].str(), "a");
  EXPECT_EQ(range->elements()[1].str(), "");
  EXPECT_EQ(range->elements()[2].str(), std::string("b\0c", 3));

  absl::StatusOr<RedisReply> mget = admin_->Command({"MGET", key, Key("missing2")});
  ASSERT_TRUE(mget.ok()) << mget.status();
  ASSERT_EQ(mget->elements().size(), 2u);
  EXPECT_EQ(mget->elements()[0].str(), value);
  EXPECT_TRUE(mget->elements()[1].IsNil());

  absl::StatusOr<RedisReply> empty = admin_->Command({"LRANGE", Key("nolist"), "0", "-1"});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->IsArray());
  EXPECT_TRUE(empty->elements().empty());
}

TEST_F(RedisIntegrationTest, SelectsTheConfiguredDb) {
  RedisOptions db1 = options_;
  db1.db = 1;
  RedisClient other(db1);
  const std::string key = Key("db");  // Deleted from db 0 only: give it a TTL in db 1.
  ASSERT_TRUE(other.Command({"SET", key, "in-db-1", "EX", "60"}).ok());
  absl::StatusOr<RedisReply> here = admin_->Command({"GET", key});
  ASSERT_TRUE(here.ok()) << here.status();
  EXPECT_TRUE(here->IsNil());
  absl::StatusOr<RedisReply> there = other.Command({"GET", key});
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_EQ(there->str(), "in-db-1");
  EXPECT_TRUE(other.Command({"DEL", key}).ok());
}

TEST_F(RedisIntegrationTest, EvalFallsBackToEvalOnNoscript) {
  const RedisScript script(
      "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1]), redis.sha1hex(ARGV[1])}");
  const std::string key = Key("eval");
  const std::string arg("x\0y", 3);

  auto run = [&](int64_t expected) {
    absl::StatusOr<RedisReply> reply = admin_->Eval(script, {key}, {arg});
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->elements().size(), 4u);
    EXPECT_EQ(reply->elements()[0].str(), key);
    EXPECT_EQ(reply->elements()[1].str(), arg);
    EXPECT_EQ(reply->elements()[2].integer(), expected);
  };
  run(1);
  ASSERT_TRUE(admin_->Command({"SCRIPT", "FLUSH"}).ok());
  absl::StatusOr<RedisReply> exists = admin_->Command({"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_EQ(exists->elements()[0].integer(), 0);

  int64_t before = admin_->round_trips();
  const int64_t reloads = admin_->script_reloads();
  run(2);  // NOSCRIPT, then EVAL
  EXPECT_EQ(admin_->round_trips() - before, 2);
  EXPECT_EQ(admin_->script_reloads() - reloads, 1);
  exists = admin_->Command({"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_EQ(exists->elements()[0].integer(), 1) << "EVAL should have cached the script";
  before = admin_->round_trips();
  run(3);  // EVALSHA again
  EXPECT_EQ(admin_->round_trips() - before, 1);
  before = admin_->round_trips();
  ASSERT_TRUE(admin_->Ping().ok());
  EXPECT_EQ(admin_->round_trips() - before, 1);
}

TEST_F(RedisIntegrationTest, ErrorReplyIsInternal) {
  const std::string key = Key("str");
  ASSERT_TRUE(admin_->Command({"SET", key, "abc"}).ok());

  absl::StatusOr<RedisReply> incr = admin_->Command({"INCR", key});
  EXPECT_EQ(incr.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(incr.status().message(), HasSubstr("ERR value is not an integer"));

  absl::StatusOr<RedisReply> push = admin_->Command({"LPUSH", key, "TopSecret"});
  EXPECT_EQ(push.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(push.status().message(), HasSubstr("WRONGTYPE"));
  EXPECT_THAT(push.status().message(), Not(HasSubstr("TopSecret")));

  // Redis echoes an unknown command's arguments; the status must not.
  absl::StatusOr<RedisReply> unknown = admin_->Command({"NOSUCHCOMMAND", "TopSecret", "x"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown command"));
  EXPECT_THAT(unknown.status().message(), Not(HasSubstr("TopSecret")));

  // An error reply leaves the connection usable.
  EXPECT_TRUE(admin_->Ping().ok());
}

TEST_F(RedisIntegrationTest, ScriptErrorsAreAborted) {
  const RedisScript refuse("return redis.error_reply('LOCKED challenge consumed')");
  absl::StatusOr<RedisReply> reply = admin_->Eval(refuse, {}, {});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(reply.status().message(), HasSubstr("LOCKED challenge consumed"));

  const std::string key = Key("str");
  ASSERT_TRUE(admin_->Command({"SET", key, "abc"}).ok());
  const RedisScript broken("return redis.call('INCR', KEYS[1])");
  reply = admin_->Eval(broken, {key}, {"TopSecret"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(reply.status().message(), HasSubstr("not an integer"));
  EXPECT_THAT(reply.status().message(), Not(HasSubstr("TopSecret")));
}

TEST_F(RedisIntegrationTest, WrongPasswordIsUnavailableWithoutEchoingIt) {
  RedisOptions options = options_;
  options.user = "nosuchuser";
  options.password = "TopSecretPassword";
  RedisClient client(options);
  const absl::Status status = client.Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("AUTH failed"));
  EXPECT_THAT(status.message(), Not(HasSubstr("TopSecretPassword")));
}

TEST_F(RedisIntegrationTest, ManyThreadsThroughASmallPool) {
  constexpr int kThreads = 16;
  constexpr int kIncrements = 200;
  RedisOptions options = options_;
  options.pool_size = 4;
  options.client_name = ClientName();
  auto client = std::make_shared<RedisClient>(options);
  const std::string key = Key("counter");

  std::atomic<int> failures{0};
  std::atomic<int> max_connections{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::StatusOr<RedisReply> reply = client->Command({"INCR", key});
        if (!reply.ok() || !reply->IsInteger()) ++failures;
      }
    });
  }
  // Sample the pool's size on the server while the threads run.
  for (int i = 0; i < 5; ++i) {
    const int open = static_cast<int>(ConnectionIds(options.client_name).size());
    max_connections = std::max(max_connections.load(), open);
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<RedisReply> total = admin_->Command({"GET", key});
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(total->str(), absl::StrCat(kThreads * kIncrements));
  const std::vector<std::string> ids = ConnectionIds(options.client_name);
  EXPECT_GE(ids.size(), 1u);
  EXPECT_LE(ids.size(), 4u);
  EXPECT_LE(max_connections.load(), 4);
}

TEST_F(RedisIntegrationTest, ReconnectsAfterTheServerDropsItsConnections) {
  RedisOptions options = options_;
  options.pool_size = 4;
  options.client_name = ClientName();
  RedisClient client(options);
  const std::string key = Key("k");

  // Open several pooled connections.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) EXPECT_TRUE(client.Command({"INCR", key}).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();

  // Kill only this client's connections (CLIENT KILL TYPE normal would also cut other tests
  // sharing the server), from a second client so none is killed mid-reply.
  const std::vector<std::string> ids = ConnectionIds(options.client_name);
  ASSERT_FALSE(ids.empty());
  for (const std::string& id : ids) {
    absl::StatusOr<RedisReply> killed = admin_->Command({"CLIENT", "KILL", "ID", id});
    ASSERT_TRUE(killed.ok()) << killed.status();
  }
  EXPECT_TRUE(ConnectionIds(options.client_name).empty());

  int failures = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<RedisReply> reply = client.Command({"INCR", key});
    if (!reply.ok()) {
      EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
      ++failures;
    } else if (i > 0) {
      EXPECT_TRUE(reply->IsInteger());
    }
  }
  EXPECT_LE(failures, 1);
  EXPECT_TRUE(client.Ping().ok());
  EXPECT_FALSE(ConnectionIds(options.client_name).empty());
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A redis-server child this test owns; killed with the test, whatever happens.
class RedisServerProcess {
 public:
  explicit RedisServerProcess(int port) : port_(port) {}
  ~RedisServerProcess() { Kill(); }

  bool Start() {
    const std::string port = absl::StrCat(port_);
    std::vector<std::string> args = {kRedisServer, "--port", port, "--bind", "127.0.0.1"};
    args.insert(args.end(), {"--save", "", "--appendonly", "no", "--daemonize", "no"});
    args.insert(args.end(), {"--dir", "/tmp"});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, kRedisServer, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

absl::Status CommandWithin(RedisClient& client, const std::vector<std::string>& args,
                           absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  absl::Status last;
  while (absl::Now() < deadline) {
    last = client.Command(args).status();
    if (last.ok()) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

TEST(RedisOwnServerTest, SurvivesServerKillAndRestart) {
  ASSERT_EQ(access(kRedisServer, X_OK), 0)
      << kRedisServer << " is needed (apt install redis-server)";
  const int port = FreePort();
  RedisOptions options;
  options.port = port;
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Milliseconds(500);
  options.reconnect_backoff = absl::Milliseconds(100);
  options.pool_size = 2;
  auto client = std::make_shared<RedisClient>(options);

  RedisServerProcess server(port);
  ASSERT_TRUE(server.Start());
  ASSERT_TRUE(CommandWithin(*client, {"PING"}, absl::Seconds(10)).ok())
      << "redis-server did not start";
  ASSERT_TRUE(client->Command({"SET", "k", "v"}).ok());

  server.Kill();
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<RedisReply> reply = client->Command({"GET", "k"});
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
    EXPECT_THAT(reply.status().message(), HasSubstr("redis unavailable"));
  }
  EXPECT_EQ(client->Eval(RedisScript("return 1"), {}, {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "calls to a dead Redis must not hang";

  RedisServerProcess restarted(port);
  ASSERT_TRUE(restarted.Start());
  ASSERT_TRUE(CommandWithin(*client, {"PING"}, absl::Seconds(10)).ok())
      << "the same client should serve again after the restart";
  absl::StatusOr<RedisReply> get = client->Command({"GET", "k"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_TRUE(get->IsNil()) << "a fresh server without persistence";
  EXPECT_TRUE(client->Command({"SET", "k", "v2"}).ok());
  EXPECT_EQ(client->Eval(RedisScript("return 7"), {}, {})->integer(), 7);
}

TEST_F(RedisIntegrationTest, SkipsTheSigpipeMaskInAProcessThatIgnoresSigpipe) {
  // A process that keeps SIGPIPE's default (fatal) disposition gets the per-call mask.
  EXPECT_TRUE(admin_->guards_sigpipe());
  // One that ignores it (the services, through IgnoreSigpipe) skips it and works all the same.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const RedisOptions options = options_;
  const std::string key = Key("sigpipe");
  EXPECT_EXIT(
      {
        signal(SIGPIPE, SIG_IGN);
        RedisClient client(options);
        const bool skipped = !client.guards_sigpipe();
        absl::StatusOr<RedisReply> set = client.Command({"SET", key, "v"});
        absl::StatusOr<RedisReply> get = client.Command({"GET", key});
        _exit(skipped && set.ok() && get.ok() && get->str() == "v" ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace tally
