// The real tally-passkey (and tally-policy, which it asks for a directory's required level)
// against the real PostgreSQL and Redis of `tools/dev test`: ceremonies driven over gRPC by the
// software authenticator, including replay, the wrong user, deleted passkeys and discoverable
// logins; user verification, required attestation and origin spelling; errors, health, metrics
// and tallyctl.

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/postgres/pg_pool.h"
#include "common/redis/redis_client.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/attestation_ca.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace pb = ::tally::passkey::v1;
namespace policy = ::tally::policy::v1;
using ::testing::HasSubstr;
using webauthn::testing::AttestationCa;
using webauthn::testing::SoftAuthenticator;

constexpr char kOrigin[] = "http://localhost:8080";

std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "",
                                             const std::string& platform_key = "") {
  return testing::NewContext(token, platform_key, absl::Seconds(10));
}

// tally-policy and tally-passkey on free ports, sharing one set of keys.
class Cluster {
 public:
  // `policy_up` false: tally-passkey is pointed at a port nobody listens on. `flags` come last
  // and win.
  explicit Cluster(bool policy_up = true, const std::vector<std::string>& flags = {}) {
    absl::StatusOr<std::shared_ptr<const testing::TestKeys>> keys = testing::TestKeys::Make();
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (keys.ok()) keys_ = *std::move(keys);
    const std::string suffix = testing::UniqueSuffix();
    const std::string postgres_url = testing::RequiredEnv("TALLY_TEST_POSTGRES_URL");
    const std::string redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL");
    std::string policy_address = absl::StrCat("127.0.0.1:", testing::FreePort());
    if (policy_up) {
      policy_ = std::make_unique<testing::ServiceProcess>(testing::ServiceOptions{
          .binary = "tally-policy",
          .flags = {absl::StrCat("--postgres_schema=policy_pk_", suffix)},
          .postgres_url = postgres_url,
          .redis_url = redis_url,
          .keys = keys_,
          .metrics = false});
      const absl::Status started = policy_->Start();
      EXPECT_TRUE(started.ok()) << started;
      policy_address = policy_->address();
      directories_ = policy::DirectoryService::NewStub(policy_->channel());
    }
    schema_ = absl::StrCat("passkey_it_", suffix);
    std::vector<std::string> passkey_flags = {
        absl::StrCat("--postgres_schema=", schema_), absl::StrCat("--policy_addr=", policy_address),
        "--policy_timeout=2s", "--rp_id=localhost", absl::StrCat("--rp_origins=", kOrigin)};
    passkey_flags.insert(passkey_flags.end(), flags.begin(), flags.end());
    passkey_ = std::make_unique<testing::ServiceProcess>(testing::ServiceOptions{
        .binary = "tally-passkey",
        .flags = std::move(passkey_flags),
        .postgres_url = postgres_url,
        .redis_url = redis_url,
        .keys = keys_});
    const absl::Status started = passkey_->Start();
    EXPECT_TRUE(started.ok()) << started;
    passkeys_ = pb::PasskeyService::NewStub(passkey_->channel());
  }

