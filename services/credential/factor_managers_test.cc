// TotpManager, RecoveryCodeManager, DeviceManager and FactorGuard against in-memory stores with
// the stores' documented semantics, a fake clock and a fake policy service.

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/credential/device_manager.h"
#include "services/credential/recovery_code_manager.h"
#include "services/credential/recovery_codes.h"
#include "services/credential/testing/fake_factor_store.h"
#include "services/credential/totp_manager.h"

namespace tally::credential {
namespace {

using testing::FakeClock;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kDir[] = "dir_a";
constexpr char kAlice[] = "usr_alice";
constexpr char kBob[] = "usr_bob";
constexpr char kOtherDir[] = "dir_b";
constexpr char kEve[] = "usr_eve";  // in kOtherDir

// Users only: GetUser is all the factor managers read.
class FakeUsers final : public CredentialStore {
 public:
  FakeUsers() {
    Add(kDir, kAlice, "alice");
    Add(kDir, kBob, "bob");
    Add(kOtherDir, kEve, "eve");
  }
  void Add(const std::string& dir, const std::string& id, const std::string& name) {
    StoredUser u;
    u.user.set_user_id(id);
    u.user.set_directory_id(dir);
    u.user.set_username(name);
    users_[id] = u;
  }
  absl::StatusOr<StoredUser> GetUser(std::string_view user_id) override {
    auto it = users_.find(std::string(user_id));
    if (it == users_.end()) return absl::NotFoundError("no such user");
    return it->second;
  }
  absl::Status CreateUser(const StoredUser&, const std::vector<ContactChange>&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<StoredUser> FindUser(std::string_view, std::string_view) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<Page<User>> ListUsers(std::string_view, int64_t, int) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<StoredUser> UpdateContact(std::string_view, const std::string&, const std::string&,
                                           const std::string&, absl::Time) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<StoredUser> SetPasswordHash(std::string_view, const std::string&,
                                             absl::Time) override {
    return absl::UnimplementedError("");
  }
  absl::Status ReplacePasswordHash(std::string_view, const std::string&,
                                   const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<StoredUser> SetRoles(std::string_view, const std::vector<std::string>&) override {
    return absl::UnimplementedError("");
  }
  absl::Status DeleteUser(std::string_view) override { return absl::UnimplementedError(""); }
  absl::Status PutPendingContactChange(const PendingContactChange&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<PendingContactChange> GetPendingContactChange(std::string_view,
                                                               absl::Time) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<AppliedContactChange> ApplyPendingContactChange(std::string_view,
                                                                 const std::string&,
                                                                 absl::Time) override {
    return absl::UnimplementedError("");
  }
  absl::Status DeletePendingContactChange(std::string_view) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<std::vector<ContactChange>> ListContactChanges(std::string_view) override {
    return absl::UnimplementedError("");
  }
  absl::Status Ping() override { return absl::OkStatus(); }

 private:
  std::map<std::string, StoredUser> users_;
};

using FakeFactors = FakeFactorStore;

class FakeDevices final : public DeviceStore {
 public:
  absl::Status CreateDevice(const Device& device, absl::string_view hash) override {
    rows_.push_back({device, std::string(hash)});
    return absl::OkStatus();
  }
  absl::StatusOr<Device> UseDevice(absl::string_view dir, absl::string_view user,
                                   absl::string_view hash, absl::Time created_after,
                                   absl::Time now) override {
    for (Row& row : rows_) {
      if (row.hash == hash && row.device.user_id() == user && row.device.directory_id() == dir &&
          FromProtoTime(row.device.create_time()) > created_after) {
        *row.device.mutable_last_used_time() = ToProtoTime(now);
        return row.device;
      }
    }
    return absl::NotFoundError("no device");
  }
  absl::StatusOr<std::vector<Device>> ListDevices(absl::string_view dir, absl::string_view user,
                                                  absl::Time created_after) override {
    std::vector<Device> out;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
      if (it->device.user_id() == user && it->device.directory_id() == dir &&
          FromProtoTime(it->device.create_time()) > created_after) {
        out.push_back(it->device);
      }
    }
    return out;
  }
  absl::Status DeleteDevice(absl::string_view dir, absl::string_view user,
                            absl::string_view id) override {
    for (auto it = rows_.begin(); it != rows_.end(); ++it) {
      if (it->device.device_id() == id && it->device.user_id() == user &&
          it->device.directory_id() == dir) {
        rows_.erase(it);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError("no such device");
  }
  std::vector<std::string> Hashes() const {
    std::vector<std::string> out;
    for (const Row& row : rows_) out.push_back(row.hash);
    return out;
  }

 private:
  struct Row {
    Device device;
    std::string hash;
  };
  std::vector<Row> rows_;
};

class FakeDirectories final : public RequiredLevelSource, public DirectoryNameSource {
 public:
  absl::StatusOr<int> RequiredLevel(absl::string_view dir) override {
    if (dir != kDir && dir != kOtherDir) return absl::NotFoundError("unknown directory");
    return 30;
  }
  absl::StatusOr<std::string> DisplayName(absl::string_view dir) override {
    if (dir != kDir && dir != kOtherDir) return absl::NotFoundError("unknown directory");
    return std::string("Acme & Co");
  }
};

class FactorManagersTest : public ::testing::Test {
 protected:
  // A session at `level`, logged in at `auth_time` (and issued then), fresh as the
  // Authenticator finds it now with the default --reauth_max_age.
  Caller UserCaller(const std::string& dir, const std::string& user, int level,
                    absl::Time auth_time, std::vector<std::string> roles = {"user"}) {
    Caller caller = Caller::User(testing::TestClaims({.directory_id = dir,
                                                      .user_id = user,
                                                      .roles = std::move(roles),
                                                      .acr = absl::StrCat(level),
                                                      .session_id = "sid_1"},
                                                     auth_time));
    caller.fresh = clock_.Now() - auth_time <= kDefaultReauthMaxAge;
    return caller;
  }

  FactorManagersTest()
      : guard_(users_, factors_, directories_, clock_, FactorGuardOptions{}),
        totp_(guard_, factors_, users_, directories_, CsprngRandom::Get(), TotpOptionsForTest()),
        recovery_(guard_, factors_, CsprngRandom::Get(), std::string(32, 'r')),
        devices_(device_store_, clock_, CsprngRandom::Get()) {}

  static TotpOptions TotpOptionsForTest() {
    TotpOptions options;
    options.encryption_key = std::string(32, 'k');
    return options;
  }

  // Alice, just logged in at the directory's level.
  Caller Alice() { return UserCaller(kDir, kAlice, 30, clock_.Now()); }

  // Enrols and confirms an app for Alice; returns its raw secret.
  std::string EnrolAlice() {
    auto started = totp_.StartTotpEnrollment(Alice(), StartRequest(kAlice));
    EXPECT_TRUE(started.ok()) << started.status();
    std::string secret;
    EXPECT_TRUE(Base32Decode(started->secret_base32(), &secret));
    pb::ConfirmTotpEnrollmentRequest confirm;
    confirm.set_enrollment_id(started->enrollment_id());
    confirm.set_code(Totp(TotpParams(), secret, clock_.Now()));
    auto confirmed = totp_.ConfirmTotpEnrollment(Alice(), confirm);
    EXPECT_TRUE(confirmed.ok()) << confirmed.status();
    return secret;
  }

  static pb::StartTotpEnrollmentRequest StartRequest(const std::string& user) {
    pb::StartTotpEnrollmentRequest r;
    r.set_user_id(user);
    return r;
  }

  absl::Status Verify(const std::string& code, const std::string& user = kAlice) {
    pb::VerifyTotpRequest r;
    r.set_directory_id(kDir);
    r.set_user_id(user);
    r.set_code(code);
    return totp_.VerifyTotp(Caller::Anonymous(), r).status();
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000010)};
  FakeUsers users_;
  FakeFactors factors_;
  FakeDevices device_store_;
  FakeDirectories directories_;
  FactorGuard guard_;
  TotpManager totp_;
  RecoveryCodeManager recovery_;
  DeviceManager devices_;
};

TEST_F(FactorManagersTest, EnrolmentAnswersUriSecretAndQrCode) {
  auto started = totp_.StartTotpEnrollment(Alice(), StartRequest(kAlice));
  ASSERT_TRUE(started.ok()) << started.status();
  std::string secret;
  ASSERT_TRUE(Base32Decode(started->secret_base32(), &secret));
  EXPECT_EQ(secret.size(), 20u);  // 160 bits
  EXPECT_EQ(started->otpauth_uri(),
            absl::StrCat("otpauth://totp/Acme%20%26%20Co:alice?secret=", started->secret_base32(),
                         "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30"));
  EXPECT_THAT(started->qr_svg(), HasSubstr("<svg "));
  EXPECT_EQ(FromProtoTime(started->expire_time()), clock_.Now() + absl::Minutes(10));
  EXPECT_THAT(started->enrollment_id(), StartsWith("totp_"));
}

TEST_F(FactorManagersTest, EnrolmentNeedsTheUserAtTheLevelWithAFreshSession) {
  const absl::Time now = clock_.Now();
  auto start = [&](const Caller& caller) {
    return totp_.StartTotpEnrollment(caller, StartRequest(kAlice)).status();
  };
  EXPECT_EQ(start(Caller::Anonymous()).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(start(Caller::Platform()).code(), absl::StatusCode::kPermissionDenied);
  // Another user, even an admin of the directory, may not enrol for Alice.
  EXPECT_EQ(start(UserCaller(kDir, kBob, 30, now, {"admin"})).code(),
            absl::StatusCode::kPermissionDenied);
  // A token of another directory naming Alice's id.
  EXPECT_EQ(start(UserCaller(kOtherDir, kAlice, 30, now)).code(),
            absl::StatusCode::kPermissionDenied);
  // Below the level: PERMISSION_DENIED, checked before freshness.
  absl::Status low = start(UserCaller(kDir, kAlice, 20, now - absl::Hours(1)));
  EXPECT_EQ(low.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(low.message(), HasSubstr("below the directory's required level 30"));
  // At the level but stale.
  absl::Status stale =
      start(UserCaller(kDir, kAlice, 30, now - absl::Minutes(5) - absl::Seconds(1)));
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  EXPECT_TRUE(start(UserCaller(kDir, kAlice, 30, now - absl::Minutes(5))).ok());
}

TEST_F(FactorManagersTest, ConfirmationActivatesWithAFirstCodeAndExpires) {
  auto started = totp_.StartTotpEnrollment(Alice(), StartRequest(kAlice));
  ASSERT_TRUE(started.ok());
  std::string secret;
  ASSERT_TRUE(Base32Decode(started->secret_base32(), &secret));
  pb::ConfirmTotpEnrollmentRequest confirm;
  confirm.set_enrollment_id(started->enrollment_id());
  // A wrong code leaves it pending.
  confirm.set_code(Totp(TotpParams(), secret, clock_.Now() + absl::Minutes(2)));
  EXPECT_EQ(totp_.ConfirmTotpEnrollment(Alice(), confirm).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Bob may not confirm Alice's enrolment, whatever the code.
  confirm.set_code(Totp(TotpParams(), secret, clock_.Now()));
  EXPECT_EQ(totp_.ConfirmTotpEnrollment(UserCaller(kDir, kBob, 30, clock_.Now()), confirm)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  auto confirmed = totp_.ConfirmTotpEnrollment(Alice(), confirm);
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  // Single use.
  EXPECT_EQ(totp_.ConfirmTotpEnrollment(Alice(), confirm).status().code(),
            absl::StatusCode::kNotFound);
  // The confirming code's step is spent: it cannot also log in.
  EXPECT_EQ(Verify(confirm.code()).code(), absl::StatusCode::kUnauthenticated);

  // An enrolment left unconfirmed for 10 minutes is gone.
  auto second = totp_.StartTotpEnrollment(Alice(), StartRequest(kAlice));
  ASSERT_TRUE(second.ok());
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(Base32Decode(second->secret_base32(), &secret));
  confirm.set_enrollment_id(second->enrollment_id());
  confirm.set_code(Totp(TotpParams(), secret, clock_.Now()));
  EXPECT_EQ(totp_.ConfirmTotpEnrollment(Alice(), confirm).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FactorManagersTest, AnotherEnrolmentReplacesTheAppOnlyOnConfirmation) {
  const std::string first = EnrolAlice();
  clock_.Advance(absl::Seconds(30));
  auto started = totp_.StartTotpEnrollment(Alice(), StartRequest(kAlice));
  ASSERT_TRUE(started.ok());
  // Unconfirmed: the first app still works.
  EXPECT_TRUE(Verify(Totp(TotpParams(), first, clock_.Now())).ok());
  std::string second;
  ASSERT_TRUE(Base32Decode(started->secret_base32(), &second));
  clock_.Advance(absl::Seconds(30));
  pb::ConfirmTotpEnrollmentRequest confirm;
  confirm.set_enrollment_id(started->enrollment_id());
  confirm.set_code(Totp(TotpParams(), second, clock_.Now()));
  ASSERT_TRUE(totp_.ConfirmTotpEnrollment(Alice(), confirm).ok());
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(Verify(Totp(TotpParams(), first, clock_.Now())).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Verify(Totp(TotpParams(), second, clock_.Now())).ok());
}

TEST_F(FactorManagersTest, VerifyAcceptsOneStepEitherSideEachOnce) {
  const std::string secret = EnrolAlice();
  const TotpParams params;
  clock_.Advance(absl::Minutes(1));
  // The previous step's code (an app a little behind) counts once.
  const std::string previous = Totp(params, secret, clock_.Now() - absl::Seconds(30));
  EXPECT_TRUE(Verify(previous).ok());
  EXPECT_EQ(Verify(previous).code(), absl::StatusCode::kUnauthenticated);  // replay
  // The next step's code (an app a little ahead) too, and afterwards the current step is
  // behind the last used one: refused.
  EXPECT_TRUE(Verify(Totp(params, secret, clock_.Now() + absl::Seconds(30))).ok());
  EXPECT_EQ(Verify(Totp(params, secret, clock_.Now())).code(), absl::StatusCode::kUnauthenticated);
  // Two steps away: refused.
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(Verify(Totp(params, secret, clock_.Now() + absl::Seconds(60))).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Verify(Totp(params, secret, clock_.Now() - absl::Seconds(60))).code(),
            absl::StatusCode::kUnauthenticated);
  // Spaces as apps show them are fine; other shapes are just wrong.
  const std::string now_code = Totp(params, secret, clock_.Now());
  EXPECT_TRUE(Verify(absl::StrCat(now_code.substr(0, 3), " ", now_code.substr(3))).ok());
  EXPECT_EQ(Verify("12345a").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(FactorManagersTest, VerifyAnswersNoAppLikeAWrongCodeAndUnknownUsersNotFound) {
  absl::Status no_app = Verify("123456", kBob);
  EXPECT_EQ(no_app.code(), absl::StatusCode::kUnauthenticated);
  const std::string secret = EnrolAlice();
  clock_.Advance(absl::Minutes(1));
  absl::Status wrong = Verify(Totp(TotpParams(), secret, clock_.Now() + absl::Minutes(5)));
  EXPECT_EQ(wrong, no_app);
  EXPECT_EQ(Verify("123456", "usr_nobody").code(), absl::StatusCode::kNotFound);
  // Eve exists, but not in this directory.
  EXPECT_EQ(Verify("123456", kEve).code(), absl::StatusCode::kNotFound);
}

TEST_F(FactorManagersTest, SecretsAreSealedToTheirUser) {
  const std::string secret = EnrolAlice();
  const std::string sealed = factors_.StoredSecretOf(kAlice);
  EXPECT_THAT(sealed, Not(HasSubstr(secret)));
  EXPECT_EQ(sealed[0], '\x01');  // the key id
  // Alice's row copied to Bob does not open for Bob.
  factors_.SetSealedSecret(kBob, {kDir, kBob, sealed});
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Verify(Totp(TotpParams(), secret, clock_.Now()), kBob).code(),
            absl::StatusCode::kInternal);
}

TEST_F(FactorManagersTest, GuessingRunsOutOfItsBudgetAndARightCodeRefills) {
  const std::string secret = EnrolAlice();
  clock_.Advance(absl::Minutes(1));
  const std::string wrong = Totp(TotpParams(), secret, clock_.Now() + absl::Minutes(10));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Verify(wrong).code(), absl::StatusCode::kUnauthenticated) << i;
  }
  // The 11th attempt in 15 minutes is not checked at all, even with the right code.
  absl::Status spent = Verify(Totp(TotpParams(), secret, clock_.Now()));
  EXPECT_EQ(spent.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryDelayOf(spent), absl::Minutes(15));
  clock_.Advance(absl::Minutes(15));
  EXPECT_TRUE(Verify(Totp(TotpParams(), secret, clock_.Now())).ok());
  // Recovery codes have their own budget, untouched.
  EXPECT_TRUE(
      factors_.CountAttempt(kAlice, "recovery_code", absl::Minutes(15), clock_.Now())->attempts ==
      1);
}

TEST_F(FactorManagersTest, DeleteTotpByTheUserOrAnAdminWhenFresh) {
  EnrolAlice();
  pb::DeleteTotpRequest request;
  request.set_user_id(kAlice);
  const absl::Time now = clock_.Now();
  EXPECT_EQ(totp_.DeleteTotp(UserCaller(kDir, kBob, 30, now), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      totp_.DeleteTotp(UserCaller(kOtherDir, kEve, 30, now, {"admin"}), request).status().code(),
      absl::StatusCode::kPermissionDenied);
  absl::Status stale =
      totp_.DeleteTotp(UserCaller(kDir, kBob, 30, now - absl::Hours(1), {"admin"}), request)
          .status();
  EXPECT_EQ(ErrorReason(stale), "REAUTHENTICATION_REQUIRED");
  EXPECT_TRUE(totp_.DeleteTotp(UserCaller(kDir, kBob, 30, now, {"admin"}), request).ok());
  EXPECT_EQ(factors_.GetTotp(kAlice).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FactorManagersTest, RecoveryCodesWorkOnceAndRegeneratingVoidsTheOldSet) {
  pb::GenerateRecoveryCodesRequest generate;
  generate.set_user_id(kAlice);
  // Same gate as enrolment.
  EXPECT_EQ(recovery_.GenerateRecoveryCodes(UserCaller(kDir, kAlice, 20, clock_.Now()), generate)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  auto first = recovery_.GenerateRecoveryCodes(Alice(), generate);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->codes_size(), 10);
  // Only MACs are stored.
  for (const std::string& mac : factors_.MacsOf(kAlice)) {
    for (const std::string& code : first->codes()) {
      EXPECT_THAT(mac, Not(HasSubstr(*NormalizeRecoveryCode(code))));
    }
  }
  auto use = [&](const std::string& code) {
    pb::VerifyRecoveryCodeRequest r;
    r.set_directory_id(kDir);
    r.set_user_id(kAlice);
    r.set_code(code);
    return recovery_.VerifyRecoveryCode(Caller::Anonymous(), r);
  };
  // Typed loosely: upper case, spaces instead of dashes.
  std::string typed = absl::AsciiStrToUpper(first->codes(0));
  std::replace(typed.begin(), typed.end(), '-', ' ');
  auto used = use(typed);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->codes_left(), 9);
  EXPECT_EQ(use(first->codes(0)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(use("not-a-code").status().code(), absl::StatusCode::kUnauthenticated);

  auto second = recovery_.GenerateRecoveryCodes(Alice(), generate);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(use(first->codes(1)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(use(second->codes(1))->codes_left(), 9);
}

TEST_F(FactorManagersTest, DevicesCountForTheirUserUntilTheCurrentMaxAge) {
  pb::CreateDeviceRequest create;
  create.set_directory_id(kDir);
  create.set_user_id(kAlice);
  create.set_device_name("Firefox on Linux");
  *create.mutable_max_age() = ToProtoDuration(absl::Hours(24 * 30));
  auto created = devices_.CreateDevice(Caller::Anonymous(), create);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string token = created->device_token();
  std::string raw;
  ASSERT_TRUE(Base64UrlDecode(token, &raw));
  EXPECT_EQ(raw.size(), 32u);
  // Only the hash is stored.
  EXPECT_THAT(device_store_.Hashes(), ::testing::ElementsAre(HexEncode(Sha256(token))));
  EXPECT_EQ(FromProtoTime(created->device().expire_time()),
            FromProtoTime(created->device().create_time()) + absl::Hours(24 * 30));

  auto verify = [&](const std::string& user, const std::string& t, absl::Duration max_age) {
    pb::VerifyDeviceRequest r;
    r.set_directory_id(kDir);
    r.set_user_id(user);
    r.set_device_token(t);
    *r.mutable_max_age() = ToProtoDuration(max_age);
    return devices_.VerifyDevice(Caller::Anonymous(), r);
  };
  clock_.Advance(absl::Hours(24 * 2));
  auto ok = verify(kAlice, token, absl::Hours(24 * 30));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(FromProtoTime(ok->device().last_used_time()), clock_.Now());
  // Another user's token, garbage, and the setting shortened below the device's age: one answer.
  const absl::Status other = verify(kBob, token, absl::Hours(24 * 30)).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verify(kAlice, "garbage", absl::Hours(24 * 30)).status(), other);
  EXPECT_EQ(verify(kAlice, std::string(5000, 'x'), absl::Hours(24 * 30)).status(), other);
  EXPECT_EQ(verify(kAlice, token, absl::Hours(24)).status(), other);

  pb::ListDevicesRequest list;
  list.set_directory_id(kDir);
  list.set_user_id(kAlice);
  *list.mutable_max_age() = ToProtoDuration(absl::Hours(24 * 30));
  auto listed = devices_.ListDevices(Caller::Anonymous(), list);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->devices_size(), 1);
  EXPECT_EQ(listed->devices(0).device_name(), "Firefox on Linux");
  *list.mutable_max_age() = ToProtoDuration(absl::Hours(24));
  EXPECT_EQ(devices_.ListDevices(Caller::Anonymous(), list)->devices_size(), 0);

  pb::DeleteDeviceRequest forget;
  forget.set_directory_id(kDir);
  forget.set_user_id(kBob);
  forget.set_device_id(created->device().device_id());
  EXPECT_EQ(devices_.DeleteDevice(Caller::Anonymous(), forget).status().code(),
            absl::StatusCode::kNotFound);
  forget.set_user_id(kAlice);
  EXPECT_TRUE(devices_.DeleteDevice(Caller::Anonymous(), forget).ok());
  EXPECT_EQ(verify(kAlice, token, absl::Hours(24 * 30)).status(), other);

  // Unset max_age is 30 days; beyond 400 days is refused.
  create.clear_max_age();
  auto defaulted = devices_.CreateDevice(Caller::Anonymous(), create);
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(FromProtoTime(defaulted->device().expire_time()),
            FromProtoTime(defaulted->device().create_time()) + absl::Hours(24 * 30));
  *create.mutable_max_age() = ToProtoDuration(absl::Hours(24 * 401));
  EXPECT_EQ(devices_.CreateDevice(Caller::Anonymous(), create).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::credential
