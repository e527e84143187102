// The real tally-credential binary against the real PostgreSQL of `tools/dev test`: every RPC
// through gRPC, who may call what, bad input, a create race, re-hashing after a parameter
// change, the hashing limit, metrics, logs free of secrets, and tallyctl.

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/credential/pg_credential_store.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace pb = ::tally::credential::v1;
using ::grpc::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kBadLogin[] = "invalid username or password";
// Small Argon2id parameters keep the suite fast; the defaults are covered by the unit tests.
const std::vector<std::string> kFastArgon2 = {"--argon2_memory_kib=1024", "--argon2_iterations=1"};

std::string PostgresUrl() { return testing::RequiredEnv("TALLY_TEST_POSTGRES_URL"); }

// tally-credential on free ports with its own schema and keys; Start() again restarts it on the
// same schema with the same keys.
class CredentialServer {
 public:
  CredentialServer() : schema_(absl::StrCat("credential_it_", testing::UniqueSuffix())) {
    absl::StatusOr<std::shared_ptr<const testing::TestKeys>> keys = testing::TestKeys::Make();
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (keys.ok()) keys_ = *std::move(keys);
  }

  // Starts the binary with the fast parameters and `extra` flags after them, and (once) the
  // peers it calls: the real policy service (CreateUser asks whether the directory exists and
  // which SMS countries it allows) and the OTP service's API (a user's contact change sends a
  // code through it; no sender runs, so nothing is delivered).
  void Start(const std::vector<std::string>& extra = {}) {
    StartPeers();
    std::vector<std::string> flags = {
        absl::StrCat("--postgres_schema=", schema_),
        absl::StrCat("--policy_addr=", policy_->address()),
        absl::StrCat("--otp_addr=", otp_->address()),
        absl::StrCat("--password_blocklist=", testing::SourceDir(),
                     "/services/credential/data/common_passwords.txt")};
    flags.insert(flags.end(), kFastArgon2.begin(), kFastArgon2.end());
    flags.insert(flags.end(), extra.begin(), extra.end());
    process_ = std::make_unique<testing::ServiceProcess>(
        testing::ServiceOptions{.binary = "tally-credential",
                                .flags = std::move(flags),
                                .postgres_url = PostgresUrl(),
                                .redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL"),
                                .keys = keys_,
                                .drain_timeout = absl::Seconds(5)});
    const absl::Status started = process_->Start();
    ASSERT_TRUE(started.ok()) << started;
    stub_ = pb::CredentialService::NewStub(process_->channel());
  }

  void Stop() {
    const absl::StatusOr<int> code = process_->Stop(SIGTERM, absl::Seconds(15));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << process_->Output();
  }

