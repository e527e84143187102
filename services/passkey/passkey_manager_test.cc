#include "services/passkey/passkey_manager.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/attestation_ca.h"
#include "services/passkey/testing/soft_authenticator.h"

namespace tally::passkey {
namespace {

using json = nlohmann::json;
using ::tally::testing::FakeClock;
using ::testing::HasSubstr;
using webauthn::testing::SoftAuthenticator;

constexpr char kDir[] = "dir_1";
constexpr char kOrigin[] = "https://login.example.com";

class CountingRandom : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      ++n_;
      b = static_cast<uint8_t>(n_ * 131 + (n_ >> 8));
    }
  }

 private:
  uint64_t n_ = 0;
};

class FakeStore : public PasskeyStore {
 public:
  absl::StatusOr<std::string> GetOrCreateUserHandle(absl::string_view dir, absl::string_view user,
                                                    absl::string_view candidate) override {
    auto [it, inserted] = handles.emplace(absl::StrCat(dir, "/", user), std::string(candidate));
    return it->second;
  }
  absl::Status CreatePasskey(const PasskeyRecord& r) override {
    if (!down.ok()) return down;
    if (!passkeys.emplace(r.credential_id, r).second) return absl::AlreadyExistsError("dup");
    return absl::OkStatus();
  }
  absl::StatusOr<PasskeyRecord> GetPasskey(absl::string_view id) override {
    auto it = passkeys.find(std::string(id));
    if (it == passkeys.end()) return absl::NotFoundError("none");
    PasskeyRecord record = it->second;
    auto handle = handles.find(absl::StrCat(record.directory_id, "/", record.user_id));
    if (handle != handles.end()) record.owner_user_handle = handle->second;
    return record;
  }
  absl::StatusOr<std::vector<PasskeyRecord>> ListPasskeys(absl::string_view dir,
                                                          absl::string_view user) override {
    std::vector<PasskeyRecord> out;
    for (const auto& [id, r] : passkeys) {
      if (r.directory_id == dir && r.user_id == user) out.push_back(r);
    }
    return out;
  }
  absl::Status RecordUse(absl::string_view id, uint32_t expected, uint32_t count, bool bs,
                         absl::Time when) override {
    auto it = passkeys.find(std::string(id));
    if (it == passkeys.end() || it->second.sign_count != expected) {
      return absl::AbortedError("lost");
    }
    it->second.sign_count = count;
    it->second.backup_state = bs;
    it->second.last_use_time = when;
    return absl::OkStatus();
  }
  absl::Status DeletePasskey(absl::string_view dir, absl::string_view user,
                             absl::string_view id) override {
    auto it = passkeys.find(std::string(id));
    if (it == passkeys.end() || it->second.directory_id != dir || it->second.user_id != user) {
      return absl::NotFoundError("none");
    }
    passkeys.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<RpConfig>> GetRpOverride(absl::string_view dir) override {
    ++rp_reads;
    if (!rp_down.ok()) return rp_down;
    auto it = overrides.find(std::string(dir));
    if (it == overrides.end()) return std::optional<RpConfig>();
    return std::optional<RpConfig>(it->second);
  }
  absl::Status Ping() override { return absl::OkStatus(); }

  std::map<std::string, std::string> handles;
  std::map<std::string, PasskeyRecord> passkeys;
  std::map<std::string, RpConfig> overrides;
  int rp_reads = 0;
  absl::Status rp_down;
  absl::Status down;
};

class FakeChallenges : public ChallengeStore {
 public:
  explicit FakeChallenges(const FakeClock& clock) : clock_(clock) {}
  absl::Status Put(absl::string_view id, const PendingCeremony& c, absl::Duration ttl) override {
    entries_[absl::StrCat(c.directory_id, ":", id)] = {c, clock_.Now() + ttl};
    return absl::OkStatus();
  }
  absl::StatusOr<PendingCeremony> Take(absl::string_view dir, absl::string_view id) override {
    auto it = entries_.find(absl::StrCat(dir, ":", id));
    if (it == entries_.end() || clock_.Now() >= it->second.second) {
      return absl::NotFoundError("none");
    }
    PendingCeremony c = it->second.first;
    entries_.erase(it);
    return c;
  }
  absl::Status Ping() override { return absl::OkStatus(); }