  std::string CreateDirectory() {
    policy::CreateDirectoryRequest request;
    request.set_display_name("Passkey Co");
    request.set_tier(policy::TIER_FREEMIUM);  // required level 30
    policy::CreateDirectoryResponse response;
    grpc::Status s = directories_->CreateDirectory(Context("", keys_->platform_key()).get(),
                                                   request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.directory().directory_id();
  }

  std::string Token(const std::string& directory, const std::string& user,
                    const std::string& acr = "30") {
    return keys_->Token({.directory_id = directory, .user_id = user, .acr = acr});
  }

  std::string address() const { return passkey_->address(); }
  const std::string& schema() const { return schema_; }
  int metrics_port() const { return passkey_->metrics_port(); }
  pb::PasskeyService::Stub& passkeys() { return *passkeys_; }
  std::shared_ptr<grpc::Channel> channel() { return passkey_->channel(); }

 private:
  std::shared_ptr<const testing::TestKeys> keys_;
  std::unique_ptr<testing::ServiceProcess> policy_;
  std::unique_ptr<testing::ServiceProcess> passkey_;
  std::string schema_;
  std::unique_ptr<pb::PasskeyService::Stub> passkeys_;
  std::unique_ptr<policy::DirectoryService::Stub> directories_;
};

// Registers a passkey for `user` through the service; the status of FinishRegistration.
grpc::Status Register(Cluster& cluster, SoftAuthenticator& authenticator, const std::string& dir,
                      const std::string& user, const std::string& fmt,
                      pb::FinishRegistrationResponse* out) {
  const std::string token = cluster.Token(dir, user);
  pb::StartRegistrationRequest start;
  start.set_directory_id(dir);
  start.set_user_id(user);
  start.set_username(user + "@example.com");
  start.set_display_name("Test User");
  pb::StartRegistrationResponse started;
  grpc::Status s = cluster.passkeys().StartRegistration(Context(token).get(), start, &started);
  if (!s.ok()) return s;
  pb::FinishRegistrationRequest finish;
  finish.set_directory_id(dir);
  finish.set_challenge_id(started.challenge_id());
  finish.set_registration_response_json(
      authenticator.RegisterFromOptions(started.creation_options_json(), kOrigin, fmt));
  finish.set_nickname(fmt + " key");
  return cluster.passkeys().FinishRegistration(Context(token).get(), finish, out);
}

struct Login {
  grpc::Status status;
  pb::StartAuthenticationResponse started;
};

Login StartLogin(Cluster& cluster, const std::string& dir, const std::string& user) {
  pb::StartAuthenticationRequest start;
  start.set_directory_id(dir);
  start.set_user_id(user);
  Login login;
  login.status = cluster.passkeys().StartAuthentication(Context().get(), start, &login.started);
  return login;
}

grpc::Status FinishLogin(Cluster& cluster, const std::string& dir, const std::string& challenge_id,
                         const std::string& response_json,
                         pb::FinishAuthenticationResponse* out) {
  pb::FinishAuthenticationRequest finish;
  finish.set_directory_id(dir);
  finish.set_challenge_id(challenge_id);
  finish.set_authentication_response_json(response_json);
  return cluster.passkeys().FinishAuthentication(Context().get(), finish, out);
}

TEST(PasskeyServerTest, CeremoniesWithEveryAlgorithm) {
  Cluster cluster;
  const std::string dir = cluster.CreateDirectory();
  ASSERT_FALSE(dir.empty());
  auto redis_options = ParseRedisUrl(testing::RequiredEnv("TALLY_TEST_REDIS_URL"));
  ASSERT_TRUE(redis_options.ok());
  RedisClient redis(*redis_options);

  struct Key {
    SoftAuthenticator::Alg alg;
    const char* fmt;
    const char* user;
  };
  const Key keys[] = {{SoftAuthenticator::Alg::kES256, "packed", "user_es256"},
                      {SoftAuthenticator::Alg::kEdDSA, "none", "user_eddsa"},
                      {SoftAuthenticator::Alg::kRS256, "packed", "user_rs256"}};
  for (const Key& key : keys) {
    SCOPED_TRACE(key.user);
    SoftAuthenticator authenticator(key.alg);
    pb::FinishRegistrationResponse registered;
    grpc::Status s = Register(cluster, authenticator, dir, key.user, key.fmt, &registered);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(registered.passkey().user_id(), key.user);
    EXPECT_EQ(registered.passkey().nickname(), absl::StrCat(key.fmt, " key"));
    EXPECT_EQ(registered.passkey().aaguid(), "42424242-4242-4242-4242-424242424242");
    EXPECT_THAT(registered.passkey().transports(), ::testing::ElementsAre("internal", "hybrid"));

    // Login with the user named (allowCredentials), then a replay of the same response.
    Login login = StartLogin(cluster, dir, key.user);
    ASSERT_TRUE(login.status.ok()) << login.status.error_message();
    auto options = nlohmann::json::parse(login.started.request_options_json());
    EXPECT_EQ(options["rpId"], "localhost");
    // The challenge waits in Redis under {dir}:wa:<id>, for 5 minutes at most.
    auto ttl = redis.Command(
        {"PTTL", absl::StrCat("{", dir, "}:wa:", login.started.challenge_id())});
    ASSERT_TRUE(ttl.ok()) << ttl.status();
    EXPECT_GT(ttl->integer(), 0);
    EXPECT_LE(ttl->integer(), 300000);
    ASSERT_EQ(options["allowCredentials"].size(), 1u);
    const std::string response =
        authenticator.AssertFromOptions(login.started.request_options_json(), kOrigin);
    pb::FinishAuthenticationResponse done;
    s = FinishLogin(cluster, dir, login.started.challenge_id(), response, &done);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(done.user_id(), key.user);
    EXPECT_EQ(done.credential_id(), registered.passkey().credential_id());
    EXPECT_TRUE(done.user_verified());
    s = FinishLogin(cluster, dir, login.started.challenge_id(), response, &done);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

    // Discoverable (passkey-first) login: the user handle names the user.
    login = StartLogin(cluster, dir, "");
    ASSERT_TRUE(login.status.ok()) << login.status.error_message();
    s = FinishLogin(cluster, dir, login.started.challenge_id(),
                    authenticator.AssertFromOptions(login.started.request_options_json(), kOrigin),
                    &done);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(done.user_id(), key.user);

    // The list, by the user.
    pb::ListPasskeysRequest list;
    list.set_user_id(key.user);
    pb::ListPasskeysResponse listed;
    s = cluster.passkeys().ListPasskeys(Context(cluster.Token(dir, key.user)).get(), list,
                                        &listed);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(listed.passkeys_size(), 1);
    EXPECT_TRUE(listed.passkeys(0).has_last_use_time());
  }

  // Metrics: ceremonies by result and reason.
  auto metrics = testing::HttpGet(cluster.metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, HasSubstr("tally_passkey_ceremonies_total{ceremony=\"authentication\""));
  EXPECT_THAT(*metrics, HasSubstr("reason=\"challenge\""));
  EXPECT_THAT(*metrics, HasSubstr("tally_passkey_counter_regressions_total"));
}

TEST(PasskeyServerTest, WrongUserDeletedPasskeyAndClones) {
  Cluster cluster;
  const std::string dir = cluster.CreateDirectory();
  SoftAuthenticator alice_key(SoftAuthenticator::Alg::kES256);
  SoftAuthenticator bob_key(SoftAuthenticator::Alg::kES256);
  pb::FinishRegistrationResponse alice, bob;
  ASSERT_TRUE(Register(cluster, alice_key, dir, "alice", "none", &alice).ok());
  ASSERT_TRUE(Register(cluster, bob_key, dir, "bob", "none", &bob).ok());

  // A login for bob answered with alice's passkey.
  Login login = StartLogin(cluster, dir, "bob");
  ASSERT_TRUE(login.status.ok());
  pb::FinishAuthenticationResponse done;
  grpc::Status s = FinishLogin(
      cluster, dir, login.started.challenge_id(),
      alice_key.AssertFromOptions(login.started.request_options_json(), kOrigin), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("another user"));

  // A clone of bob's authenticator, with an older counter.
  login = StartLogin(cluster, dir, "bob");
  ASSERT_TRUE(FinishLogin(cluster, dir, login.started.challenge_id(),
                          bob_key.AssertFromOptions(login.started.request_options_json(), kOrigin),
                          &done)
                  .ok());
  bob_key.set_counter(0);
  login = StartLogin(cluster, dir, "bob");
  s = FinishLogin(cluster, dir, login.started.challenge_id(),
                  bob_key.AssertFromOptions(login.started.request_options_json(), kOrigin), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("cloned"));
  auto metrics = testing::HttpGet(cluster.metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, HasSubstr("tally_passkey_counter_regressions_total 1"));

  // tallyctl passkey list / delete, as alice; then her passkey no longer logs in.
  const std::string alice_token = cluster.Token(dir, "alice");
  testing::CommandResult listed = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", cluster.address()),
       absl::StrCat("--token=", alice_token), "passkey", "list", "alice"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr(alice.passkey().credential_id()));
  EXPECT_THAT(listed.output, HasSubstr("1 passkey"));
  // Bob may not delete alice's passkey.
  testing::CommandResult denied = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", cluster.address()),
       absl::StrCat("--token=", cluster.Token(dir, "bob")), "passkey", "delete", "--", "alice",
       alice.passkey().credential_id()});
  EXPECT_NE(denied.exit_code, 0) << denied.output;
  // "--": a base64url credential id may start with '-', which would read as a flag.
  testing::CommandResult deleted = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", cluster.address()),
       absl::StrCat("--token=", alice_token), "passkey", "delete", "--", "alice",
       alice.passkey().credential_id()});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  login = StartLogin(cluster, dir, "alice");
  EXPECT_EQ(login.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  login = StartLogin(cluster, dir, "");
  ASSERT_TRUE(login.status.ok());
  s = FinishLogin(cluster, dir, login.started.challenge_id(),
                  alice_key.AssertFromOptions(login.started.request_options_json(), kOrigin),
                  &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("unknown credential"));
}