  // A new directory in the policy service; its id.
  std::string NewDirectory() {
    auto directories = policy::v1::DirectoryService::NewStub(policy_->channel());
    policy::v1::CreateDirectoryRequest request;
    request.set_display_name("Credential integration");
    request.set_tier(policy::v1::TIER_FREEMIUM);
    policy::v1::CreateDirectoryResponse response;
    const grpc::Status s = directories->CreateDirectory(
        testing::NewContext("", keys_->platform_key(), absl::Seconds(20)).get(), request,
        &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.directory().directory_id();
  }

  std::string Token(const std::string& directory, const std::string& user,
                    std::vector<std::string> roles) const {
    return keys_->Token({.directory_id = directory, .user_id = user, .roles = std::move(roles)});
  }

  // The stored PHC string of `user_id` ("" when none), read from PostgreSQL.
  std::string StoredHash(const std::string& user_id) {
    absl::StatusOr<credential::StoredUser> user = Store().GetUser(user_id);
    EXPECT_TRUE(user.ok()) << user.status();
    return user.ok() ? user->password_hash : "(no user)";
  }

  // "field by actor" for every recorded contact change of `user_id`, oldest first.
  std::vector<std::string> ContactChanges(const std::string& user_id) {
    absl::StatusOr<std::vector<credential::ContactChange>> changes =
        Store().ListContactChanges(user_id);
    std::vector<std::string> out;
    if (!changes.ok()) return {changes.status().ToString()};
    for (const credential::ContactChange& c : *changes) {
      out.push_back(absl::StrCat(c.field, " by ", c.actor));
    }
    return out;
  }

  const testing::TestKeys& keys() const { return *keys_; }
  testing::ServiceProcess& process() { return *process_; }
  pb::CredentialService::Stub& stub() { return *stub_; }

 private:
  void StartPeers() {
    if (policy_ != nullptr) return;
    const std::string suffix = testing::UniqueSuffix();
    policy_ = std::make_unique<testing::ServiceProcess>(testing::ServiceOptions{
        .binary = "tally-policy",
        .flags = {absl::StrCat("--postgres_schema=policy_", schema_)},
        .postgres_url = PostgresUrl(),
        .redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL"),
        .keys = keys_,
        .metrics = false});
    otp_ = std::make_unique<testing::ServiceProcess>(testing::ServiceOptions{
        .binary = "tally-otp",
        .flags = {"--role=api", absl::StrCat("--otp_queue=cred-it-", suffix),
                  "--otp_cooldown=0s"},
        .redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL"),
        .keys = keys_,
        // Keys for these tests only.
        .env = {{"TALLY_OTP_HMAC_KEY", "63726564656e7469616c2d69742d6f74702d686d61632d74657374732d6f6e6c"}, {"TALLY_OTP_ENCRYPTION_KEY", "63726564656e7469616c2d69742d6f74702d656e6372797074696f6e2d6b6579"}},
        .metrics = false});
    for (testing::ServiceProcess* peer : {policy_.get(), otp_.get()}) {
      const absl::Status started = peer->Start();
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  // The server's schema, read through the store it writes with.
  credential::PgCredentialStore& Store() {
    if (store_ == nullptr) {
      PgOptions options;
      options.url = PostgresUrl();
      store_ = std::make_unique<credential::PgCredentialStore>(std::make_shared<PgPool>(options),
                                                               schema_);
    }
    return *store_;
  }

  std::string schema_;
  std::shared_ptr<const testing::TestKeys> keys_;
  std::unique_ptr<testing::ServiceProcess> policy_;
  std::unique_ptr<testing::ServiceProcess> otp_;
  std::unique_ptr<testing::ServiceProcess> process_;
  std::unique_ptr<pb::CredentialService::Stub> stub_;
  std::unique_ptr<credential::PgCredentialStore> store_;
};

// How a call presents itself.
struct As {
  static As Key(std::string key) {
    As as;
    as.platform_key = std::move(key);
    return as;
  }
  static As Bearer(std::string token) {
    As as;
    as.token = std::move(token);
    return as;
  }
  std::string platform_key;
  std::string token;
};

std::unique_ptr<grpc::ClientContext> Context(const As& as) {
  return testing::NewContext(as.token, as.platform_key, absl::Seconds(20));
}

const As kAnonymous{};

class CredentialServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<CredentialServer>();
    server_->Start();
    dir_ = server_->NewDirectory();
    other_dir_ = server_->NewDirectory();
    platform_ = As::Key(server_->keys().platform_key());
    admin_ = As::Bearer(server_->Token(dir_, "usr_the_admin", {"admin"}));
  }

  absl::StatusOr<pb::User> Create(const As& as, const std::string& username,
                                  const std::string& password = "",
                                  std::vector<std::string> roles = {},
                                  const std::string& dir = "") {
    pb::CreateUserRequest request;
    request.set_directory_id(dir.empty() ? dir_ : dir);
    request.set_username(username);
    request.set_password(password);
    for (auto& r : roles) request.add_roles(r);
    pb::CreateUserResponse response;
    grpc::Status s = stub().CreateUser(Context(as).get(), request, &response);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return response.user();
  }

  grpc::Status Verify(const std::string& username, const std::string& password,
                      pb::VerifyPasswordResponse* response = nullptr,
                      const std::string& dir = "", const As& as = kAnonymous) {
    pb::VerifyPasswordRequest request;
    request.set_directory_id(dir.empty() ? dir_ : dir);
    request.set_username(username);
    request.set_password(password);
    pb::VerifyPasswordResponse ignored;
    return stub().VerifyPassword(Context(as).get(), request, response ? response : &ignored);
  }

  pb::CredentialService::Stub& stub() { return server_->stub(); }

  // Directories of the policy service, made for each test.
  std::string dir_;
  std::string other_dir_;
  std::unique_ptr<CredentialServer> server_;
  As platform_;
  As admin_;
};

TEST_F(CredentialServerTest, EveryRpcThroughGrpc) {
  {
    auto health = grpc::health::v1::Health::NewStub(server_->process().channel());
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(Context(kAnonymous).get(), request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // The platform bootstraps the directory's first admin.
  absl::StatusOr<pb::User> root = Create(platform_, "Root", "root-password-1", {"admin"});
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_THAT(root->roles(), ElementsAre("admin"));
  const As root_as = As::Bearer(server_->Token(dir_, root->user_id(), {"admin"}));

  pb::CreateUserRequest create;
  create.set_directory_id(dir_);
  create.set_username("Mia.Jansen");
  create.set_password("mia-first-password");
  create.set_email("Mia@Example.NL");
  create.set_phone_number("+31 6 1234 5678");
  create.add_roles("user");
  pb::CreateUserResponse created;
  ASSERT_TRUE(stub().CreateUser(Context(root_as).get(), create, &created).ok());
  const pb::User& mia = created.user();
  EXPECT_THAT(mia.user_id(), StartsWith("usr_"));
  EXPECT_EQ(mia.username(), "Mia.Jansen");
  EXPECT_EQ(mia.email(), "Mia@example.nl");
  EXPECT_EQ(mia.phone_number(), "+31612345678");
  EXPECT_TRUE(mia.has_password());
  EXPECT_GT(mia.create_time().seconds(), 0);
  EXPECT_THAT(server_->StoredHash(mia.user_id()), StartsWith("$argon2id$v=19$m=1024,t=1,p=1$"));

  pb::GetUserRequest get;
  get.set_user_id(mia.user_id());
  pb::GetUserResponse got;
  ASSERT_TRUE(stub().GetUser(Context(kAnonymous).get(), get, &got).ok());
  EXPECT_EQ(got.user().SerializeAsString(), mia.SerializeAsString());

  pb::FindUserRequest find;
  find.set_directory_id(dir_);
  find.set_username("MIA.JANSEN");
  pb::FindUserResponse found;
  ASSERT_TRUE(stub().FindUser(Context(kAnonymous).get(), find, &found).ok());
  EXPECT_EQ(found.user().user_id(), mia.user_id());

  pb::VerifyPasswordResponse verified;
  ASSERT_TRUE(Verify("mia.jansen", "mia-first-password", &verified).ok());
  EXPECT_EQ(verified.user().user_id(), mia.user_id());

  const As mia_as = As::Bearer(server_->Token(dir_, mia.user_id(), {"user"}));
  pb::UpdateContactRequest contact;
  contact.set_user_id(mia.user_id());
  contact.set_email("mia@example.org");
  pb::UpdateContactResponse updated;
  // By an admin: applied at once (a user's own change waits for a code: account_security_test).
  ASSERT_TRUE(stub().UpdateContact(Context(root_as).get(), contact, &updated).ok());
  EXPECT_EQ(updated.user().email(), "mia@example.org");
  EXPECT_TRUE(updated.pending_change_id().empty());
  EXPECT_EQ(updated.user().phone_number(), "");

  pb::SetPasswordRequest set_password;
  set_password.set_user_id(mia.user_id());
  set_password.set_new_password("mia-second-password");
  set_password.set_current_password("mia-first-password");
  pb::SetPasswordResponse password_set;
  ASSERT_TRUE(stub().SetPassword(Context(mia_as).get(), set_password, &password_set).ok());
  EXPECT_EQ(Verify("Mia.Jansen", "mia-first-password").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Verify("Mia.Jansen", "mia-second-password").ok());

  pb::SetRolesRequest set_roles;
  set_roles.set_user_id(mia.user_id());
  set_roles.add_roles("user");
  set_roles.add_roles("admin");
  pb::SetRolesResponse roles_set;
  ASSERT_TRUE(stub().SetRoles(Context(root_as).get(), set_roles, &roles_set).ok());
  EXPECT_THAT(roles_set.user().roles(), ElementsAre("admin", "user"));

  pb::ListUsersRequest list;
  list.set_directory_id(dir_);
  list.set_page_size(1);
  std::vector<std::string> listed;
  do {
    pb::ListUsersResponse page;
    ASSERT_TRUE(stub().ListUsers(Context(root_as).get(), list, &page).ok());
    ASSERT_LE(page.users_size(), 1);
    for (const auto& u : page.users()) listed.push_back(u.username());
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  EXPECT_THAT(listed, ElementsAre("Root", "Mia.Jansen"));

  pb::DeleteUserRequest del;
  del.set_user_id(mia.user_id());
  pb::DeleteUserResponse deleted;
  ASSERT_TRUE(stub().DeleteUser(Context(root_as).get(), del, &deleted).ok());
  EXPECT_EQ(stub().GetUser(Context(kAnonymous).get(), get, &got).error_code(),
            StatusCode::NOT_FOUND);
  const grpc::Status gone = Verify("Mia.Jansen", "mia-second-password");
  EXPECT_EQ(gone.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(gone.error_message(), kBadLogin);
}

// API.md's "who may call", RPC by RPC, for every kind of caller.
TEST_F(CredentialServerTest, WhoMayCallEveryRpc) {
  absl::StatusOr<pb::User> target = Create(admin_, "target", "target-password");
  ASSERT_TRUE(target.ok()) << target.status();
  const std::string id = target->user_id();

  struct Who {
    const char* name;
    As as;
  };
  std::vector<Who> callers = {
      {"anonymous", kAnonymous},
      {"wrong platform key", As::Key("not-the-platform-key")},
      {"bad token", As::Bearer("not.a.token")},
      {"platform", platform_},
      {"admin of another directory", As::Bearer(server_->Token(other_dir_, "usr_x", {"admin"}))},
      {"plain user of the directory", As::Bearer(server_->Token(dir_, "usr_peer", {"user"}))},
      {"the user", As::Bearer(server_->Token(dir_, id, {"user"}))},
      {"admin", admin_},
  };
  constexpr StatusCode OK = StatusCode::OK, UN = StatusCode::UNAUTHENTICATED,
                       PD = StatusCode::PERMISSION_DENIED;
  int fresh = 0;
  // Each RPC as a call with the caller's context; expected codes in the order of `callers`.
  // A token of another directory reads no user here, even through the cluster-callable
  // GetUser/FindUser (issue 20).
  struct Rule {
    const char* rpc;
    std::function<StatusCode(const As&)> call;
    std::vector<StatusCode> expected;
  };
  const std::vector<Rule> rules = {
      {"CreateUser",
       [&](const As& as) {
         absl::StatusOr<pb::User> u = Create(as, absl::StrCat("new-", fresh++));
         return static_cast<StatusCode>(u.status().code());
       },
       {UN, UN, UN, OK, PD, PD, PD, OK}},
      {"GetUser",
       [&](const As& as) {
         pb::GetUserRequest r;
         r.set_user_id(id);
         pb::GetUserResponse out;
         return stub().GetUser(Context(as).get(), r, &out).error_code();
       },
       {OK, UN, UN, OK, PD, OK, OK, OK}},
      {"FindUser",
       [&](const As& as) {
         pb::FindUserRequest r;
         r.set_directory_id(dir_);
         r.set_username("TARGET");
         pb::FindUserResponse out;
         return stub().FindUser(Context(as).get(), r, &out).error_code();
       },
       {OK, UN, UN, OK, PD, OK, OK, OK}},
      {"VerifyPassword",
       [&](const As& as) { return Verify("target", "target-password", nullptr, dir_, as).error_code(); },
       {OK, UN, UN, OK, OK, OK, OK, OK}},
      {"ListUsers",
       [&](const As& as) {
         pb::ListUsersRequest r;
         r.set_directory_id(dir_);
         pb::ListUsersResponse out;
         return stub().ListUsers(Context(as).get(), r, &out).error_code();
       },
       {UN, UN, UN, PD, PD, PD, PD, OK}},
      {"UpdateContact",
       [&](const As& as) {
         pb::UpdateContactRequest r;
         r.set_user_id(id);
         r.set_phone_number("+31612345678");
         pb::UpdateContactResponse out;
         return stub().UpdateContact(Context(as).get(), r, &out).error_code();
       },
       {UN, UN, UN, PD, PD, PD, OK, OK}},
      {"SetPassword",
       [&](const As& as) {
         pb::SetPasswordRequest r;
         r.set_user_id(id);
         r.set_new_password("target-password");
         r.set_current_password("target-password");
         pb::SetPasswordResponse out;
         return stub().SetPassword(Context(as).get(), r, &out).error_code();
       },
       {UN, UN, UN, PD, PD, PD, OK, OK}},
      {"SetRoles",
       [&](const As& as) {
         pb::SetRolesRequest r;
         r.set_user_id(id);
         r.add_roles("user");
         pb::SetRolesResponse out;
         return stub().SetRoles(Context(as).get(), r, &out).error_code();
       },
       {UN, UN, UN, PD, PD, PD, PD, OK}},
      {"DeleteUser",
       [&](const As& as) {
         // A victim per call, so an allowed delete does not change the next caller's answer.
         absl::StatusOr<pb::User> victim = Create(admin_, absl::StrCat("victim-", fresh++));
         EXPECT_TRUE(victim.ok());
         pb::DeleteUserRequest r;
         r.set_user_id(victim->user_id());
         pb::DeleteUserResponse out;
         return stub().DeleteUser(Context(as).get(), r, &out).error_code();
       },
       {UN, UN, UN, PD, PD, PD, PD, OK}},
  };
  for (const Rule& rule : rules) {
    // Password and role changes end the target's sessions (per-user revocation, to the
    // millisecond, the mark winning a tie): the user's token for each rule is issued after the
    // previous rule's mark.
    absl::SleepFor(absl::Milliseconds(2));
    callers[6].as = As::Bearer(server_->Token(dir_, id, {"user"}));
    for (size_t i = 0; i < callers.size(); ++i) {
      EXPECT_EQ(rule.call(callers[i].as), rule.expected[i])
          << rule.rpc << " as " << callers[i].name;
    }
  }
  // The user themself may not act on a neighbour.
  const absl::StatusOr<pb::User> neighbour = Create(admin_, "neighbour");
  ASSERT_TRUE(neighbour.ok());
  pb::SetPasswordRequest r;
  r.set_user_id(neighbour->user_id());
  r.set_new_password("neighbour-password");
  pb::SetPasswordResponse out;
  EXPECT_EQ(stub().SetPassword(Context(callers[6].as).get(), r, &out).error_code(), PD);
}

TEST_F(CredentialServerTest, VerifyPasswordAnswersEveryFailureAlike) {
  ASSERT_TRUE(Create(admin_, "Nora", "nora-password-1").ok());
  ASSERT_TRUE(Create(admin_, "passkey.only").ok());
  EXPECT_TRUE(Verify("NORA", "nora-password-1").ok());
  for (const grpc::Status& s :
       {Verify("nora", "nora-password-2"), Verify("nobody", "nora-password-1"),
        Verify("passkey.only", "anything-at-all"),
        Verify("nora", "nora-password-1", nullptr, other_dir_)}) {
    EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(s.error_message(), kBadLogin);
  }
  auto metrics = testing::HttpGet(server_->process().metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics, HasSubstr("tally_password_checks_total{outcome=\"accepted\"} 1"));
  EXPECT_THAT(*metrics, HasSubstr("tally_password_checks_total{outcome=\"wrong_password\"} 1"));
  EXPECT_THAT(*metrics, HasSubstr("tally_password_checks_total{outcome=\"unknown_user\"} 2"));
  EXPECT_THAT(*metrics, HasSubstr("tally_password_checks_total{outcome=\"no_password\"} 1"));
  // Five checks, one Argon2id run each (unknown users and users without a password included).
  EXPECT_THAT(*metrics, HasSubstr("tally_password_hash_seconds_count{operation=\"verify\"} 5"));
  EXPECT_THAT(*metrics, HasSubstr("tally_password_hash_seconds_count{operation=\"hash\"} 1"));
  EXPECT_THAT(*metrics, HasSubstr("tally_password_hashes_in_flight 0"));
  EXPECT_THAT(*metrics, HasSubstr("tally_store_up{store=\"postgres\"} 1"));
}

TEST_F(CredentialServerTest, ReHashesOnLoginAfterTheParametersChange) {
  absl::StatusOr<pb::User> olga = Create(admin_, "olga", "olga-password-1");
  ASSERT_TRUE(olga.ok());
  const std::string old_hash = server_->StoredHash(olga->user_id());
  EXPECT_THAT(old_hash, StartsWith("$argon2id$v=19$m=1024,t=1,p=1$"));

  server_->Stop();
  server_->Start({"--argon2_memory_kib=2048", "--argon2_iterations=2"});
  EXPECT_EQ(Verify("olga", "wrong-password").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_->StoredHash(olga->user_id()), old_hash);
  ASSERT_TRUE(Verify("olga", "olga-password-1").ok());
  const std::string new_hash = server_->StoredHash(olga->user_id());
  EXPECT_THAT(new_hash, StartsWith("$argon2id$v=19$m=2048,t=2,p=1$"));
  ASSERT_TRUE(Verify("olga", "olga-password-1").ok());
  EXPECT_EQ(server_->StoredHash(olga->user_id()), new_hash);
}

TEST_F(CredentialServerTest, BadInputIsInvalidArgumentAndUnknownIdsAreNotFound) {
  auto create_code = [&](const std::string& username, const std::string& password,
                         const std::string& email, const std::string& phone,
                         const std::string& role = "user") {
    pb::CreateUserRequest r;
    r.set_directory_id(dir_);
    r.set_username(username);
    r.set_password(password);
    r.set_email(email);
    r.set_phone_number(phone);
    r.add_roles(role);
    pb::CreateUserResponse out;
    grpc::Status s = stub().CreateUser(Context(admin_).get(), r, &out);
    EXPECT_THAT(s.error_message(), Not(HasSubstr(password.empty() ? "\x01" : password)));
    return s;
  };
  const std::string ok_pw = "a-fine-password";
  struct Case {
    const char* what;
    grpc::Status status;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"empty username", create_code("", ok_pw, "", ""), "username is required"},
      {"oversized username", create_code(std::string(129, 'u'), ok_pw, "", ""), "at most 128"},
      {"control character", create_code("tab\tname", ok_pw, "", ""), "control"},
      {"malformed email", create_code("u1", ok_pw, "u1@", ""), "email is not a valid address"},
      {"email without dot", create_code("u1", ok_pw, "u1@localhost", ""), "email"},
      {"malformed phone", create_code("u1", ok_pw, "", "0612345678"), "E.164"},
      {"phone too short", create_code("u1", ok_pw, "", "+3161234"), "E.164"},
      {"phone too long", create_code("u1", ok_pw, "", "+3161234567890123"), "E.164"},
      {"unknown role", create_code("u1", ok_pw, "", "", "owner"), "unknown role"},
      {"short password", create_code("u1", "short7!", "", ""), "at least 8 characters"},
      {"long password", create_code("u1", std::string(1025, 'p'), "", ""), "at most 1024 bytes"},
      {"blocklisted password", create_code("u1", "Password123", "", ""), "too common"},
      {"keyboard walk", create_code("u1", "QWERTYUIOP", "", ""), "too common"},
      {"password = username", create_code("Long.Username", "long.username", "", ""),
       "must not be the username"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(c.status.error_message(), HasSubstr(c.message)) << c.what;
  }
  // proto3 strings must be UTF-8: gRPC's parser refuses anything else before the service sees
  // it (the service's own INVALID_ARGUMENT checks are covered by the unit tests).
  EXPECT_FALSE(create_code("bad\xFF\xFE", ok_pw, "", "").ok());
  EXPECT_FALSE(create_code("u1", "pass\xFFword", "", "").ok());
  auto metrics = testing::HttpGet(server_->process().metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, Not(HasSubstr("tally_password_hash_seconds_count{operation=\"hash\"}")))
      << "refused passwords are never hashed";

  pb::CreateUserRequest bad_dir;
  bad_dir.set_directory_id("dir with spaces");
  bad_dir.set_username("u");
  pb::CreateUserResponse created;
  EXPECT_EQ(stub().CreateUser(Context(platform_).get(), bad_dir, &created).error_code(),
            StatusCode::INVALID_ARGUMENT);

  // Unknown ids.
  pb::GetUserRequest get;
  get.set_user_id("usr_doesnotexist");
  pb::GetUserResponse got;
  EXPECT_EQ(stub().GetUser(Context(kAnonymous).get(), get, &got).error_code(),
            StatusCode::NOT_FOUND);
  get.set_user_id("");
  EXPECT_EQ(stub().GetUser(Context(kAnonymous).get(), get, &got).error_code(),
            StatusCode::INVALID_ARGUMENT);
  pb::FindUserRequest find;
  find.set_directory_id(dir_);
  find.set_username("nobody-here");
  pb::FindUserResponse found;
  EXPECT_EQ(stub().FindUser(Context(kAnonymous).get(), find, &found).error_code(),
            StatusCode::NOT_FOUND);
  for (auto call : std::vector<std::function<grpc::Status()>>{
           [&] {
             pb::UpdateContactRequest r;
             r.set_user_id("usr_doesnotexist");
             pb::UpdateContactResponse out;
             return stub().UpdateContact(Context(admin_).get(), r, &out);
           },
           [&] {
             pb::SetPasswordRequest r;
             r.set_user_id("usr_doesnotexist");
             r.set_new_password("whatever-it-is");
             pb::SetPasswordResponse out;
             return stub().SetPassword(Context(admin_).get(), r, &out);
           },
           [&] {
             pb::SetRolesRequest r;
             r.set_user_id("usr_doesnotexist");
             pb::SetRolesResponse out;
             return stub().SetRoles(Context(admin_).get(), r, &out);
           },
           [&] {
             pb::DeleteUserRequest r;
             r.set_user_id("usr_doesnotexist");
             pb::DeleteUserResponse out;
             return stub().DeleteUser(Context(admin_).get(), r, &out);
           }}) {
    EXPECT_EQ(call().error_code(), StatusCode::NOT_FOUND);
  }

  // Verify: malformed requests are refused before any look-up.
  EXPECT_EQ(Verify("", "x-password").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Verify("someone", "").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Verify("someone", std::string(4096, 'x')).error_code(), StatusCode::INVALID_ARGUMENT);

  // Paging.
  pb::ListUsersRequest list;
  list.set_directory_id(dir_);
  list.set_page_token("not-a-token");
  pb::ListUsersResponse listed;
  EXPECT_EQ(stub().ListUsers(Context(admin_).get(), list, &listed).error_code(),
            StatusCode::INVALID_ARGUMENT);
  list.set_page_token("");
  list.set_page_size(-5);
  EXPECT_EQ(stub().ListUsers(Context(admin_).get(), list, &listed).error_code(),
            StatusCode::INVALID_ARGUMENT);
  list.set_page_size(100000);  // capped, not refused
  EXPECT_TRUE(stub().ListUsers(Context(admin_).get(), list, &listed).ok());

  // Duplicates, in any case.
  ASSERT_TRUE(Create(admin_, "Pieter").ok());
  EXPECT_EQ(Create(admin_, "PIETER").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Create(platform_, "pieter", "", {}, other_dir_).ok()) << "another directory";
}

TEST_F(CredentialServerTest, OneOfManyConcurrentCreatesOfAUsernameWins) {
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::vector<StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // "Racer", "rACER", ...: the same username in a different case each time.
      std::string name = "racer";
      for (size_t c = 0; c < name.size(); ++c) {
        if ((i >> (c % 4)) & 1) name[c] = static_cast<char>(name[c] - 'a' + 'A');
      }
      start.arrive_and_wait();
      codes[i] = static_cast<StatusCode>(Create(admin_, name).status().code());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::OK), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::ALREADY_EXISTS), kThreads - 1);
  pb::ListUsersRequest list;
  list.set_directory_id(dir_);
  pb::ListUsersResponse listed;
  ASSERT_TRUE(stub().ListUsers(Context(admin_).get(), list, &listed).ok());
  EXPECT_EQ(listed.users_size(), 1);
}

TEST_F(CredentialServerTest, ContactChangesAreRecordedWithTheirActor) {
  pb::CreateUserRequest create;
  create.set_directory_id(dir_);
  create.set_username("quinn");
  create.set_email("quinn@example.com");
  pb::CreateUserResponse created;
  ASSERT_TRUE(stub().CreateUser(Context(admin_).get(), create, &created).ok());
  const std::string id = created.user().user_id();
  const As quinn = As::Bearer(server_->Token(dir_, id, {"user"}));
  pb::UpdateContactRequest update;
  update.set_user_id(id);
  update.set_email("QUINN@example.com");  // a change: the local part is case-sensitive
  update.set_phone_number("+1 202-555-0143");
  pb::UpdateContactResponse updated;
  // An admin's changes apply at once (a user's own new destination waits for its code: the
  // e2e account_security_test); a user's removal applies at once too.
  ASSERT_TRUE(stub().UpdateContact(Context(admin_).get(), update, &updated).ok());
  ASSERT_TRUE(stub().UpdateContact(Context(admin_).get(), update, &updated).ok());  // no change
  update.set_phone_number("");
  ASSERT_TRUE(stub().UpdateContact(Context(quinn).get(), update, &updated).ok());
  EXPECT_TRUE(updated.pending_change_id().empty());
  update.set_email("");
  ASSERT_TRUE(stub().UpdateContact(Context(admin_).get(), update, &updated).ok());
  EXPECT_THAT(server_->ContactChanges(id),
              ElementsAre("email by user:usr_the_admin", "email by user:usr_the_admin",
                          "phone_number by user:usr_the_admin",
                          absl::StrCat("phone_number by user:", id),
                          "email by user:usr_the_admin"));
  update.set_phone_number("+1 (202) 555-0143");
  EXPECT_EQ(stub().UpdateContact(Context(quinn).get(), update, &updated).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// Not a timing assertion: one hashing slot, no queue, and twelve checks released at once; while
// the first runs (about a millisecond at least), the others find no room.
TEST(CredentialServerLimitTest, AFloodOfChecksGetsResourceExhaustedBeyondTheQueue) {
  CredentialServer server;
  server.Start({"--max_concurrent_hashes=1", "--hash_queue_size=1", "--argon2_memory_kib=65536",
                "--argon2_iterations=2"});
  const std::string dir = server.NewDirectory();
  constexpr int kThreads = 12;
  std::latch start(kThreads);
  std::vector<StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      pb::VerifyPasswordRequest r;
      r.set_directory_id(dir);
      r.set_username(absl::StrCat("nobody-", i));
      r.set_password("some-password");
      pb::VerifyPasswordResponse out;
      start.arrive_and_wait();
      codes[i] = server.stub().VerifyPassword(Context(kAnonymous).get(), r, &out).error_code();
    });
  }
  for (std::thread& t : threads) t.join();
  const auto exhausted = std::count(codes.begin(), codes.end(), StatusCode::RESOURCE_EXHAUSTED);
  const auto answered = std::count(codes.begin(), codes.end(), StatusCode::UNAUTHENTICATED);
  EXPECT_GE(exhausted, 1);
  EXPECT_GE(answered, 1);
  EXPECT_EQ(exhausted + answered, kThreads);
  auto metrics = testing::HttpGet(server.process().metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, HasSubstr(absl::StrCat("tally_password_checks_total{outcome=\"throttled\"} ",
                                               exhausted)));
}

TEST(CredentialServerLogTest, NoPasswordOrHashEverReachesTheLog) {
  CredentialServer server;
  server.Start({"--log_level=trace"});
  const std::string dir = server.NewDirectory();
  const As admin = As::Bearer(server.Token(dir, "usr_log_admin", {"admin"}));
  const std::vector<std::string> secrets = {"Sup3r-Secret-Passw0rd", "An0ther-Secret-Phrase",
                                            "Wr0ng-Guess-Password", "Short1"};
  pb::CreateUserRequest create;
  create.set_directory_id(dir);
  create.set_username("logged.user");
  create.set_password(secrets[0]);
  pb::CreateUserResponse created;
  ASSERT_TRUE(server.stub().CreateUser(Context(admin).get(), create, &created).ok());
  create.set_username("short.one");
  create.set_password(secrets[3]);
  EXPECT_FALSE(server.stub().CreateUser(Context(admin).get(), create, &created).ok());
  for (const std::string& password : {secrets[0], secrets[2]}) {
    for (const char* username : {"logged.user", "unknown.user"}) {
      pb::VerifyPasswordRequest r;
      r.set_directory_id(dir);
      r.set_username(username);
      r.set_password(password);
      pb::VerifyPasswordResponse out;
      server.stub().VerifyPassword(Context(kAnonymous).get(), r, &out);
    }
  }
  pb::SetPasswordRequest set;
  set.set_user_id("usr_log_admin");
  set.set_new_password(secrets[1]);
  pb::SetPasswordResponse set_out;
  server.stub().SetPassword(Context(admin).get(), set, &set_out);  // NOT_FOUND
  server.Stop();

  const std::string log = server.process().Output();
  ASSERT_THAT(log, HasSubstr("password check")) << "trace lines are being written";
  ASSERT_THAT(log, HasSubstr("created user"));
  for (const std::string& secret : secrets) EXPECT_THAT(log, Not(HasSubstr(secret))) << secret;
  EXPECT_THAT(log, Not(HasSubstr("$argon2id")));
  EXPECT_THAT(log, Not(HasSubstr("argon2id$")));
}

TEST_F(CredentialServerTest, TallyctlManagesUsers) {
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", server_->process().address());
  const std::map<std::string, std::string> platform = {{"TALLY_PLATFORM_KEY", server_->keys().platform_key()}};
  const std::string ctl_dir = dir_;

  // The password comes on standard input, never on the command line.
  auto created = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf '%s\\n' \"$PW\" | ", tallyctl, " ", addr,
                    " user create ", ctl_dir, " Ctl.Admin --roles admin --email Admin@Ctl.Example "
                    "--password_stdin")},
      {{"TALLY_PLATFORM_KEY", server_->keys().platform_key()}, {"PW", "ctl-admin-password"}});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("username   Ctl.Admin"));
  EXPECT_THAT(created.output, HasSubstr("email      Admin@ctl.example"));
  EXPECT_THAT(created.output, HasSubstr("roles      admin"));
  EXPECT_THAT(created.output, HasSubstr("password   set"));
  const size_t at = created.output.find("user       usr_");
  ASSERT_NE(at, std::string::npos);
  const std::string admin_id = created.output.substr(at + 11, created.output.find('\n', at) - at - 11);
  EXPECT_TRUE(Verify("ctl.admin", "ctl-admin-password", nullptr, ctl_dir).ok());

  auto token = testing::RunCommand(
      {tallyctl, "dev-token", server_->keys().signing_key_path(), ctl_dir, admin_id, "--roles=admin"});
  ASSERT_EQ(token.exit_code, 0) << token.output;
  const std::map<std::string, std::string> as_admin = {
      {"TALLY_TOKEN", std::string(absl::StripTrailingAsciiWhitespace(absl::string_view(token.output)))}};

  auto bob = testing::RunCommand(
      {tallyctl, addr, "--json", "user", "create", ctl_dir, "bob", "--phone", "+44 20 7946 0958"},
      {{"TALLY_TOKEN", as_admin.at("TALLY_TOKEN")}, {"TALLY_NEW_PASSWORD", "bobs-password-1"}});
  ASSERT_EQ(bob.exit_code, 0) << bob.output;
  EXPECT_THAT(bob.output, HasSubstr("\"phone_number\": \"+442079460958\""));
  const size_t id_at = bob.output.find("\"user_id\": \"");
  ASSERT_NE(id_at, std::string::npos);
  const size_t id_start = id_at + std::string("\"user_id\": \"").size();
  const std::string bob_id = bob.output.substr(id_start, bob.output.find('"', id_start) - id_start);
  EXPECT_TRUE(Verify("BOB", "bobs-password-1", nullptr, ctl_dir).ok());

  auto listed = testing::RunCommand({tallyctl, addr, "user", "list", ctl_dir}, as_admin);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("2 users"));
  auto found = testing::RunCommand({tallyctl, addr, "user", "find", ctl_dir, "BOB"});
  ASSERT_EQ(found.exit_code, 0) << found.output;
  EXPECT_THAT(found.output, HasSubstr(bob_id));
  auto contact = testing::RunCommand(
      {tallyctl, addr, "user", "set-contact", bob_id, "--email", "bob@example.com"}, as_admin);
  ASSERT_EQ(contact.exit_code, 0) << contact.output;
  EXPECT_THAT(contact.output, HasSubstr("phone      +442079460958")) << "kept";
  EXPECT_THAT(contact.output, HasSubstr("email      bob@example.com"));
  auto cleared = testing::RunCommand(
      {tallyctl, addr, "user", "set-contact", bob_id, "--phone", "none"}, as_admin);
  ASSERT_EQ(cleared.exit_code, 0) << cleared.output;
  EXPECT_THAT(cleared.output, HasSubstr("phone      -"));
  std::map<std::string, std::string> with_password = as_admin;
  with_password["TALLY_NEW_PASSWORD"] = "bobs-password-2";
  auto password = testing::RunCommand({tallyctl, addr, "user", "set-password", bob_id},
                                      with_password);
  ASSERT_EQ(password.exit_code, 0) << password.output;
  EXPECT_TRUE(Verify("bob", "bobs-password-2", nullptr, ctl_dir).ok());
  // Bob himself: a new e-mail waits for the code sent to it (a wrong one is refused), and his
  // own password change asks for the current one (here the next line of standard input).
  auto bob_token = testing::RunCommand(
      {tallyctl, "dev-token", server_->keys().signing_key_path(), ctl_dir, bob_id});
  ASSERT_EQ(bob_token.exit_code, 0) << bob_token.output;
  const std::string as_bob(absl::StripTrailingAsciiWhitespace(absl::string_view(bob_token.output)));
  auto own_contact = testing::RunCommand(
      {tallyctl, addr, "user", "set-contact", bob_id, "--email", "bob@new.example"},
      {{"TALLY_TOKEN", as_bob}});
  ASSERT_EQ(own_contact.exit_code, 0) << own_contact.output;
  const size_t pending_at = own_contact.output.find("pending    ");
  ASSERT_NE(pending_at, std::string::npos) << own_contact.output;
  const std::string change_id = own_contact.output.substr(
      pending_at + 11, own_contact.output.find('\n', pending_at) - pending_at - 11);
  EXPECT_THAT(own_contact.output,
              HasSubstr(absl::StrCat("tallyctl user confirm-contact ", change_id, " CODE")));
  auto wrong_code = testing::RunCommand(
      {tallyctl, addr, "user", "confirm-contact", change_id, "000000"}, {{"TALLY_TOKEN", as_bob}});
  EXPECT_EQ(wrong_code.exit_code, 1);
  EXPECT_THAT(wrong_code.output, HasSubstr("UNAUTHENTICATED"));
  auto own_password = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf '%s\\n%s\\n' \"$NEW\" \"$OLD\" | ", tallyctl, " ", addr,
                    " user set-password ", bob_id, " --password_stdin")},
      {{"TALLY_TOKEN", as_bob}, {"NEW", "bobs-password-3"}, {"OLD", "bobs-password-2"}});
  ASSERT_EQ(own_password.exit_code, 0) << own_password.output;
  EXPECT_THAT(own_password.output, HasSubstr("current password: "));
  EXPECT_TRUE(Verify("bob", "bobs-password-3", nullptr, ctl_dir).ok());
  with_password["TALLY_NEW_PASSWORD"] = "password1";
  auto common = testing::RunCommand({tallyctl, addr, "user", "set-password", bob_id},
                                    with_password);
  EXPECT_EQ(common.exit_code, 1);
  EXPECT_THAT(common.output, HasSubstr("INVALID_ARGUMENT"));
  auto no_password = testing::RunCommand({tallyctl, addr, "user", "set-password", bob_id},
                                         as_admin);
  EXPECT_EQ(no_password.exit_code, 2) << no_password.output;
  auto roles = testing::RunCommand({tallyctl, addr, "user", "set-roles", bob_id, "admin", "user"},
                                   as_admin);
  ASSERT_EQ(roles.exit_code, 0) << roles.output;
  EXPECT_THAT(roles.output, HasSubstr("roles      admin, user"));
  auto shown = testing::RunCommand({tallyctl, addr, "user", "get", bob_id});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("username   bob"));
  auto denied = testing::RunCommand({tallyctl, addr, "user", "delete", bob_id}, platform);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.output, HasSubstr("PERMISSION_DENIED"));
  auto deleted = testing::RunCommand({tallyctl, addr, "user", "delete", bob_id}, as_admin);
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  auto missing = testing::RunCommand({tallyctl, addr, "user", "get", bob_id});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("NOT_FOUND"));
}