 private:
  const FakeClock& clock_;
  std::map<std::string, std::pair<PendingCeremony, absl::Time>> entries_;
};

class FakeLevels : public RequiredLevelSource {
 public:
  absl::StatusOr<int> RequiredLevel(absl::string_view) override {
    if (!status.ok()) return status;
    return level;
  }
  int level = 30;
  absl::Status status;
};

class RecordingObserver : public CeremonyObserver {
 public:
  void Ceremony(absl::string_view ceremony, absl::string_view result,
                absl::string_view reason) override {
    events.push_back(absl::StrCat(ceremony, "/", result, "/", reason));
  }
  void CounterRegression() override { ++regressions; }
  std::vector<std::string> events;
  int regressions = 0;
};

Caller UserCaller(const std::string& user, const std::string& acr = "30",
                  const std::string& dir = kDir) {
  return Caller::User(
      testing::TestClaims({.directory_id = dir, .user_id = user, .acr = acr}, absl::Now()));
}

Caller AdminCaller() {
  return Caller::User(testing::TestClaims(
      {.directory_id = kDir, .user_id = "admin_1", .roles = {"admin"}}, absl::Now()));
}

pb::StartRegistrationRequest RegistrationRequest(const std::string& user) {
  pb::StartRegistrationRequest request;
  request.set_directory_id(kDir);
  request.set_user_id(user);
  request.set_username(user + "@example.com");
  return request;
}

class PasskeyManagerTest : public ::testing::Test {
 protected:
  PasskeyManagerTest() {
    PasskeyOptions options;
    options.default_rp = {"login.example.com", "Example", {kOrigin}, "preferred", false, {}};
    Rebuild(options);
  }

  void Rebuild(PasskeyOptions options) {
    manager_ = std::make_unique<PasskeyManager>(store_, challenges_, levels_, clock_, random_,
                                                std::move(options), &observer_);
  }

  // Registers a passkey for `user` with `a`; returns the finish status.
  absl::StatusOr<pb::FinishRegistrationResponse> Register(SoftAuthenticator& a,
                                                          const std::string& user,
                                                          absl::string_view fmt = "none",
                                                          const std::string& origin = kOrigin) {
    absl::StatusOr<pb::StartRegistrationResponse> started = StartReg(user);
    if (!started.ok()) return started.status();
    pb::FinishRegistrationRequest finish;
    finish.set_directory_id(kDir);
    finish.set_challenge_id(started->challenge_id());
    finish.set_registration_response_json(
        a.RegisterFromOptions(started->creation_options_json(), origin, fmt));
    finish.set_nickname("laptop");
    return manager_->FinishRegistration(UserCaller(user), finish);
  }

  absl::StatusOr<pb::StartRegistrationResponse> StartReg(const std::string& user) {
    return manager_->StartRegistration(UserCaller(user), RegistrationRequest(user));
  }

  absl::StatusOr<pb::StartAuthenticationResponse> StartAuth(const std::string& user) {
    pb::StartAuthenticationRequest start;
    start.set_directory_id(kDir);
    start.set_user_id(user);
    return manager_->StartAuthentication(Caller::Anonymous(), start);
  }

  absl::StatusOr<pb::FinishAuthenticationResponse> FinishAuth(const std::string& challenge_id,
                                                              const std::string& response) {
    pb::FinishAuthenticationRequest finish;
    finish.set_directory_id(kDir);
    finish.set_challenge_id(challenge_id);
    finish.set_authentication_response_json(response);
    return manager_->FinishAuthentication(Caller::Anonymous(), finish);
  }

