#include "services/credential/credential_manager.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/auth/testing/in_memory_revocation_store.h"
#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/credential/testing/fake_factor_store.h"
#include "services/credential/user_fields.h"

namespace tally::credential {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// In-memory CredentialStore with the PostgreSQL one's semantics (unique username key per
// directory, contact changes for fields that differ, compare-and-set re-hash).
class FakeCredentialStore : public CredentialStore {
 public:
  absl::Status CreateUser(const StoredUser& user,
                          const std::vector<ContactChange>& changes) override {
    if (!status.ok()) return status;
    for (const StoredUser& u : users) {
      if (u.user.directory_id() == user.user.directory_id() &&
          u.username_key == user.username_key) {
        return absl::AlreadyExistsError("postgres unique violation (SQLSTATE 23505)");
      }
    }
    users.push_back(user);
    changes_.insert(changes_.end(), changes.begin(), changes.end());
    return absl::OkStatus();
  }
  absl::StatusOr<StoredUser> GetUser(std::string_view user_id) override {
    if (!status.ok()) return status;
    StoredUser* u = Find(user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    return *u;
  }
  absl::StatusOr<StoredUser> FindUser(std::string_view directory_id,
                                      std::string_view key) override {
    ++find_user_calls;
    if (!status.ok()) return status;
    for (const StoredUser& u : users) {
      if (u.user.directory_id() == directory_id && u.username_key == key) return u;
    }
    return absl::NotFoundError("no such user");
  }
  absl::StatusOr<Page<User>> ListUsers(std::string_view directory_id, int64_t cursor,
                                       int limit) override {
    Page<User> page;
    for (int64_t i = cursor; i < static_cast<int64_t>(users.size()); ++i) {
      if (users[i].user.directory_id() != directory_id) continue;
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_cursor = i;
        break;
      }
      page.items.push_back(users[i].user);
    }
    return page;
  }
  absl::StatusOr<StoredUser> UpdateContact(std::string_view user_id, const std::string& email,
                                           const std::string& phone, const std::string& actor,
                                           absl::Time time) override {
    StoredUser* u = Find(user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    if (u->user.email() != email) changes_.push_back({u->user.user_id(), "email", time, actor});
    if (u->user.phone_number() != phone) {
      changes_.push_back({u->user.user_id(), "phone_number", time, actor});
    }
    u->user.set_email(email);
    u->user.set_phone_number(phone);
    return *u;
  }
  absl::StatusOr<StoredUser> SetPasswordHash(std::string_view user_id, const std::string& hash,
                                             absl::Time) override {
    StoredUser* u = Find(user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    u->password_hash = hash;
    u->user.set_has_password(true);
    return *u;
  }
  absl::Status ReplacePasswordHash(std::string_view user_id, const std::string& expected,
                                   const std::string& hash) override {
    StoredUser* u = Find(user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    if (u->password_hash == expected) u->password_hash = hash;
    return absl::OkStatus();
  }
  absl::StatusOr<StoredUser> SetRoles(std::string_view user_id,
                                      const std::vector<std::string>& roles) override {
    StoredUser* u = Find(user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    u->user.clear_roles();
    for (const std::string& r : roles) u->user.add_roles(r);
    return *u;
  }
  absl::Status DeleteUser(std::string_view user_id) override {
    for (auto it = users.begin(); it != users.end(); ++it) {
      if (it->user.user_id() == user_id) {
        users.erase(it);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("no such user");
  }
  absl::StatusOr<std::vector<ContactChange>> ListContactChanges(
      std::string_view user_id) override {
    std::vector<ContactChange> out;
    for (const ContactChange& c : changes_) {
      if (c.user_id == user_id) out.push_back(c);
    }
    return out;
  }
  absl::Status PutPendingContactChange(const PendingContactChange& change) override {
    if (Find(change.user_id) == nullptr) return absl::NotFoundError("no such user");
    for (auto it = pending_.begin(); it != pending_.end();) {
      const bool same = it->second.user_id == change.user_id && it->second.field == change.field;
      it = same ? pending_.erase(it) : std::next(it);
    }
    pending_[change.change_id] = change;
    return absl::OkStatus();
  }
  absl::StatusOr<PendingContactChange> GetPendingContactChange(std::string_view change_id,
                                                               absl::Time now) override {
    auto it = pending_.find(std::string(change_id));
    if (it == pending_.end() || it->second.expire_time <= now) {
      return absl::NotFoundError("no such pending contact change");
    }
    return it->second;
  }
  absl::StatusOr<AppliedContactChange> ApplyPendingContactChange(std::string_view change_id,
                                                                 const std::string& actor,
                                                                 absl::Time time) override {
    absl::StatusOr<PendingContactChange> change = GetPendingContactChange(change_id, time);
    if (!change.ok()) return change.status();
    pending_.erase(std::string(change_id));
    StoredUser* u = Find(change->user_id);
    if (u == nullptr) return absl::NotFoundError("no such user");
    AppliedContactChange applied;
    const bool email = change->field == "email";
    applied.old_value = email ? u->user.email() : u->user.phone_number();
    if (email) {
      u->user.set_email(change->value);
    } else {
      u->user.set_phone_number(change->value);
    }
    changes_.push_back({change->user_id, change->field, time, actor});
    applied.user = *u;
    return applied;
  }
  absl::Status DeletePendingContactChange(std::string_view change_id) override {
    pending_.erase(std::string(change_id));
    return absl::OkStatus();
  }
  absl::Status Ping() override { return status; }

  StoredUser* Find(std::string_view user_id) {
    for (StoredUser& u : users) {
      if (u.user.user_id() == user_id) return &u;
    }
    return nullptr;
  }

  absl::Status status = absl::OkStatus();
  int find_user_calls = 0;
  std::vector<StoredUser> users;

 private:
  std::vector<ContactChange> changes_;
  std::map<std::string, PendingContactChange> pending_;
};

// The OTP service as the credential service sees it: codes per challenge with the real
// service's attempt count (5), expiry by the injected clock, and every send and notice recorded.
class FakeOtp final : public OtpPeer {
 public:
  explicit FakeOtp(const Clock& clock) : clock_(clock) {}

  absl::StatusOr<::tally::otp::v1::SendCodeResponse> SendCode(
      const ::tally::otp::v1::SendCodeRequest& request, absl::Time) override {
    if (!send_status.ok()) return send_status;
    sends.push_back(request);
    const std::string id = absl::StrCat("chl_", sends.size());
    challenges_[id] = {request.user_id(), absl::StrCat(100000 + sends.size()), 5,
                       clock_.Now() + absl::Minutes(5)};
    ::tally::otp::v1::SendCodeResponse response;
    response.set_challenge_id(id);
    *response.mutable_expire_time() = ToProtoTime(challenges_[id].expire);
    return response;
  }
  absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> VerifyCode(
      const ::tally::otp::v1::VerifyCodeRequest& request, absl::Time) override {
    ::tally::otp::v1::VerifyCodeResponse response;
    auto it = challenges_.find(request.challenge_id());
    if (it == challenges_.end() || it->second.expire <= clock_.Now()) {
      response.set_result(::tally::otp::v1::VERIFY_RESULT_EXPIRED);
      return response;
    }
    Challenge& c = it->second;
    if (c.attempts_left == 0) {
      response.set_result(::tally::otp::v1::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
      return response;
    }
    --c.attempts_left;
    response.set_user_id(c.user_id);
    response.set_attempts_left(c.attempts_left);
    if (request.code() != c.code) {
      response.set_result(c.attempts_left == 0 ? ::tally::otp::v1::VERIFY_RESULT_TOO_MANY_ATTEMPTS
                                               : ::tally::otp::v1::VERIFY_RESULT_WRONG_CODE);
      return response;
    }
    challenges_.erase(it);
    response.set_result(::tally::otp::v1::VERIFY_RESULT_ACCEPTED);
    return response;
  }
  absl::Status SendNotice(const ::tally::otp::v1::SendNoticeRequest& request,
                          absl::Time) override {
    notices.push_back(request);
    return absl::OkStatus();
  }

  // The code of the last send.
  std::string LastCode() const {
    return challenges_.at(absl::StrCat("chl_", sends.size())).code;
  }

  absl::Status send_status = absl::OkStatus();
  std::vector<::tally::otp::v1::SendCodeRequest> sends;
  std::vector<::tally::otp::v1::SendNoticeRequest> notices;

 private:
  struct Challenge {
    std::string user_id;
    std::string code;
    int attempts_left;
    absl::Time expire;
  };
  const Clock& clock_;
  std::map<std::string, Challenge> challenges_;
};

// The policy service's settings: every directory but "dir_unknown" exists; SMS countries per
// directory.
class FakeSettings final : public AuthSettingsSource {
 public:
  absl::StatusOr<::tally::policy::v1::AuthSettings> AuthSettings(
      absl::string_view directory_id) override {
    if (!status.ok()) return status;
    if (directory_id == "dir_unknown") return absl::NotFoundError("unknown directory");
    ::tally::policy::v1::AuthSettings settings;
    settings.set_directory_id(std::string(directory_id));
    for (const std::string& code : sms_countries) settings.add_sms_allowed_country_codes(code);
    return settings;
  }
  absl::Status status = absl::OkStatus();
  std::vector<std::string> sms_countries;
};

// A session as the Authenticator hands it over; `fresh` as --reauth_max_age found it.
Caller UserCaller(std::string directory, std::string user, std::vector<std::string> roles,
                  bool fresh = true) {
  Caller caller = Caller::User(testing::TestClaims({.directory_id = std::move(directory),
                                                    .user_id = std::move(user),
                                                    .roles = std::move(roles),
                                                    .session_id = "sid_1"},
                                                   absl::Now()));
  caller.fresh = fresh;
  return caller;
}

constexpr char kDir[] = "dir_acme";
constexpr char kOtherDir[] = "dir_other";
constexpr Argon2Params kFast{.memory_kib = 64, .iterations = 1, .parallelism = 1};

// Value of one sample of a metric family, by label value; -1 when absent.
double Sample(prometheus::Registry& registry, const std::string& family,
              const std::string& label_value, bool histogram_count = false) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      if (!label_value.empty() && (m.label.empty() || m.label[0].value != label_value)) continue;
      if (histogram_count) return static_cast<double>(m.histogram.sample_count);
      if (f.type == prometheus::MetricType::Gauge) return m.gauge.value;
      return m.counter.value;
    }
  }
  return -1;
}

class CredentialManagerTest : public ::testing::Test {
 protected:
  CredentialManagerTest() { Rebuild(kFast); }

  // A manager whose hasher uses `params` (over the same store), as after a restart with other
  // flags.
  void Rebuild(Argon2Params params) {
    manager_.reset();
    bounded_.reset();
    hasher_ = std::make_unique<PasswordHasher>(params, CsprngRandom::Get());
    auto bounded = BoundedHasher::Create(*hasher_, limiter_, metrics_);
    ASSERT_TRUE(bounded.ok()) << bounded.status();
    bounded_ = std::make_unique<BoundedHasher>(*std::move(bounded));
    manager_ = std::make_unique<CredentialManager>(store_, *bounded_, policy_, metrics_, clock_,
                                                   CsprngRandom::Get(), Security());
  }

  absl::StatusOr<User> Create(const Caller& caller, const std::string& dir,
                              const std::string& username, const std::string& password = "",
                              std::vector<std::string> roles = {}) {
    pb::CreateUserRequest request;
    request.set_directory_id(dir);
    request.set_username(username);
    request.set_password(password);
    for (std::string& r : roles) request.add_roles(std::move(r));
    absl::StatusOr<pb::CreateUserResponse> response = manager_->CreateUser(caller, request);
    if (!response.ok()) return response.status();
    return response->user();
  }

  absl::StatusOr<pb::VerifyPasswordResponse> Verify(const std::string& dir,
                                                    const std::string& username,
                                                    const std::string& password) {
    pb::VerifyPasswordRequest request;
    request.set_directory_id(dir);
    request.set_username(username);
    request.set_password(password);
    return manager_->VerifyPassword(Caller::Anonymous(), request);
  }

  double Checks(const std::string& outcome) {
    return Sample(registry_, "tally_password_checks_total", outcome);
  }
  double Hashes(const std::string& operation) {
    double n = Sample(registry_, "tally_password_hash_seconds", operation, true);
    return n < 0 ? 0 : n;
  }

  AccountSecurityDeps Security() {
    return {revocations_, otp_, settings_, attempts_, AccountSecurityOptions{}};
  }

  const Caller admin_ = UserCaller(kDir, "usr_admin", {"admin"});
  FakeCredentialStore store_;
  tally::testing::FakeClock clock_;
  tally::testing::InMemoryRevocationStore revocations_{clock_};
  FakeOtp otp_{clock_};
  FakeSettings settings_;
  FakeFactorStore attempts_;
  prometheus::Registry registry_;
  CredentialMetrics metrics_{registry_};
  HashLimiter limiter_{2, 4};
  PasswordPolicy policy_{PasswordRules{}, PasswordBlocklist::FromLines("password1\nqwertyuiop\n")};
  std::unique_ptr<PasswordHasher> hasher_;
  std::unique_ptr<BoundedHasher> bounded_;
  std::unique_ptr<CredentialManager> manager_;
};

TEST_F(CredentialManagerTest, PlatformBootstrapsTheFirstAdminWhoThenCreatesUsers) {
  absl::StatusOr<User> first =
      Create(Caller::Platform(), kDir, "Root.Admin", "first-admin-secret", {"admin"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->user_id(), StartsWith("usr_"));
  EXPECT_EQ(first->directory_id(), kDir);
  EXPECT_EQ(first->username(), "Root.Admin");
  EXPECT_THAT(first->roles(), ElementsAre("admin"));
  EXPECT_TRUE(first->has_password());
  EXPECT_EQ(FromProtoTime(first->create_time()), clock_.Now());
  EXPECT_THAT(store_.Find(first->user_id())->password_hash, StartsWith("$argon2id$v=19$m=64,"));

  const Caller root = UserCaller(kDir, first->user_id(), {"admin"});
  absl::StatusOr<User> plain = Create(root, kDir, "bob");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(plain->roles(), ElementsAre("user"));  // the default
  EXPECT_FALSE(plain->has_password());
  EXPECT_TRUE(store_.Find(plain->user_id())->password_hash.empty());
}

TEST_F(CredentialManagerTest, WhoMayCreateUsers) {
  EXPECT_EQ(Create(Caller::Anonymous(), kDir, "x").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Create(UserCaller(kOtherDir, "usr_o", {"admin"}), kDir, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Create(UserCaller(kDir, "usr_u", {"user"}), kDir, "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  // Rights come before validation: no hint about what would have been wrong.
  EXPECT_EQ(Create(Caller::Anonymous(), kDir, "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Create(admin_, kDir, "x").ok());
}

TEST_F(CredentialManagerTest, UsernamesAreUniquePerDirectoryIgnoringCase) {
  ASSERT_TRUE(Create(admin_, kDir, "Alice").ok());
  absl::StatusOr<User> again = Create(admin_, kDir, "aLICE", "some-long-password");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("already has a user with this username"));
  EXPECT_EQ(Hashes("hash"), 0) << "a taken username costs no hash";
  EXPECT_TRUE(Create(Caller::Platform(), kOtherDir, "alice").ok());

  pb::FindUserRequest find;
  find.set_directory_id(kDir);
  find.set_username(" ALICE ");
  absl::StatusOr<pb::FindUserResponse> found = manager_->FindUser(Caller::Anonymous(), find);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->user().username(), "Alice");
  find.set_username("nobody");
  EXPECT_EQ(manager_->FindUser(Caller::Anonymous(), find).status().code(),
            absl::StatusCode::kNotFound);
  find.set_username("bad\xFF");
  EXPECT_EQ(manager_->FindUser(Caller::Anonymous(), find).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CredentialManagerTest, ATokenOfAnotherDirectoryReadsNoUserHere) {
  absl::StatusOr<User> alice = Create(admin_, kDir, "alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  const Caller stranger = UserCaller(kOtherDir, "usr_boss", {"admin"});
  pb::GetUserRequest get;
  get.set_user_id(alice->user_id());
  EXPECT_EQ(manager_->GetUser(stranger, get).status().code(),
            absl::StatusCode::kPermissionDenied);
  pb::FindUserRequest find;
  find.set_directory_id(kDir);
  find.set_username("alice");
  EXPECT_EQ(manager_->FindUser(stranger, find).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The cluster, the user and the directory's own sessions still read it.
  EXPECT_TRUE(manager_->GetUser(Caller::Anonymous(), get).ok());
  EXPECT_TRUE(manager_->GetUser(UserCaller(kDir, alice->user_id(), {"user"}), get).ok());
  EXPECT_TRUE(manager_->FindUser(admin_, find).ok());
}

TEST_F(CredentialManagerTest, TheLoserOfACreateRaceGetsAlreadyExists) {
  // Both creates passed the look-up; the store's unique index refuses the second insert.
  class RacingStore final : public FakeCredentialStore {
   public:
    absl::StatusOr<StoredUser> FindUser(std::string_view, std::string_view) override {
      return absl::NotFoundError("no such user");
    }
  } racing;
  CredentialManager manager(racing, *bounded_, policy_, metrics_, clock_, CsprngRandom::Get(),
                            Security());
  pb::CreateUserRequest request;
  request.set_directory_id(kDir);
  request.set_username("Carol");
  ASSERT_TRUE(manager.CreateUser(admin_, request).ok());
  request.set_username("CAROL");
  absl::StatusOr<pb::CreateUserResponse> lost = manager.CreateUser(admin_, request);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(lost.status().message(), "the directory already has a user with this username");
}

TEST_F(CredentialManagerTest, CreateValidatesEveryField) {
  auto code = [&](const pb::CreateUserRequest& r) {
    return manager_->CreateUser(admin_, r).status();
  };
  pb::CreateUserRequest r;
  r.set_directory_id(kDir);
  r.set_username("dave");
  r.set_email("not-an-email");
  EXPECT_THAT(code(r).message(), HasSubstr("email is not a valid address"));
  r.set_email("Dave@Example.ORG");
  r.set_phone_number("0612345678");
  EXPECT_THAT(code(r).message(), HasSubstr("E.164"));
  r.set_phone_number("+31 6 1234 5678");
  r.add_roles("root");
  EXPECT_THAT(code(r).message(), HasSubstr("unknown role \"root\""));
  r.clear_roles();
  r.set_password("short");
  EXPECT_THAT(code(r).message(), HasSubstr("at least 8 characters"));
  r.set_password(std::string(1025, 'x'));
  EXPECT_THAT(code(r).message(), HasSubstr("at most 1024 bytes"));
  r.set_password("QWERTYuiop");
  EXPECT_THAT(code(r).message(), HasSubstr("too common"));
  r.set_password("DAVE");
  EXPECT_FALSE(code(r).ok());
  r.set_password("dave-has-a-good-one");
  r.set_directory_id("dir/../x");
  EXPECT_EQ(manager_->CreateUser(Caller::Platform(), r).status().code(),
            absl::StatusCode::kInvalidArgument);
  r.set_directory_id(kDir);
  r.set_username(std::string(129, 'd'));
  EXPECT_THAT(code(r).message(), HasSubstr("at most 128 bytes"));
  EXPECT_EQ(Hashes("hash"), 0) << "refused passwords are never hashed";
  r.set_username("dave");
  absl::StatusOr<pb::CreateUserResponse> ok = manager_->CreateUser(admin_, r);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->user().email(), "Dave@example.org");
  EXPECT_EQ(ok->user().phone_number(), "+31612345678");
  EXPECT_EQ(Hashes("hash"), 1);
  // The initial contact data is recorded as set by its creator.
  auto changes = store_.ListContactChanges(ok->user().user_id());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].field, "email");
  EXPECT_EQ((*changes)[1].field, "phone_number");
  EXPECT_EQ((*changes)[1].actor, "user:usr_admin");
}

TEST_F(CredentialManagerTest, VerifyPasswordAnswersEveryFailureAlikeAfterTheSameWork) {
  ASSERT_TRUE(Create(admin_, kDir, "Erin", "erin-password-1").ok());
  ASSERT_TRUE(Create(admin_, kDir, "passkey.only").ok());

  absl::StatusOr<pb::VerifyPasswordResponse> ok = Verify(kDir, "ERIN", "erin-password-1");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->user().username(), "Erin");

  const double verifies = Hashes("verify");
  absl::StatusOr<pb::VerifyPasswordResponse> wrong = Verify(kDir, "erin", "erin-password-2");
  absl::StatusOr<pb::VerifyPasswordResponse> unknown = Verify(kDir, "nobody", "erin-password-1");
  absl::StatusOr<pb::VerifyPasswordResponse> none = Verify(kDir, "passkey.only", "whatever-1");
  absl::StatusOr<pb::VerifyPasswordResponse> elsewhere =
      Verify(kOtherDir, "erin", "erin-password-1");
  for (const auto* r : {&wrong, &unknown, &none, &elsewhere}) {
    EXPECT_EQ(r->status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(r->status().message(), "invalid username or password");
  }
  // One Argon2id run each, the dummy one included.
  EXPECT_EQ(Hashes("verify") - verifies, 4);
  EXPECT_EQ(Checks("accepted"), 1);
  EXPECT_EQ(Checks("wrong_password"), 1);
  EXPECT_EQ(Checks("unknown_user"), 2);
  EXPECT_EQ(Checks("no_password"), 1);
  EXPECT_EQ(Sample(registry_, "tally_password_hashes_in_flight", ""), 0);

  // Malformed requests are refused before any look-up or hash.
  EXPECT_EQ(Verify(kDir, "erin", std::string(1025, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(kDir, "erin", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(kDir, "", "erin-password-1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify("", "erin", "erin-password-1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Hashes("verify") - verifies, 4);
}

TEST_F(CredentialManagerTest, ThrottledWhenEveryHashingSlotAndTheQueueAreTaken) {
  ASSERT_TRUE(Create(admin_, kDir, "frank", "frank-password").ok());
  HashLimiter tight(1, 0);
  auto hasher = BoundedHasher::Create(*hasher_, tight, metrics_);
  ASSERT_TRUE(hasher.ok());
  CredentialManager manager(store_, *hasher, policy_, metrics_, clock_, CsprngRandom::Get(),
                            Security());
  auto held = tight.Acquire();
  ASSERT_TRUE(held.ok());
  pb::VerifyPasswordRequest request;
  request.set_directory_id(kDir);
  request.set_username("frank");
  request.set_password("frank-password");
  EXPECT_EQ(manager.VerifyPassword(Caller::Anonymous(), request).status().code(),
            absl::StatusCode::kResourceExhausted);
  request.set_username("nobody");
  const int lookups = store_.find_user_calls;
  EXPECT_EQ(manager.VerifyPassword(Caller::Anonymous(), request).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store_.find_user_calls, lookups) << "a refused check still looked the user up";
  EXPECT_EQ(Checks("throttled"), 2);
  { auto release = *std::move(held); }
  request.set_username("frank");
  EXPECT_TRUE(manager.VerifyPassword(Caller::Anonymous(), request).ok());
}

TEST_F(CredentialManagerTest, ThrottledWhenTheAnswerCouldNotComeByTheCallersDeadline) {
  ASSERT_TRUE(Create(admin_, kDir, "hal", "hal-password").ok());
  HashLimiter timed(1, 1, clock_);
  {  // Teach it that a hash takes 50 ms.
    auto slot = timed.Acquire();
    ASSERT_TRUE(slot.ok());
    clock_.Advance(absl::Milliseconds(50));
  }
  auto hasher = BoundedHasher::Create(*hasher_, timed, metrics_);
  ASSERT_TRUE(hasher.ok());
  CredentialManager manager(store_, *hasher, policy_, metrics_, clock_, CsprngRandom::Get(),
                            Security());
  pb::VerifyPasswordRequest request;
  request.set_directory_id(kDir);
  request.set_username("hal");
  request.set_password("hal-password");
  const double throttled = Checks("throttled");
  const absl::Time too_soon = clock_.Now() + absl::Milliseconds(20);
  EXPECT_EQ(manager.VerifyPassword(Caller::Anonymous(), request, too_soon).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Checks("throttled"), throttled + 1);
  EXPECT_TRUE(
      manager.VerifyPassword(Caller::Anonymous(), request, clock_.Now() + absl::Seconds(5)).ok());
}

TEST_F(CredentialManagerTest, ReHashesAfterASuccessfulCheckWhenTheParametersChanged) {
  absl::StatusOr<User> gina = Create(admin_, kDir, "gina", "gina-password");
  ASSERT_TRUE(gina.ok());
  const std::string old_hash = store_.Find(gina->user_id())->password_hash;
  EXPECT_THAT(old_hash, StartsWith("$argon2id$v=19$m=64,t=1,p=1$"));

  Rebuild({.memory_kib = 128, .iterations = 2, .parallelism = 1});
  EXPECT_EQ(Verify(kDir, "gina", "wrong-password").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store_.Find(gina->user_id())->password_hash, old_hash) << "no re-hash on failure";
  ASSERT_TRUE(Verify(kDir, "gina", "gina-password").ok());
  const std::string new_hash = store_.Find(gina->user_id())->password_hash;
  EXPECT_THAT(new_hash, StartsWith("$argon2id$v=19$m=128,t=2,p=1$"));
  ASSERT_TRUE(Verify(kDir, "gina", "gina-password").ok());
  EXPECT_EQ(store_.Find(gina->user_id())->password_hash, new_hash) << "only once";
}

TEST_F(CredentialManagerTest, UserIdCallsCheckTheCallerAgainstTheUsersDirectory) {
  absl::StatusOr<User> hank = Create(admin_, kDir, "hank", "hank-password");
  ASSERT_TRUE(hank.ok());
  const std::string id = hank->user_id();
  const Caller self = UserCaller(kDir, id, {"user"});
  const Caller peer = UserCaller(kDir, "usr_peer", {"user"});
  const Caller foreign_admin = UserCaller(kOtherDir, "usr_x", {"admin"});
  // The same subject in another directory is someone else.
  const Caller self_elsewhere = UserCaller(kOtherDir, id, {"admin"});

  pb::UpdateContactRequest contact;
  contact.set_user_id(id);
  contact.set_email("hank@example.com");
  auto update = [&](const Caller& c) { return manager_->UpdateContact(c, contact).status(); };
  EXPECT_EQ(update(Caller::Anonymous()).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(update(Caller::Platform()).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(update(peer).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(update(foreign_admin).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(update(self_elsewhere).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(update(self).ok());
  EXPECT_TRUE(update(admin_).ok());

  pb::SetRolesRequest roles;
  roles.set_user_id(id);
  roles.add_roles("admin");
  auto set_roles = [&](const Caller& c) { return manager_->SetRoles(c, roles).status(); };
  EXPECT_EQ(set_roles(Caller::Anonymous()).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(set_roles(Caller::Platform()).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(set_roles(self).code(), absl::StatusCode::kPermissionDenied) << "no self-promotion";
  EXPECT_EQ(set_roles(foreign_admin).code(), absl::StatusCode::kPermissionDenied);
  absl::StatusOr<pb::SetRolesResponse> promoted = manager_->SetRoles(admin_, roles);
  ASSERT_TRUE(promoted.ok());
  EXPECT_THAT(promoted->user().roles(), ElementsAre("admin"));
  roles.add_roles("superuser");
  EXPECT_EQ(set_roles(admin_).code(), absl::StatusCode::kInvalidArgument);

  pb::DeleteUserRequest del;
  del.set_user_id(id);
  EXPECT_EQ(manager_->DeleteUser(self, del).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->DeleteUser(Caller::Platform(), del).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(manager_->DeleteUser(admin_, del).ok());
  EXPECT_EQ(manager_->DeleteUser(admin_, del).status().code(), absl::StatusCode::kNotFound);
  del.set_user_id("usr bad");
  EXPECT_EQ(manager_->DeleteUser(admin_, del).status().code(),
            absl::StatusCode::kInvalidArgument);

  pb::GetUserRequest get;
  get.set_user_id(id);
  EXPECT_EQ(manager_->GetUser(Caller::Anonymous(), get).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CredentialManagerTest, UpdateContactRecordsOnlyRealChangesWithTheirActor) {
  absl::StatusOr<User> ivy = Create(admin_, kDir, "ivy");
  ASSERT_TRUE(ivy.ok());
  const Caller self = UserCaller(kDir, ivy->user_id(), {"user"});
  pb::UpdateContactRequest request;
  request.set_user_id(ivy->user_id());
  clock_.Advance(absl::Minutes(5));
  // The user's own changes, one destination at a time, each confirmed with its code.
  auto change_and_confirm = [&]() -> absl::StatusOr<User> {
    absl::StatusOr<pb::UpdateContactResponse> asked = manager_->UpdateContact(self, request);
    if (!asked.ok()) return asked.status();
    pb::ConfirmContactChangeRequest confirm;
    confirm.set_change_id(asked->pending_change_id());
    confirm.set_code(otp_.LastCode());
    absl::StatusOr<pb::ConfirmContactChangeResponse> done =
        manager_->ConfirmContactChange(self, confirm);
    if (!done.ok()) return done.status();
    return done->user();
  };
  request.set_email("Ivy@Example.com");
  ASSERT_TRUE(change_and_confirm().ok());
  request.set_phone_number("+44 20 7946 0958");
  absl::StatusOr<User> first = change_and_confirm();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->email(), "Ivy@example.com");
  EXPECT_EQ(first->phone_number(), "+442079460958");
  // The same values again, as typed differently: nothing changes.
  request.set_email("Ivy@EXAMPLE.COM");
  request.set_phone_number("+442079460958");
  absl::StatusOr<pb::UpdateContactResponse> same = manager_->UpdateContact(self, request);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->pending_change_id().empty());
  // Clearing the phone is a change.
  request.set_phone_number("");
  ASSERT_TRUE(manager_->UpdateContact(admin_, request).ok());
  auto changes = store_.ListContactChanges(ivy->user_id());
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].field, "email");
  EXPECT_EQ((*changes)[0].actor, "user:" + ivy->user_id());
  EXPECT_EQ((*changes)[0].time, clock_.Now());
  EXPECT_EQ((*changes)[2].field, "phone_number");
  EXPECT_EQ((*changes)[2].actor, "user:usr_admin");

  request.set_email("ivy@@example.com");
  EXPECT_EQ(manager_->UpdateContact(self, request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_user_id("usr_missing");
  request.set_email("");
  EXPECT_EQ(manager_->UpdateContact(admin_, request).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CredentialManagerTest, SetPasswordAppliesThePolicyAndReplacesTheHash) {
  absl::StatusOr<User> jack = Create(admin_, kDir, "jack");
  ASSERT_TRUE(jack.ok());
  const Caller self = UserCaller(kDir, jack->user_id(), {"user"});
  pb::SetPasswordRequest request;
  request.set_user_id(jack->user_id());
  for (const char* bad : {"", "short", "JACK", "password1"}) {
    request.set_new_password(bad);
    EXPECT_EQ(manager_->SetPassword(self, request).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  request.set_new_password(std::string(2000, 'x'));
  EXPECT_THAT(manager_->SetPassword(self, request).status().message(),
              HasSubstr("new_password must be at most 1024 bytes"));
  EXPECT_EQ(Hashes("hash"), 0);
  request.set_new_password("jacks-first-password");
  absl::StatusOr<pb::SetPasswordResponse> set = manager_->SetPassword(self, request);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->user().has_password());
  EXPECT_TRUE(Verify(kDir, "jack", "jacks-first-password").ok());
  request.set_new_password("set-by-the-admin");
  ASSERT_TRUE(manager_->SetPassword(admin_, request).ok());
  EXPECT_FALSE(Verify(kDir, "jack", "jacks-first-password").ok());
  EXPECT_TRUE(Verify(kDir, "jack", "set-by-the-admin").ok());
  EXPECT_EQ(manager_->SetPassword(Caller::Platform(), request).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(CredentialManagerTest, ListUsersPagesThroughOneDirectoryForItsAdmins) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Create(admin_, kDir, "user" + std::to_string(i)).ok());
  ASSERT_TRUE(Create(Caller::Platform(), kOtherDir, "stranger").ok());
  pb::ListUsersRequest request;
  request.set_directory_id(kDir);
  request.set_page_size(2);
  EXPECT_EQ(manager_->ListUsers(Caller::Platform(), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->ListUsers(UserCaller(kDir, "usr_u", {"user"}), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::vector<std::string> names;
  do {
    absl::StatusOr<pb::ListUsersResponse> page = manager_->ListUsers(admin_, request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->users_size(), 2);
    for (const User& u : page->users()) names.push_back(u.username());
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  EXPECT_THAT(names, ElementsAre("user0", "user1", "user2", "user3", "user4"));
  request.set_page_token("garbage");
  EXPECT_EQ(manager_->ListUsers(admin_, request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_page_token("");
  request.set_page_size(-1);
  EXPECT_EQ(manager_->ListUsers(admin_, request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CredentialManagerTest, StoreOutagesAreUnavailable) {
  ASSERT_TRUE(Create(admin_, kDir, "kim", "kim-password").ok());
  store_.status = absl::UnavailableError("postgres unavailable");
  EXPECT_EQ(Verify(kDir, "kim", "kim-password").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Checks("error"), 1);
  EXPECT_EQ(Create(admin_, kDir, "lee").status().code(), absl::StatusCode::kUnavailable);
}

// --- Account security (issues 19, 20) ---

TEST_F(CredentialManagerTest, SensitiveChangesNeedAFreshTokenOfTheUserOrOfTheAdmin) {
  absl::StatusOr<User> mia = Create(admin_, kDir, "mia", "mias-old-password");
  ASSERT_TRUE(mia.ok());
  const std::string id = mia->user_id();
  const Caller stale_self = UserCaller(kDir, id, {"user"}, /*fresh=*/false);
  const Caller stale_admin = UserCaller(kDir, "usr_admin", {"admin"}, /*fresh=*/false);
  auto stale = [](const absl::Status& s) {
    return s.code() == absl::StatusCode::kFailedPrecondition &&
           ErrorReason(s) == reasons::kReauthenticationRequired;
  };
  pb::SetPasswordRequest password;
  password.set_user_id(id);
  password.set_new_password("mias-new-password");
  password.set_current_password("mias-old-password");
  pb::UpdateContactRequest contact;
  contact.set_user_id(id);
  contact.set_email("mia@example.com");
  pb::SetRolesRequest roles;
  roles.set_user_id(id);
  roles.add_roles("user");
  pb::DeleteUserRequest del;
  del.set_user_id(id);
  EXPECT_TRUE(stale(manager_->SetPassword(stale_self, password).status()));
  EXPECT_TRUE(stale(manager_->SetPassword(stale_admin, password).status()));
  EXPECT_TRUE(stale(manager_->UpdateContact(stale_self, contact).status()));
  EXPECT_TRUE(stale(manager_->UpdateContact(stale_admin, contact).status()));
  EXPECT_TRUE(stale(manager_->SetRoles(stale_admin, roles).status()));
  EXPECT_TRUE(stale(manager_->DeleteUser(stale_admin, del).status()));
  EXPECT_EQ(Hashes("hash"), 1) << "only the user's creation hashed";
  EXPECT_TRUE(otp_.sends.empty());
  // Who may call comes first: a stale token of someone else learns nothing about freshness.
  EXPECT_EQ(manager_->SetPassword(UserCaller(kDir, "usr_peer", {"user"}, false), password)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);

  // ConfirmContactChange too.
  absl::StatusOr<pb::UpdateContactResponse> asked =
      manager_->UpdateContact(UserCaller(kDir, id, {"user"}), contact);
  ASSERT_TRUE(asked.ok()) << asked.status();
  pb::ConfirmContactChangeRequest confirm;
  confirm.set_change_id(asked->pending_change_id());
  confirm.set_code(otp_.LastCode());
  EXPECT_TRUE(stale(manager_->ConfirmContactChange(stale_self, confirm).status()));

  // Fresh tokens pass.
  const Caller self = UserCaller(kDir, id, {"user"});
  EXPECT_TRUE(manager_->ConfirmContactChange(self, confirm).ok());
  EXPECT_TRUE(manager_->SetPassword(self, password).ok());
  EXPECT_TRUE(manager_->SetRoles(admin_, roles).ok());
  EXPECT_TRUE(manager_->DeleteUser(admin_, del).ok());
}

TEST_F(CredentialManagerTest, TheUsersOwnPasswordChangeNeedsTheCurrentPassword) {
  absl::StatusOr<User> ned = Create(admin_, kDir, "ned", "neds-old-password");
  ASSERT_TRUE(ned.ok());
  const Caller self = UserCaller(kDir, ned->user_id(), {"user"});
  pb::SetPasswordRequest request;
  request.set_user_id(ned->user_id());
  request.set_new_password("neds-new-password");
  absl::Status missing = manager_->SetPassword(self, request).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(missing.message(), HasSubstr("current_password is required"));
  request.set_current_password("not-neds-password");
  absl::Status wrong = manager_->SetPassword(self, request).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(wrong.message()), Not(HasSubstr("not-neds-password")));
  EXPECT_TRUE(Verify(kDir, "ned", "neds-old-password").ok()) << "nothing changed";
  request.set_current_password("neds-old-password");
  ASSERT_TRUE(manager_->SetPassword(self, request).ok());
  EXPECT_TRUE(Verify(kDir, "ned", "neds-new-password").ok());
  // An admin setting someone else's password needs none (a fresh admin token instead).
  request.clear_current_password();
  request.set_new_password("set-by-the-admin");
  EXPECT_TRUE(manager_->SetPassword(admin_, request).ok());
}

TEST_F(CredentialManagerTest, WrongCurrentPasswordsAreThrottledPerUser) {
  absl::StatusOr<User> olga = Create(admin_, kDir, "olga", "olgas-password");
  ASSERT_TRUE(olga.ok());
  const Caller self = UserCaller(kDir, olga->user_id(), {"user"});
  pb::SetPasswordRequest request;
  request.set_user_id(olga->user_id());
  request.set_new_password("olgas-new-password");
  request.set_current_password("guess");
  for (int i = 0; i < 5; ++i) {
    request.set_current_password(absl::StrCat("guess-number-", i));
    EXPECT_EQ(manager_->SetPassword(self, request).status().code(),
              absl::StatusCode::kPermissionDenied)
        << i;
  }
  const double hashes = Hashes("verify");
  EXPECT_EQ(hashes, 5) << "each try costs one Argon2id verify";
  // The sixth try is refused before any hash, even with the right password.
  request.set_current_password("olgas-password");
  absl::Status throttled = manager_->SetPassword(self, request).status();
  EXPECT_EQ(throttled.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(RetryDelayOf(throttled).has_value());
  EXPECT_GT(*RetryDelayOf(throttled), absl::ZeroDuration());
  EXPECT_LE(*RetryDelayOf(throttled), absl::Minutes(15));
  EXPECT_EQ(Hashes("verify"), hashes);
  EXPECT_TRUE(Verify(kDir, "olga", "olgas-password").ok());
  // Another user's budget is their own; once the window has passed, Olga may try again.
  clock_.Advance(absl::Minutes(15));
  EXPECT_TRUE(manager_->SetPassword(self, request).ok());
}

TEST_F(CredentialManagerTest, PasswordRoleAndDeletionChangesEndTheUsersSessions) {
  absl::StatusOr<User> pia = Create(admin_, kDir, "pia", "pias-password", {"admin"});
  ASSERT_TRUE(pia.ok());
  const std::string id = pia->user_id();
  // A session Pia opened a minute ago (on the manager's clock).
  const SessionClaims before = testing::TestClaims(
      {.directory_id = kDir, .user_id = id, .session_id = "sid_old"},
      clock_.Now() - absl::Minutes(1));
  ASSERT_FALSE(*revocations_.IsRevoked(before));
  pb::SetRolesRequest roles;
  roles.set_user_id(id);
  roles.add_roles("user");
  ASSERT_TRUE(manager_->SetRoles(admin_, roles).ok());
  EXPECT_TRUE(*revocations_.IsRevoked(before)) << "a demoted admin's old token is dead";

  clock_.Advance(absl::Minutes(2));
  const SessionClaims later = testing::TestClaims(
      {.directory_id = kDir, .user_id = id, .session_id = "sid_2"}, clock_.Now() - absl::Minutes(1));
  EXPECT_FALSE(*revocations_.IsRevoked(later));
  pb::SetPasswordRequest password;
  password.set_user_id(id);
  password.set_new_password("pias-new-password");
  ASSERT_TRUE(manager_->SetPassword(admin_, password).ok());
  EXPECT_TRUE(*revocations_.IsRevoked(later));

  // Redis down: no change is committed with the old sessions still alive.
  clock_.Advance(absl::Minutes(2));
  revocations_.Fail(absl::UnavailableError("redis down"));
  password.set_new_password("pias-third-password");
  EXPECT_EQ(manager_->SetPassword(admin_, password).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Verify(kDir, "pia", "pias-new-password").ok());
  roles.set_roles(0, "admin");
  EXPECT_EQ(manager_->SetRoles(admin_, roles).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store_.Find(id)->user.roles(), ElementsAre("user"));
  pb::DeleteUserRequest del;
  del.set_user_id(id);
  EXPECT_EQ(manager_->DeleteUser(admin_, del).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(store_.Find(id), nullptr);

  revocations_.Fail(absl::OkStatus());
  const SessionClaims last = testing::TestClaims(
      {.directory_id = kDir, .user_id = id, .session_id = "sid_3"}, clock_.Now() - absl::Minutes(1));
  ASSERT_TRUE(manager_->DeleteUser(admin_, del).ok());
  EXPECT_TRUE(*revocations_.IsRevoked(last));
}

TEST_F(CredentialManagerTest, TheUsersContactChangeWaitsForTheCodeSentToTheNewDestination) {
  pb::CreateUserRequest create;
  create.set_directory_id(kDir);
  create.set_username("quinn");
  create.set_email("quinn@old.example");
  create.set_phone_number("+31612345678");
  absl::StatusOr<pb::CreateUserResponse> quinn = manager_->CreateUser(admin_, create);
  ASSERT_TRUE(quinn.ok()) << quinn.status();
  const std::string id = quinn->user().user_id();
  const Caller self = UserCaller(kDir, id, {"user"});
  pb::UpdateContactRequest request;
  request.set_user_id(id);
  request.set_email("quinn@new.example");
  request.set_phone_number("+31612345678");
  absl::StatusOr<pb::UpdateContactResponse> asked = manager_->UpdateContact(self, request);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_FALSE(asked->pending_change_id().empty());
  EXPECT_EQ(asked->user().email(), "quinn@old.example") << "nothing stored yet";
  EXPECT_EQ(store_.Find(id)->user.email(), "quinn@old.example");
  ASSERT_EQ(otp_.sends.size(), 1u);
  EXPECT_EQ(otp_.sends[0].destination(), "quinn@new.example");
  EXPECT_EQ(otp_.sends[0].channel(), ::tally::otp::v1::CHANNEL_EMAIL);
  EXPECT_EQ(otp_.sends[0].user_id(), id);

  pb::ConfirmContactChangeRequest confirm;
  confirm.set_change_id(asked->pending_change_id());
  confirm.set_code("000000");
  EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Nobody else confirms it, not even an admin.
  confirm.set_code(otp_.LastCode());
  EXPECT_EQ(manager_->ConfirmContactChange(admin_, confirm).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(otp_.notices.empty());
  absl::StatusOr<pb::ConfirmContactChangeResponse> done =
      manager_->ConfirmContactChange(self, confirm);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->user().email(), "quinn@new.example");
  EXPECT_EQ(store_.Find(id)->user.email(), "quinn@new.example");
  ASSERT_EQ(otp_.notices.size(), 1u);
  EXPECT_EQ(otp_.notices[0].destination(), "quinn@old.example");
  EXPECT_EQ(otp_.notices[0].channel(), ::tally::otp::v1::CHANNEL_EMAIL);
  EXPECT_EQ(otp_.notices[0].kind(), ::tally::otp::v1::NOTICE_CONTACT_CHANGED);
  EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
            absl::StatusCode::kNotFound)
      << "single use";

  // Both destinations at once: refused, nothing sent.
  request.set_email("quinn@third.example");
  request.set_phone_number("+31687654321");
  EXPECT_EQ(manager_->UpdateContact(self, request).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(otp_.sends.size(), 1u);

  // A phone change: the code goes by SMS; a newer request replaces the pending one.
  request.set_email("quinn@new.example");
  absl::StatusOr<pb::UpdateContactResponse> first = manager_->UpdateContact(self, request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(otp_.sends.back().channel(), ::tally::otp::v1::CHANNEL_SMS);
  request.set_phone_number("+31611112222");
  absl::StatusOr<pb::UpdateContactResponse> second = manager_->UpdateContact(self, request);
  ASSERT_TRUE(second.ok());
  confirm.set_change_id(first->pending_change_id());
  EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
            absl::StatusCode::kNotFound);
  // Wrong codes until the OTP service's attempts run out: the change is dead.
  confirm.set_change_id(second->pending_change_id());
  confirm.set_code("999999");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
            absl::StatusCode::kNotFound);
  confirm.set_code(otp_.LastCode());
  EXPECT_EQ(manager_->ConfirmContactChange(self, confirm).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.Find(id)->user.phone_number(), "+31612345678");

  // Expired with its code.
  absl::StatusOr<pb::UpdateContactResponse> third = manager_->UpdateContact(self, request);
  ASSERT_TRUE(third.ok());
  clock_.Advance(absl::Minutes(6));
  confirm.set_change_id(third->pending_change_id());
  EXPECT_EQ(manager_->ConfirmContactChange(UserCaller(kDir, id, {"user"}), confirm)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CredentialManagerTest, RemovalsAndAdminsChangesApplyAtOnceAndTellTheOldDestination) {
  pb::CreateUserRequest create;
  create.set_directory_id(kDir);
  create.set_username("rex");
  create.set_email("rex@old.example");
  create.set_phone_number("+31612345678");
  absl::StatusOr<pb::CreateUserResponse> rex = manager_->CreateUser(admin_, create);
  ASSERT_TRUE(rex.ok());
  const std::string id = rex->user().user_id();
  pb::UpdateContactRequest request;
  request.set_user_id(id);
  request.set_email("rex@old.example");
  // The user removes the phone: no code can prove a removal; applied, the old phone told.
  absl::StatusOr<pb::UpdateContactResponse> removed =
      manager_->UpdateContact(UserCaller(kDir, id, {"user"}), request);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->pending_change_id().empty());
  EXPECT_EQ(removed->user().phone_number(), "");
  ASSERT_EQ(otp_.notices.size(), 1u);
  EXPECT_EQ(otp_.notices[0].destination(), "+31612345678");
  EXPECT_EQ(otp_.notices[0].channel(), ::tally::otp::v1::CHANNEL_SMS);
  // An admin changes both at once: applied, each old destination that existed is told.
  request.set_email("rex@admin.example");
  request.set_phone_number("+31687654321");
  absl::StatusOr<pb::UpdateContactResponse> by_admin = manager_->UpdateContact(admin_, request);
  ASSERT_TRUE(by_admin.ok()) << by_admin.status();
  EXPECT_TRUE(by_admin->pending_change_id().empty());
  EXPECT_EQ(by_admin->user().email(), "rex@admin.example");
  EXPECT_EQ(by_admin->user().phone_number(), "+31687654321");
  ASSERT_EQ(otp_.notices.size(), 2u);
  EXPECT_EQ(otp_.notices[1].destination(), "rex@old.example");
  EXPECT_TRUE(otp_.sends.empty());
}

TEST_F(CredentialManagerTest, PhonesOutsideTheDirectorysSmsCountriesAreRefused) {
  settings_.sms_countries = {"31"};
  absl::StatusOr<User> sam = Create(admin_, kDir, "sam");
  ASSERT_TRUE(sam.ok());
  pb::UpdateContactRequest request;
  request.set_user_id(sam->user_id());
  request.set_phone_number("+447700900123");
  for (const Caller& caller : {UserCaller(kDir, sam->user_id(), {"user"}), admin_}) {
    absl::Status refused = manager_->UpdateContact(caller, request).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.message(), HasSubstr("outside the countries"));
  }
  EXPECT_TRUE(otp_.sends.empty());
  pb::CreateUserRequest create;
  create.set_directory_id(kDir);
  create.set_username("tom");
  create.set_phone_number("+447700900123");
  EXPECT_EQ(manager_->CreateUser(admin_, create).status().code(),
            absl::StatusCode::kInvalidArgument);
  create.set_phone_number("+31612345678");
  EXPECT_TRUE(manager_->CreateUser(admin_, create).ok());
  request.set_phone_number("+31687654321");
  EXPECT_TRUE(manager_->UpdateContact(admin_, request).ok());
}

TEST_F(CredentialManagerTest, CreateUserNeedsADirectoryPolicyKnows) {
  EXPECT_EQ(Create(Caller::Platform(), "dir_unknown", "uma").status().code(),
            absl::StatusCode::kNotFound);
  settings_.status = absl::UnavailableError("policy service unavailable");
  EXPECT_EQ(Create(Caller::Platform(), kDir, "uma").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_.users.empty());
}

}  // namespace
}  // namespace tally::credential