TEST(PasskeyServerTest, RegistrationNeedsTheUsersOwnSessionAtTheRequiredLevel) {
  Cluster cluster;
  const std::string dir = cluster.CreateDirectory();
  pb::StartRegistrationRequest start;
  start.set_directory_id(dir);
  start.set_user_id("carol");
  start.set_username("carol");
  pb::StartRegistrationResponse started;
  EXPECT_EQ(cluster.passkeys().StartRegistration(Context().get(), start, &started).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(cluster.passkeys()
                .StartRegistration(Context(cluster.Token(dir, "dave")).get(), start, &started)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status s = cluster.passkeys().StartRegistration(
      Context(cluster.Token(dir, "carol", "20")).get(), start, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("required level 30"));

  // Bad responses: nothing stored, a reason to act on.
  const std::string token = cluster.Token(dir, "carol");
  SoftAuthenticator key(SoftAuthenticator::Alg::kES256);
  ASSERT_TRUE(cluster.passkeys().StartRegistration(Context(token).get(), start, &started).ok());
  pb::FinishRegistrationRequest finish;
  finish.set_directory_id(dir);
  finish.set_challenge_id(started.challenge_id());
  finish.set_registration_response_json(
      key.RegisterFromOptions(started.creation_options_json(), "https://evil.example"));
  pb::FinishRegistrationResponse registered;
  s = cluster.passkeys().FinishRegistration(Context(token).get(), finish, &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("origin"));
  ASSERT_TRUE(cluster.passkeys().StartRegistration(Context(token).get(), start, &started).ok());
  finish.set_challenge_id(started.challenge_id());
  finish.set_registration_response_json(R"({"id":"AA","rawId":"AA","type":"public-key",)"
                                        R"("response":{"clientDataJSON":"e30","attestationObject":"oA"}})");
  s = cluster.passkeys().FinishRegistration(Context(token).get(), finish, &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  pb::ListPasskeysRequest list;
  list.set_user_id("carol");
  pb::ListPasskeysResponse listed;
  ASSERT_TRUE(cluster.passkeys().ListPasskeys(Context(token).get(), list, &listed).ok());
  EXPECT_EQ(listed.passkeys_size(), 0);

  // The same credential twice.
  pb::FinishRegistrationResponse first;
  ASSERT_TRUE(Register(cluster, key, dir, "carol", "none", &first).ok());
  s = Register(cluster, key, dir, "carol", "none", &first);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
}

TEST(PasskeyServerTest, UserVerificationIsRequiredByDefault) {
  Cluster cluster;  // no --user_verification: the default
  const std::string dir = cluster.CreateDirectory();
  // A security key without a PIN: a touch alone.
  SoftAuthenticator touch_only(SoftAuthenticator::Alg::kES256);
  touch_only.set_verifies_user(false);
  pb::FinishRegistrationResponse registered;
  grpc::Status s = Register(cluster, touch_only, dir, "frank", "none", &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("user verification is required"));

  SoftAuthenticator key(SoftAuthenticator::Alg::kES256);
  s = Register(cluster, key, dir, "frank", "none", &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Login login = StartLogin(cluster, dir, "frank");
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  EXPECT_EQ(nlohmann::json::parse(login.started.request_options_json())["userVerification"],
            "required");
  // The key stolen, used without its PIN.
  key.set_verifies_user(false);
  pb::FinishAuthenticationResponse done;
  s = FinishLogin(cluster, dir, login.started.challenge_id(),
                  key.AssertFromOptions(login.started.request_options_json(), kOrigin), &done);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  key.set_verifies_user(true);
  login = StartLogin(cluster, dir, "frank");
  s = FinishLogin(cluster, dir, login.started.challenge_id(),
                  key.AssertFromOptions(login.started.request_options_json(), kOrigin), &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(done.user_verified());
  auto metrics = testing::HttpGet(cluster.metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, HasSubstr("reason=\"user_verification\""));
}

TEST(PasskeyServerTest, RelaxedUserVerificationReportsTheUvFlagAsItIs) {
  Cluster cluster(true, {"--user_verification=preferred"});
  const std::string dir = cluster.CreateDirectory();
  SoftAuthenticator touch_only(SoftAuthenticator::Alg::kEdDSA);
  touch_only.set_verifies_user(false);
  pb::FinishRegistrationResponse registered;
  grpc::Status s = Register(cluster, touch_only, dir, "gina", "none", &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Login login = StartLogin(cluster, dir, "gina");
  ASSERT_TRUE(login.status.ok());
  pb::FinishAuthenticationResponse done;
  s = FinishLogin(cluster, dir, login.started.challenge_id(),
                  touch_only.AssertFromOptions(login.started.request_options_json(), kOrigin),
                  &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.user_id(), "gina");
  // What the orchestrator refuses PASSKEY on.
  EXPECT_FALSE(done.user_verified());
}

TEST(PasskeyServerTest, RequiredAttestationAdmitsOnlyAttestedAllowedModels) {
  testing::TempDir files;
  const AttestationCa vendor("Vendor Root");
  const AttestationCa stranger("Stranger Root");
  const std::string ca_file = absl::StrCat(files.path(), "/attestation_ca.pem");
  std::ofstream(ca_file) << vendor.RootPem();
  const std::string model(16, '\x42');  // the software authenticator's AAGUID
  Cluster cluster(true, {"--require_attestation", absl::StrCat("--attestation_ca_file=", ca_file),
                         "--allowed_aaguids=42424242-4242-4242-4242-424242424242"});
  const std::string dir = cluster.CreateDirectory();
  pb::FinishRegistrationResponse registered;

  // Keycloak CVE-2026-6856: unattested data names the allowed model, as an attacker would.
  SoftAuthenticator unattested(SoftAuthenticator::Alg::kES256);
  for (const char* fmt : {"none", "packed"}) {
    grpc::Status s = Register(cluster, unattested, dir, "hana", fmt, &registered);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << fmt;
    EXPECT_THAT(s.error_message(), HasSubstr("attestation certificate chain to a trusted CA"))
        << fmt;
  }
  SoftAuthenticator foreign(SoftAuthenticator::Alg::kES256);
  foreign.set_attestation_key(stranger.Issue(model));
  grpc::Status s = Register(cluster, foreign, dir, "hana", "packed", &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  SoftAuthenticator unlisted(SoftAuthenticator::Alg::kES256);
  unlisted.set_aaguid(std::string(16, '\x07'));
  unlisted.set_attestation_key(vendor.Issue(std::string(16, '\x07')));
  s = Register(cluster, unlisted, dir, "hana", "packed", &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("is not on the allow-list"));

  SoftAuthenticator attested(SoftAuthenticator::Alg::kES256);
  attested.set_attestation_key(vendor.Issue(model));
  s = Register(cluster, attested, dir, "hana", "packed", &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(registered.passkey().aaguid(), "42424242-4242-4242-4242-424242424242");
  pb::ListPasskeysRequest list;
  list.set_user_id("hana");
  pb::ListPasskeysResponse listed;
  ASSERT_TRUE(cluster.passkeys()
                  .ListPasskeys(Context(cluster.Token(dir, "hana")).get(), list, &listed)
                  .ok());
  EXPECT_EQ(listed.passkeys_size(), 1);
  auto metrics = testing::HttpGet(cluster.metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, HasSubstr("reason=\"aaguid\""));
}

TEST(PasskeyServerTest, ConfiguredOriginsMatchTheBrowsersSpelling) {
  // As an operator may write them; the browser sends http://localhost:8080.
  Cluster cluster(true, {"--rp_origins=HTTP://LocalHost:8080/"});
  const std::string dir = cluster.CreateDirectory();
  SoftAuthenticator key(SoftAuthenticator::Alg::kES256);
  pb::FinishRegistrationResponse registered;
  grpc::Status s = Register(cluster, key, dir, "ines", "none", &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // A directory's own relying_parties row, spelled loosely; it requires UV unless it says not.
  const std::string other = cluster.CreateDirectory();
  PgOptions pg;
  pg.url = testing::RequiredEnv("TALLY_TEST_POSTGRES_URL");
  pg.pool_size = 1;
  PgPool pool(pg);
  ASSERT_EQ(pool.Transact([&](pqxx::work& w) {
    w.exec_params0(absl::StrCat("INSERT INTO ", cluster.schema(),
                                ".relying_parties (directory_id, rp_id, rp_name, origins) "
                                "VALUES ($1, 'localhost', 'Other', '{HTTP://LOCALHOST:8080/}')"),
                   other);
    return absl::OkStatus();
  }),
            absl::OkStatus());
  SoftAuthenticator touch_only(SoftAuthenticator::Alg::kES256);
  touch_only.set_verifies_user(false);
  s = Register(cluster, touch_only, other, "ines", "none", &registered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  SoftAuthenticator other_key(SoftAuthenticator::Alg::kES256);
  s = Register(cluster, other_key, other, "ines", "none", &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

TEST(PasskeyServerConfigTest, AnInvalidOriginStopsTheStartWithOneLine) {
  const testing::CommandResult bad = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tally-passkey"),
       absl::StrCat("--listen=127.0.0.1:", testing::FreePort()), "--metrics_listen=off",
       "--postgres_url=postgresql://x@127.0.0.1:1/x", "--redis_url=redis://127.0.0.1:1",
       "--rp_origins=https://login.example.com/signin"},
      {}, absl::Seconds(20));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--rp_origins: \"https://login.example.com/signin\" is not "
                                    "an origin"));
}

TEST(PasskeyServerTest, PolicyServiceDownIsUnavailable) {
  Cluster cluster(/*policy_up=*/false);
  pb::StartRegistrationRequest start;
  start.set_directory_id("dir_nowhere");
  start.set_user_id("erin");
  start.set_username("erin");
  pb::StartRegistrationResponse started;
  grpc::Status s = cluster.passkeys().StartRegistration(
      Context(cluster.Token("dir_nowhere", "erin")).get(), start, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // Health: both stores are up, so the service serves.
  auto health = grpc::health::v1::Health::NewStub(cluster.channel());
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext context;
        return health->Check(&context, request, &response).ok() &&
               response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(10)));
}

}  // namespace
}  // namespace tally