  FakeClock clock_;
  CountingRandom random_;
  FakeStore store_;
  FakeChallenges challenges_{clock_};
  FakeLevels levels_;
  RecordingObserver observer_;
  std::unique_ptr<PasskeyManager> manager_;
};

TEST_F(PasskeyManagerTest, RegistersAndAuthenticates) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  absl::StatusOr<pb::FinishRegistrationResponse> reg = Register(a, "user_1", "packed");
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->passkey().user_id(), "user_1");
  EXPECT_EQ(reg->passkey().nickname(), "laptop");
  EXPECT_EQ(reg->passkey().aaguid(), "42424242-4242-4242-4242-424242424242");
  // The user handle is random bytes of ours, not the user id.
  EXPECT_EQ(a.user_handle().size(), 32u);
  EXPECT_EQ(a.user_handle().find("user_1"), std::string::npos);

  absl::StatusOr<pb::StartAuthenticationResponse> start = StartAuth("user_1");
  ASSERT_TRUE(start.ok()) << start.status();
  json options = json::parse(start->request_options_json());
  EXPECT_EQ(options["rpId"], "login.example.com");
  ASSERT_EQ(options["allowCredentials"].size(), 1u);
  EXPECT_EQ(options["allowCredentials"][0]["id"], reg->passkey().credential_id());
  const std::string response = a.AssertFromOptions(start->request_options_json(), kOrigin);
  absl::StatusOr<pb::FinishAuthenticationResponse> done =
      FinishAuth(start->challenge_id(), response);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->user_id(), "user_1");
  EXPECT_EQ(done->credential_id(), reg->passkey().credential_id());
  EXPECT_TRUE(done->user_verified());
  EXPECT_FALSE(done->backup_state());  // a device-bound key: "hwk" in the session
  EXPECT_EQ(store_.passkeys.begin()->second.sign_count, 1u);
  EXPECT_EQ(store_.passkeys.begin()->second.last_use_time, clock_.Now());

  // Replay: the challenge is gone.
  EXPECT_EQ(FinishAuth(start->challenge_id(), response).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(observer_.events,
            (std::vector<std::string>{"registration/success/", "authentication/success/",
                                      "authentication/failure/challenge"}));

  // The second registration excludes the first passkey.
  const pb::StartRegistrationRequest again = RegistrationRequest("user_1");
  absl::StatusOr<pb::StartRegistrationResponse> second =
      manager_->StartRegistration(UserCaller("user_1"), again);
  ASSERT_TRUE(second.ok());
  json creation = json::parse(second->creation_options_json());
  EXPECT_EQ(creation["excludeCredentials"][0]["id"], reg->passkey().credential_id());
  EXPECT_EQ(creation["user"]["id"], webauthn::testing::B64(a.user_handle()));
  EXPECT_EQ(creation["authenticatorSelection"]["residentKey"], "preferred");
}