TEST(CredentialServerConfigTest, BadConfigurationExitsWithCodeTwoAndOneLine) {
  const std::string binary = absl::StrCat(testing::BinDir(), "/tally-credential");
  const std::map<std::string, std::string> env = {
      {"TALLY_POSTGRES_URL", "postgresql://postgres@127.0.0.1:1/postgres"},
      {"TALLY_REDIS_URL", "redis://127.0.0.1:1"}};
  const std::string listen = absl::StrCat("--listen=127.0.0.1:", testing::FreePort());
  struct Case {
    std::vector<std::string> flags;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--argon2_memory_kib=4"}, "--argon2_*: Argon2 memory"},
           {{"--argon2_iterations=0"}, "--argon2_*: Argon2 iterations"},
           {{"--argon2_parallelism=99"}, "--argon2_*: Argon2 parallelism"},
           {{"--max_concurrent_hashes=-1"}, "--max_concurrent_hashes"},
           {{"--hash_queue_size=-2"}, "--hash_queue_size"},
           {{"--min_password_length=0"}, "--min_password_length"},
           {{"--password_blocklist=/nonexistent/list.txt"}, "--password_blocklist: cannot read"},
       }) {
    std::vector<std::string> argv = {binary, listen};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto result = testing::RunCommand(argv, env);
    EXPECT_EQ(result.exit_code, 2) << c.flags[0] << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(absl::StrCat("invalid configuration: ", c.message)))
        << c.flags[0];
  }
  auto no_db = testing::RunCommand(
      {binary, listen}, {{"TALLY_POSTGRES_URL", ""}, {"TALLY_REDIS_URL", "redis://127.0.0.1:1"}});
  EXPECT_EQ(no_db.exit_code, 2);
  EXPECT_THAT(no_db.output, HasSubstr("invalid configuration: --postgres_url is required"));
}

}  // namespace
}  // namespace tally