TEST_F(PasskeyManagerTest, DiscoverableLoginFindsTheUser) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kEdDSA);
  ASSERT_TRUE(Register(a, "user_1").ok());
  absl::StatusOr<pb::StartAuthenticationResponse> start = StartAuth("");
  ASSERT_TRUE(start.ok());
  EXPECT_TRUE(json::parse(start->request_options_json())["allowCredentials"].empty());
  absl::StatusOr<pb::FinishAuthenticationResponse> done =
      FinishAuth(start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->user_id(), "user_1");

  // Without the user handle a discoverable login cannot name the user.
  start = StartAuth("");
  SoftAuthenticator::Ceremony c;
  c.rp_id = "login.example.com";
  c.origin = kOrigin;
  ASSERT_TRUE(Base64UrlDecode(
      json::parse(start->request_options_json())["challenge"].get<std::string>(), &c.challenge));
  EXPECT_EQ(FinishAuth(start->challenge_id(), a.Assert(c, /*include_user_handle=*/false))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(PasskeyManagerTest, OnlyTheUserAtTheRequiredLevelRegisters) {
  const pb::StartRegistrationRequest start = RegistrationRequest("user_1");
  EXPECT_EQ(manager_->StartRegistration(Caller::Anonymous(), start).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager_->StartRegistration(UserCaller("user_2"), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->StartRegistration(AdminCaller(), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->StartRegistration(Caller::Platform(), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->StartRegistration(UserCaller("user_1", "30", "dir_2"), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->StartRegistration(UserCaller("user_1", "20"), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->StartRegistration(UserCaller("user_1", ""), start).status().code(),
            absl::StatusCode::kPermissionDenied);
  levels_.status = absl::UnavailableError("policy down");
  EXPECT_EQ(manager_->StartRegistration(UserCaller("user_1"), start).status().code(),
            absl::StatusCode::kUnavailable);
  levels_.status = absl::OkStatus();
  levels_.level = 20;
  EXPECT_TRUE(manager_->StartRegistration(UserCaller("user_1", "20"), start).ok());
}

TEST_F(PasskeyManagerTest, AnotherUserCannotFinishARegistration) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  const pb::StartRegistrationRequest start = RegistrationRequest("user_1");
  auto started = manager_->StartRegistration(UserCaller("user_1"), start);
  ASSERT_TRUE(started.ok());
  pb::FinishRegistrationRequest finish;
  finish.set_directory_id(kDir);
  finish.set_challenge_id(started->challenge_id());
  finish.set_registration_response_json(
      a.RegisterFromOptions(started->creation_options_json(), kOrigin));
  EXPECT_EQ(manager_->FinishRegistration(UserCaller("user_2"), finish).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(store_.passkeys.empty());
}

TEST_F(PasskeyManagerTest, FailedVerificationStoresNothing) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kRS256);
  const pb::StartRegistrationRequest start = RegistrationRequest("user_1");
  auto started = manager_->StartRegistration(UserCaller("user_1"), start);
  ASSERT_TRUE(started.ok());
  pb::FinishRegistrationRequest finish;
  finish.set_directory_id(kDir);
  finish.set_challenge_id(started->challenge_id());
  finish.set_registration_response_json(
      a.RegisterFromOptions(started->creation_options_json(), "https://evil.example"));
  absl::StatusOr<pb::FinishRegistrationResponse> r =
      manager_->FinishRegistration(UserCaller("user_1"), finish);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("origin"), std::string::npos);
  EXPECT_TRUE(store_.passkeys.empty());
  EXPECT_EQ(observer_.events.back(), "registration/failure/origin");
  // Malformed JSON is INVALID_ARGUMENT (and the challenge is spent).
  started = manager_->StartRegistration(UserCaller("user_1"), start);
  finish.set_challenge_id(started->challenge_id());
  finish.set_registration_response_json("{not json");
  EXPECT_EQ(manager_->FinishRegistration(UserCaller("user_1"), finish).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_->FinishRegistration(UserCaller("user_1"), finish).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PasskeyManagerTest, ChallengesExpireAndAreBoundToTheirCeremony) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  ASSERT_TRUE(Register(a, "user_1").ok());
  auto start = StartAuth("user_1");
  ASSERT_TRUE(start.ok());
  const std::string response = a.AssertFromOptions(start->request_options_json(), kOrigin);
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(FinishAuth(start->challenge_id(), response).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A registration challenge does not finish an authentication.
  const pb::StartRegistrationRequest reg = RegistrationRequest("user_1");
  auto started = manager_->StartRegistration(UserCaller("user_1"), reg);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(FinishAuth(started->challenge_id(), response).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PasskeyManagerTest, WrongUserAndDeletedPasskeysAreRefused) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  SoftAuthenticator b(SoftAuthenticator::Alg::kES256);
  auto reg_a = Register(a, "user_a");
  ASSERT_TRUE(reg_a.ok());
  ASSERT_TRUE(Register(b, "user_b").ok());
  // A login for user_b answered with user_a's passkey.
  auto start = StartAuth("user_b");
  ASSERT_TRUE(start.ok());
  absl::StatusOr<pb::FinishAuthenticationResponse> r =
      FinishAuth(start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(observer_.events.back(), "authentication/failure/credential");

  // Deleted: only by the user or an admin.
  pb::DeletePasskeyRequest del;
  del.set_user_id("user_a");
  del.set_credential_id(reg_a->passkey().credential_id());
  EXPECT_EQ(manager_->DeletePasskey(UserCaller("user_b"), del).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_->DeletePasskey(Caller::Anonymous(), del).status().code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(manager_->DeletePasskey(AdminCaller(), del).ok());
  EXPECT_EQ(manager_->DeletePasskey(UserCaller("user_a"), del).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(StartAuth("user_a").status().code(), absl::StatusCode::kFailedPrecondition);
  start = StartAuth("");
  r = FinishAuth(start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);

  pb::ListPasskeysRequest list;
  list.set_user_id("user_b");
  auto listed = manager_->ListPasskeys(UserCaller("user_b"), list);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->passkeys_size(), 1);
  EXPECT_EQ(manager_->ListPasskeys(UserCaller("user_a"), list).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(PasskeyManagerTest, CounterRegressionIsRefusedAndCounted) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  ASSERT_TRUE(Register(a, "user_1").ok());
  auto start = StartAuth("user_1");
  ASSERT_TRUE(FinishAuth(start->challenge_id(),
                         a.AssertFromOptions(start->request_options_json(), kOrigin))
                  .ok());
  // A clone with an older counter.
  a.set_counter(0);
  start = StartAuth("user_1");
  absl::StatusOr<pb::FinishAuthenticationResponse> r =
      FinishAuth(start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(observer_.regressions, 1);
  EXPECT_EQ(store_.passkeys.begin()->second.sign_count, 1u);
}

TEST_F(PasskeyManagerTest, DirectoryOverrideChangesTheRelyingParty) {
  store_.overrides[kDir] = {"example.org", "Org", {"https://example.org"}, "required", false, {}};
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  const pb::StartRegistrationRequest start = RegistrationRequest("user_1");
  auto started = manager_->StartRegistration(UserCaller("user_1"), start);
  ASSERT_TRUE(started.ok());
  json options = json::parse(started->creation_options_json());
  EXPECT_EQ(options["rp"]["id"], "example.org");
  EXPECT_EQ(options["authenticatorSelection"]["userVerification"], "required");
  pb::FinishRegistrationRequest finish;
  finish.set_directory_id(kDir);
  finish.set_challenge_id(started->challenge_id());
  finish.set_registration_response_json(
      a.RegisterFromOptions(started->creation_options_json(), kOrigin));  // the default origin
  EXPECT_EQ(manager_->FinishRegistration(UserCaller("user_1"), finish).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(PasskeyManagerTest, UserVerificationIsRequiredByDefault) {
  PasskeyOptions options;
  options.default_rp.rp_id = "login.example.com";
  options.default_rp.rp_name = "Example";
  options.default_rp.origins = {kOrigin};
  Rebuild(options);
  // A security key without a PIN: presence only.
  SoftAuthenticator touch_only(SoftAuthenticator::Alg::kES256);
  touch_only.set_verifies_user(false);
  absl::StatusOr<pb::FinishRegistrationResponse> reg = Register(touch_only, "user_1");
  EXPECT_EQ(reg.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(observer_.events.back(), "registration/failure/user_verification");
  EXPECT_TRUE(store_.passkeys.empty());

  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  ASSERT_TRUE(Register(a, "user_1").ok());
  absl::StatusOr<pb::StartAuthenticationResponse> start = StartAuth("user_1");
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(json::parse(start->request_options_json())["userVerification"], "required");
  // The same key later used by someone who only touches it (a stolen key, no PIN).
  a.set_verifies_user(false);
  absl::StatusOr<pb::FinishAuthenticationResponse> done = FinishAuth(
      start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(observer_.events.back(), "authentication/failure/user_verification");
  a.set_verifies_user(true);
  start = StartAuth("user_1");
  done = FinishAuth(start->challenge_id(),
                    a.AssertFromOptions(start->request_options_json(), kOrigin));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->user_verified());

  absl::StatusOr<pb::StartRegistrationResponse> started = StartReg("user_1");
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(
      json::parse(started->creation_options_json())["authenticatorSelection"]["userVerification"],
      "required");
}

TEST_F(PasskeyManagerTest, UserVerifiedIsTheUvFlagOfTheVerifiedAssertion) {
  // Relaxed (--user_verification=preferred): a touch-only assertion passes, and says so, so
  // that the orchestrator can refuse it for PASSKEY.
  SoftAuthenticator a(SoftAuthenticator::Alg::kEdDSA);
  ASSERT_TRUE(Register(a, "user_1").ok());
  a.set_verifies_user(false);
  absl::StatusOr<pb::StartAuthenticationResponse> start = StartAuth("user_1");
  absl::StatusOr<pb::FinishAuthenticationResponse> done = FinishAuth(
      start->challenge_id(), a.AssertFromOptions(start->request_options_json(), kOrigin));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->user_verified());
  a.set_verifies_user(true);
  start = StartAuth("");
  done = FinishAuth(start->challenge_id(),
                    a.AssertFromOptions(start->request_options_json(), kOrigin));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->user_verified());
}

TEST_F(PasskeyManagerTest, RequiredAttestationCountsOnlyAttestedAllowedModels) {
  const webauthn::testing::AttestationCa vendor;
  const std::string model(16, '\x42');  // the software authenticator's AAGUID
  PasskeyOptions options;
  options.default_rp = {"login.example.com", "Example", {kOrigin}, "required", false, {}};
  options.trust_anchors = *webauthn::TrustAnchors::FromPem(vendor.RootPem());
  options.require_attestation = true;
  options.allowed_aaguids = {model};
  Rebuild(options);

  // Unattested: the AAGUID is the listed one, but nobody vouches for it.
  SoftAuthenticator self(SoftAuthenticator::Alg::kES256);
  for (const char* fmt : {"none", "packed"}) {
    absl::StatusOr<pb::FinishRegistrationResponse> reg = Register(self, "user_1", fmt);
    EXPECT_EQ(reg.status().code(), absl::StatusCode::kUnauthenticated) << fmt;
    EXPECT_EQ(observer_.events.back(), "registration/failure/attestation") << fmt;
  }
  SoftAuthenticator other_model(SoftAuthenticator::Alg::kES256);
  other_model.set_aaguid(std::string(16, '\x07'));
  other_model.set_attestation_key(vendor.Issue(std::string(16, '\x07')));
  EXPECT_EQ(Register(other_model, "user_1", "packed").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(observer_.events.back(), "registration/failure/aaguid");
  EXPECT_TRUE(store_.passkeys.empty());

  SoftAuthenticator attested(SoftAuthenticator::Alg::kES256);
  attested.set_attestation_key(vendor.Issue(model));
  absl::StatusOr<pb::StartRegistrationResponse> started = StartReg("user_1");
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(json::parse(started->creation_options_json())["attestation"], "direct");
  absl::StatusOr<pb::FinishRegistrationResponse> reg = Register(attested, "user_1", "packed");
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->passkey().aaguid(), "42424242-4242-4242-4242-424242424242");
  EXPECT_EQ(store_.passkeys.begin()->second.attestation_type, "basic");
}

TEST_F(PasskeyManagerTest, DirectoryOriginsAreNormalisedAndABadOneIsAnOperatorError) {
  store_.overrides[kDir] = {
      "example.org", "Org", {"https://Example.org/", "https://example.org:443"},
      "required",    false, {}};
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  absl::StatusOr<pb::FinishRegistrationResponse> reg =
      Register(a, "user_1", "none", "https://example.org");
  ASSERT_TRUE(reg.ok()) << reg.status();

  // Not an origin: neither "no passkey" nor a failed factor, which the orchestrator would count.
  store_.overrides[kDir].origins = {"https://example.org/login"};
  absl::StatusOr<pb::StartAuthenticationResponse> auth = StartAuth("user_1");
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(auth.status().message()), HasSubstr("relying_parties row"));
  store_.overrides[kDir].origins = {"https://example.org"};
  store_.overrides[kDir].top_origins = {"portal.example.net"};
  EXPECT_EQ(StartAuth("user_1").status().code(), absl::StatusCode::kInternal);
}

TEST_F(PasskeyManagerTest, RelyingPartyIsCachedForItsTtlOnly) {
  PasskeyOptions options;
  options.default_rp = {"login.example.com", "Example", {kOrigin}, "preferred", false, {}};
  options.rp_cache_ttl = absl::Seconds(2);
  PasskeyManager manager(store_, challenges_, levels_, clock_, random_, options, &observer_);
  auto rp_id = [&](absl::string_view dir) -> std::string {
    pb::StartAuthenticationRequest start;
    start.set_directory_id(std::string(dir));
    absl::StatusOr<pb::StartAuthenticationResponse> started =
        manager.StartAuthentication(Caller::Anonymous(), start);
    if (!started.ok()) return std::string(started.status().ToString());
    return json::parse(started->request_options_json())["rpId"].get<std::string>();
  };
  EXPECT_EQ(rp_id(kDir), "login.example.com");
  EXPECT_EQ(store_.rp_reads, 1);
  // An operator adds an override: ceremonies keep the cached answer until the TTL ends.
  store_.overrides[kDir] = {"example.org", "Org", {"https://example.org"}, "required", false, {}};
  clock_.Advance(absl::Milliseconds(1999));
  EXPECT_EQ(rp_id(kDir), "login.example.com");
  EXPECT_EQ(store_.rp_reads, 1);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(rp_id(kDir), "example.org");
  EXPECT_EQ(store_.rp_reads, 2);
  // Each directory has its own entry.
  EXPECT_EQ(rp_id("dir_other"), "login.example.com");
  EXPECT_EQ(store_.rp_reads, 3);
  // A failed read is not cached: the next ceremony reads again.
  clock_.Advance(absl::Seconds(2));
  store_.rp_down = absl::UnavailableError("postgres unavailable");
  EXPECT_THAT(rp_id(kDir), HasSubstr("UNAVAILABLE"));
  store_.rp_down = absl::OkStatus();
  EXPECT_EQ(rp_id(kDir), "example.org");
  EXPECT_EQ(store_.rp_reads, 5);
}

TEST_F(PasskeyManagerTest, WithoutACacheTheRelyingPartyIsReadAtEveryCeremony) {
  EXPECT_TRUE(StartAuth("").ok());
  EXPECT_TRUE(StartAuth("").ok());
  EXPECT_EQ(store_.rp_reads, 2);
}

TEST_F(PasskeyManagerTest, RefusesMalformedRequests) {
  pb::StartAuthenticationRequest start;
  EXPECT_EQ(manager_->StartAuthentication(Caller::Anonymous(), start).status().code(),
            absl::StatusCode::kInvalidArgument);
  start.set_directory_id("bad id!");
  EXPECT_EQ(manager_->StartAuthentication(Caller::Anonymous(), start).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::DeletePasskeyRequest del;
  del.set_user_id("user_1");
  del.set_credential_id("not base64url!");
  EXPECT_EQ(manager_->DeletePasskey(UserCaller("user_1"), del).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FinishAuth("wa_x", "").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::passkey
