// Hostile session tokens (issue 9, "Hostile input"): expired, not yet valid, wrong or missing
// kid, alg "none", HS256 keyed with the public key, a known kid on an unknown Ed25519 key, a
// tampered payload, another issuer, garbage, a revoked session and another directory's admin.
// Each is presented to every RPC of every service that authenticates bearer tokens (policy,
// credential, otp, passkey) and to the orchestrator's RPCs that take a token in the request
// (ValidateSession, StartStepUp, RevokeSession), against the whole cluster as real processes.
// Every refusal must be UNAUTHENTICATED (PERMISSION_DENIED for a valid token of another
// directory), must not echo the token, and must change nothing: settings, audit trail,
// directories, users, passwords, passkeys, codes issued and checked, live sessions.
// Forged tokens are signed here with OpenSSL: the cluster's own signing key where the claims or
// header are the attack, a fresh key where the key is.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/auth/jwt.h"
#include "common/testing/test_support.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/soft_authenticator.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/otp/v1/otp.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using Json = nlohmann::json;
using testing::Cluster;
using testing::ClusterOptions;
using testing::NewContext;
using webauthn::testing::SoftAuthenticator;
using ::testing::HasSubstr;

constexpr const char* kPassword = testing::kClusterPassword;
constexpr const char* kOrigin = testing::kClusterOrigin;

std::string B64(const std::string& bytes) { return Base64UrlEncode(bytes); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string HmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// "<b64 header>.<b64 payload>.<b64 Ed25519 signature by key>".
std::string SignEd25519(const Json& header, const Json& payload, const Ed25519PrivateKey& key) {
  const std::string input = absl::StrCat(B64(header.dump()), ".", B64(payload.dump()));
  absl::StatusOr<std::string> signature = key.Sign(input);
  EXPECT_TRUE(signature.ok()) << signature.status();
  return absl::StrCat(input, ".", B64(signature.value_or("")));
}

struct Attack {
  std::string name;
  std::string token;
};

// One RPC that authenticates callers, called with `token` as the bearer token (or in the
// request, for the orchestrator).
struct Rpc {
  std::string name;
  std::function<grpc::Status(const std::string& token)> call;
  // Refused with PERMISSION_DENIED for a valid admin token of another directory (the call acts
  // on the victim directory or needs the platform key).
  bool directory_scoped = false;
};

class TokenAttacksTest : public testing::ClusterTest<TokenAttacksTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.metrics = true;
    return options;
  }

 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ClusterTest::SetUp());
    Cluster& c = cluster();
    kid_ = c.keys().signer().kid();
    public_key_ = c.keys().signer().PublicKey();
    const std::string pem = ReadFile(c.keys().signing_key_path());
    absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(pem);
    ASSERT_TRUE(key.ok()) << key.status();
    key_.emplace(*std::move(key));

    dir_ = c.CreateDirectory();
    other_dir_ = c.CreateDirectory();
    root_ = c.CreateUser(dir_, "root", {"admin"});
    alice_ = c.CreateUser(dir_, "alice");
    const Cluster::User other_admin = c.CreateUser(other_dir_, "boss", {"admin"});
    root_token_ = Login(dir_, root_);
    alice_token_ = Login(dir_, alice_);
    other_admin_token_ = Login(other_dir_, other_admin);
    ASSERT_FALSE(root_token_.empty());
    ASSERT_FALSE(alice_token_.empty());
    ASSERT_FALSE(other_admin_token_.empty());
    opb::ValidateSessionResponse root_session;
    ASSERT_TRUE(Validate(root_token_, &root_session).ok());
    root_sid_ = root_session.session_id();

    // Alice registers a passkey, so that DeletePasskey has something to delete.
    absl::StatusOr<pkpb::Passkey> passkey =
        testing::RegisterPasskey(c, dir_, alice_, alice_token_, authenticator_);
    ASSERT_TRUE(passkey.ok()) << passkey.status();
    alice_passkey_ = passkey->credential_id();
  }

  // Password + SMS: the directory's level (30), so the session may register passkeys.
  std::string Login(const std::string& dir, const Cluster::User& user) {
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir, user);
    return token.value_or("");
  }

  grpc::Status Validate(const std::string& token, opb::ValidateSessionResponse* out = nullptr) {
    return testing::ValidateSession(cluster().sessions(), token, out);
  }

  // The claims of root's live session, as JSON, times relative to now.
  Json RootClaims() const {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return Json{{"iss", "tally"},
                {"sub", root_.id},
                {"dir", dir_},
                {"sid", root_sid_},
                {"acr", "30"},
                {"amr", {"pwd", "sms", "mfa"}},
                {"roles", {"admin"}},
                {"iat", now},
                {"exp", now + 3600},
                {"auth_time", now}};
  }
  Json Header() const { return Json{{"alg", "EdDSA"}, {"kid", kid_}, {"typ", "JWT"}}; }

  // Forged tokens that claim root's admin session. Each would be accepted if the check it
  // attacks were missing.
  std::vector<Attack> ForgedTokens() {
    std::vector<Attack> attacks;
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    // The well-formed control: the cluster's key, root's claims. Must be accepted (checked in
    // the test), so every attack below differs from an accepted token in its one flaw only.
    Json claims = RootClaims();
    Json expired = claims;
    expired["iat"] = now - 7200;
    expired["auth_time"] = now - 7200;
    expired["exp"] = now - 3600;
    attacks.push_back({"expired", SignEd25519(Header(), expired, *key_)});
    Json future = claims;
    future["iat"] = now + 3600;
    future["exp"] = now + 7200;
    attacks.push_back({"iat in the future", SignEd25519(Header(), future, *key_)});
    Json nbf = claims;
    nbf["nbf"] = now + 3600;
    attacks.push_back({"nbf in the future", SignEd25519(Header(), nbf, *key_)});
    Json unknown_kid = Header();
    unknown_kid["kid"] = "not-a-published-kid";
    attacks.push_back({"unknown kid", SignEd25519(unknown_kid, claims, *key_)});
    Json no_kid = Header();
    no_kid.erase("kid");
    attacks.push_back({"no kid", SignEd25519(no_kid, claims, *key_)});
    attacks.push_back({"wrong issuer", [&] {
                         Json c = claims;
                         c["iss"] = "evil";
                         return SignEd25519(Header(), c, *key_);
                       }()});

    const std::string none_input =
        absl::StrCat(B64(Json{{"alg", "none"}, {"kid", kid_}, {"typ", "JWT"}}.dump()), ".",
                     B64(claims.dump()));
    attacks.push_back({"alg none, no signature", absl::StrCat(none_input, ".")});
    const std::vector<std::string> root_parts = absl::StrSplit(root_token_, '.');
    EXPECT_EQ(root_parts.size(), 3u);
    attacks.push_back({"alg none, with the signature of a valid token",
                       absl::StrCat(none_input, ".", root_parts.back())});
    Json none_lower = Json{{"alg", "None"}, {"kid", kid_}};
    attacks.push_back({"alg None", absl::StrCat(B64(none_lower.dump()), ".", B64(claims.dump()),
                                                ".")});

    // HS256 with the public key as the HMAC secret, in each form an attacker finds it.
    const Json hs_header = {{"alg", "HS256"}, {"kid", kid_}, {"typ", "JWT"}};
    const std::string hs_input = absl::StrCat(B64(hs_header.dump()), ".", B64(claims.dump()));
    const std::string jwks = ReadFile(cluster().keys().jwks_path());
    for (const auto& [form, secret] :
         std::vector<std::pair<std::string, std::string>>{{"PEM", public_key_->ToPem()},
                                                          {"raw", public_key_->Raw()},
                                                          {"JWK x", B64(public_key_->Raw())},
                                                          {"JWKS", jwks}}) {
      attacks.push_back({absl::StrCat("HS256 keyed with the public key (", form, ")"),
                         absl::StrCat(hs_input, ".", B64(HmacSha256(secret, hs_input)))});
    }

    // A key of our own under the cluster's kid.
    absl::StatusOr<Ed25519PrivateKey> stranger = Ed25519PrivateKey::Generate();
    EXPECT_TRUE(stranger.ok());
    attacks.push_back({"unknown Ed25519 key under the known kid",
                       SignEd25519(Header(), claims, *stranger)});

    // Alice's real token with "admin" added to its roles; header and signature untouched.
    std::vector<std::string> parts = absl::StrSplit(alice_token_, '.');
    EXPECT_EQ(parts.size(), 3u);
    std::string payload;
    EXPECT_TRUE(Base64UrlDecode(parts[1], &payload));
    Json tampered = Json::parse(payload);
    tampered["roles"] = {"admin"};
    attacks.push_back({"tampered payload (user made admin)",
                       absl::StrCat(parts[0], ".", B64(tampered.dump()), ".", parts[2])});
    Json retargeted = Json::parse(payload);
    retargeted["sid"] = root_sid_;
    attacks.push_back({"tampered payload (another session id)",
                       absl::StrCat(parts[0], ".", B64(retargeted.dump()), ".", parts[2])});

    attacks.push_back({"not a JWT", "not-a-jwt"});
    attacks.push_back({"empty parts", ".."});
    return attacks;
  }

  std::vector<Rpc> Rpcs() {
    Cluster& c = cluster();
    std::vector<Rpc> rpcs;
    auto ctx = [](const std::string& token) { return NewContext(token); };
    // policy
    rpcs.push_back({"DirectoryService.CreateDirectory", [&c, ctx](const std::string& t) {
                      polpb::CreateDirectoryRequest r;
                      r.set_display_name("forged");
                      r.set_tier(polpb::TIER_ENTERPRISE);
                      polpb::CreateDirectoryResponse out;
                      return c.directories().CreateDirectory(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"DirectoryService.GetDirectory", [&c, ctx, this](const std::string& t) {
                      polpb::GetDirectoryRequest r;
                      r.set_directory_id(dir_);
                      polpb::GetDirectoryResponse out;
                      return c.directories().GetDirectory(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"DirectoryService.ListDirectories", [&c, ctx](const std::string& t) {
                      polpb::ListDirectoriesRequest r;
                      polpb::ListDirectoriesResponse out;
                      return c.directories().ListDirectories(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"PolicyService.GetAuthSettings", [&c, ctx, this](const std::string& t) {
                      polpb::GetAuthSettingsRequest r;
                      r.set_directory_id(dir_);
                      polpb::GetAuthSettingsResponse out;
                      return c.policies().GetAuthSettings(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"PolicyService.UpdateAuthSettings", [&c, ctx, this](const std::string& t) {
                      polpb::UpdateAuthSettingsRequest r;
                      *r.mutable_settings() = settings_;
                      r.mutable_settings()->set_required_level(10);
                      polpb::UpdateAuthSettingsResponse out;
                      return c.policies().UpdateAuthSettings(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"PolicyService.Evaluate", [&c, ctx, this](const std::string& t) {
                      polpb::EvaluateRequest r;
                      r.set_directory_id(dir_);
                      r.add_completed_methods(cpb::AUTH_METHOD_PASSWORD);
                      polpb::EvaluateResponse out;
                      return c.policies().Evaluate(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"PolicyService.ListAuditEvents", [&c, ctx, this](const std::string& t) {
                      polpb::ListAuditEventsRequest r;
                      r.set_directory_id(dir_);
                      polpb::ListAuditEventsResponse out;
                      return c.policies().ListAuditEvents(ctx(t).get(), r, &out);
                    }, true});
    // credential
    rpcs.push_back({"CredentialService.CreateUser", [&c, ctx, this](const std::string& t) {
                      credpb::CreateUserRequest r;
                      r.set_directory_id(dir_);
                      r.set_username("mallory");
                      r.set_password("mallory's long password");
                      r.add_roles("admin");
                      credpb::CreateUserResponse out;
                      return c.users().CreateUser(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.GetUser", [&c, ctx, this](const std::string& t) {
                      credpb::GetUserRequest r;
                      r.set_user_id(alice_.id);
                      credpb::GetUserResponse out;
                      return c.users().GetUser(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"CredentialService.FindUser", [&c, ctx, this](const std::string& t) {
                      credpb::FindUserRequest r;
                      r.set_directory_id(dir_);
                      r.set_username(alice_.username);
                      credpb::FindUserResponse out;
                      return c.users().FindUser(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"CredentialService.ListUsers", [&c, ctx, this](const std::string& t) {
                      credpb::ListUsersRequest r;
                      r.set_directory_id(dir_);
                      credpb::ListUsersResponse out;
                      return c.users().ListUsers(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.UpdateContact", [&c, ctx, this](const std::string& t) {
                      credpb::UpdateContactRequest r;
                      r.set_user_id(alice_.id);
                      r.set_email("attacker@evil.example");
                      r.set_phone_number("+15550000000");
                      credpb::UpdateContactResponse out;
                      return c.users().UpdateContact(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.SetPassword", [&c, ctx, this](const std::string& t) {
                      credpb::SetPasswordRequest r;
                      r.set_user_id(alice_.id);
                      r.set_new_password("attacker's chosen password");
                      credpb::SetPasswordResponse out;
                      return c.users().SetPassword(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.SetRoles", [&c, ctx, this](const std::string& t) {
                      credpb::SetRolesRequest r;
                      r.set_user_id(alice_.id);
                      r.add_roles("admin");
                      credpb::SetRolesResponse out;
                      return c.users().SetRoles(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.DeleteUser", [&c, ctx, this](const std::string& t) {
                      credpb::DeleteUserRequest r;
                      r.set_user_id(alice_.id);
                      credpb::DeleteUserResponse out;
                      return c.users().DeleteUser(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"CredentialService.VerifyPassword", [&c, ctx, this](const std::string& t) {
                      credpb::VerifyPasswordRequest r;
                      r.set_directory_id(dir_);
                      r.set_username(alice_.username);
                      r.set_password(kPassword);
                      credpb::VerifyPasswordResponse out;
                      return c.users().VerifyPassword(ctx(t).get(), r, &out);
                    }});
    // otp
    rpcs.push_back({"OtpService.SendCode", [&c, ctx, this](const std::string& t) {
                      otppb::SendCodeRequest r;
                      r.set_directory_id(dir_);
                      r.set_user_id(alice_.id);
                      r.set_channel(otppb::CHANNEL_SMS);
                      r.set_destination(attack_phone_);
                      otppb::SendCodeResponse out;
                      return c.otps().SendCode(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"OtpService.VerifyCode", [&c, ctx, this](const std::string& t) {
                      otppb::VerifyCodeRequest r;
                      r.set_directory_id(dir_);
                      r.set_challenge_id("otp_0000000000000000");
                      r.set_code("000000");
                      otppb::VerifyCodeResponse out;
                      return c.otps().VerifyCode(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"OtpService.ListDeadLetters", [&c, ctx](const std::string& t) {
                      otppb::ListDeadLettersRequest r;
                      otppb::ListDeadLettersResponse out;
                      return c.otps().ListDeadLetters(ctx(t).get(), r, &out);
                    }, true});
    // passkey
    rpcs.push_back({"PasskeyService.StartRegistration", [&c, ctx, this](const std::string& t) {
                      pkpb::StartRegistrationRequest r;
                      r.set_directory_id(dir_);
                      r.set_user_id(alice_.id);
                      r.set_username(alice_.username);
                      r.set_display_name("attacker's key");
                      pkpb::StartRegistrationResponse out;
                      return c.passkeys().StartRegistration(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"PasskeyService.FinishRegistration", [&c, ctx, this](const std::string& t) {
                      pkpb::FinishRegistrationRequest r;
                      r.set_directory_id(dir_);
                      r.set_challenge_id("wa_0000000000000000");
                      r.set_registration_response_json("{}");
                      pkpb::FinishRegistrationResponse out;
                      return c.passkeys().FinishRegistration(ctx(t).get(), r, &out);
                    }, true});
    rpcs.push_back({"PasskeyService.StartAuthentication", [&c, ctx, this](const std::string& t) {
                      pkpb::StartAuthenticationRequest r;
                      r.set_directory_id(dir_);
                      r.set_user_id(alice_.id);
                      pkpb::StartAuthenticationResponse out;
                      return c.passkeys().StartAuthentication(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"PasskeyService.FinishAuthentication", [&c, ctx, this](const std::string& t) {
                      pkpb::FinishAuthenticationRequest r;
                      r.set_directory_id(dir_);
                      r.set_challenge_id("wa_0000000000000000");
                      r.set_authentication_response_json("{}");
                      pkpb::FinishAuthenticationResponse out;
                      return c.passkeys().FinishAuthentication(ctx(t).get(), r, &out);
                    }});
    // ListPasskeys and DeletePasskey name no directory: the token's directory scopes them, so
    // another directory's admin sees and deletes nothing (checked separately).
    rpcs.push_back({"PasskeyService.ListPasskeys", [&c, ctx, this](const std::string& t) {
                      pkpb::ListPasskeysRequest r;
                      r.set_user_id(alice_.id);
                      pkpb::ListPasskeysResponse out;
                      return c.passkeys().ListPasskeys(ctx(t).get(), r, &out);
                    }});
    rpcs.push_back({"PasskeyService.DeletePasskey", [&c, ctx, this](const std::string& t) {
                      pkpb::DeletePasskeyRequest r;
                      r.set_user_id(alice_.id);
                      r.set_credential_id(alice_passkey_);
                      pkpb::DeletePasskeyResponse out;
                      return c.passkeys().DeletePasskey(ctx(t).get(), r, &out);
                    }});
    // orchestrator: the token travels in the request.
    rpcs.push_back({"SessionService.ValidateSession", [this](const std::string& t) {
                      return Validate(t);
                    }});
    rpcs.push_back({"LoginService.StartStepUp", [&c](const std::string& t) {
                      opb::StartStepUpRequest r;
                      r.set_session_token(t);
                      r.set_required_level(30);
                      r.set_max_age_seconds(3600);
                      opb::StartStepUpResponse out;
                      return c.logins().StartStepUp(NewContext().get(), r, &out);
                    }});
    rpcs.push_back({"SessionService.RevokeSession", [&c](const std::string& t) {
                      opb::RevokeSessionRequest r;
                      r.set_token(t);
                      opb::RevokeSessionResponse out;
                      return c.sessions().RevokeSession(NewContext().get(), r, &out);
                    }});
    return rpcs;
  }

  // What an accepted attack could have changed.
  struct State {
    std::string settings;      // serialized AuthSettings (etag included)
    int audit_events = 0;
    int directories = 0;
    std::string alice;         // serialized User
    bool mallory_exists = false;
    int users = 0;
    std::vector<std::string> alice_passkeys;
    bool root_session_valid = false;
    bool alice_password_works = false;
  };

  State Snapshot() {
    Cluster& c = cluster();
    const std::string& key = c.platform_key();
    State state;
    polpb::GetAuthSettingsRequest get;
    get.set_directory_id(dir_);
    polpb::GetAuthSettingsResponse settings;
    EXPECT_TRUE(c.policies().GetAuthSettings(NewContext().get(), get, &settings).ok());
    state.settings = settings.settings().SerializeAsString();
    settings_ = settings.settings();
    polpb::ListAuditEventsRequest audit;
    audit.set_directory_id(dir_);
    audit.set_page_size(1000);
    polpb::ListAuditEventsResponse events;
    EXPECT_TRUE(c.policies().ListAuditEvents(NewContext("", key).get(), audit, &events).ok());
    state.audit_events = events.events_size();
    polpb::ListDirectoriesRequest list;
    list.set_page_size(1000);
    polpb::ListDirectoriesResponse directories;
    EXPECT_TRUE(c.directories().ListDirectories(NewContext("", key).get(), list, &directories).ok());
    state.directories = directories.directories_size();
    credpb::GetUserRequest alice;
    alice.set_user_id(alice_.id);
    credpb::GetUserResponse user;
    EXPECT_TRUE(c.users().GetUser(NewContext().get(), alice, &user).ok());
    state.alice = user.user().SerializeAsString();
    credpb::FindUserRequest mallory;
    mallory.set_directory_id(dir_);
    mallory.set_username("mallory");
    credpb::FindUserResponse found;
    state.mallory_exists = c.users().FindUser(NewContext().get(), mallory, &found).ok();
    credpb::ListUsersRequest users;
    users.set_directory_id(dir_);
    credpb::ListUsersResponse listed;
    EXPECT_TRUE(c.users().ListUsers(NewContext(root_live_token_).get(), users, &listed).ok());
    state.users = listed.users_size();
    pkpb::ListPasskeysRequest passkeys;
    passkeys.set_user_id(alice_.id);
    pkpb::ListPasskeysResponse keys;
    EXPECT_TRUE(c.passkeys().ListPasskeys(NewContext(alice_token_).get(), passkeys, &keys).ok());
    for (const pkpb::Passkey& p : keys.passkeys()) state.alice_passkeys.push_back(p.credential_id());
    state.root_session_valid = Validate(root_live_token_).ok();
    credpb::VerifyPasswordRequest verify;
    verify.set_directory_id(dir_);
    verify.set_username(alice_.username);
    verify.set_password(kPassword);
    credpb::VerifyPasswordResponse verified;
    state.alice_password_works =
        c.users().VerifyPassword(NewContext().get(), verify, &verified).ok();
    return state;
  }

  void ExpectSameState(const State& before, const State& after) {
    EXPECT_EQ(after.settings, before.settings) << "the directory's settings changed";
    EXPECT_EQ(after.audit_events, before.audit_events) << "the audit trail changed";
    EXPECT_EQ(after.directories, before.directories) << "a directory was created";
    EXPECT_EQ(after.alice, before.alice) << "alice's user record changed";
    EXPECT_FALSE(after.mallory_exists) << "a user was created";
    EXPECT_EQ(after.users, before.users);
    EXPECT_EQ(after.alice_passkeys, before.alice_passkeys) << "alice's passkeys changed";
    EXPECT_EQ(after.alice_passkeys.size(), 1u);
    EXPECT_TRUE(after.root_session_valid) << "root's live session was revoked";
    EXPECT_TRUE(after.alice_password_works) << "alice's password changed";
  }

  // Counters that move only when a call got past authentication and did something.
  std::map<std::string, double> WorkCounters() {
    Cluster& c = cluster();
    std::map<std::string, double> counters;
    struct Counter {
      std::string service, family, label;
    };
    // Refused ceremonies are counted as failures (reason "permission"): only successes are work.
    const std::vector<Counter> families = {
        {"otp", "tally_otp_codes_issued_total", ""},
        {"otp", "tally_otp_codes_verified_total", ""},
        {"credential", "tally_password_checks_total", ""},
        {"passkey", "tally_passkey_ceremonies_total", "result=\"success\""},
        {"orchestrator-a", "tally_orchestrator_logins_total", ""},
        {"orchestrator-b", "tally_orchestrator_logins_total", ""},
    };
    for (const Counter& counter : families) {
      absl::StatusOr<std::string> text =
          testing::HttpGet(c.service(counter.service).metrics_port(), "/metrics");
      EXPECT_TRUE(text.ok()) << counter.service << ": " << text.status();
      counters[absl::StrCat(counter.service, " ", counter.family, counter.label)] =
          testing::MetricSum(text.value_or(""), counter.family,
                             counter.label.empty() ? std::vector<std::string>{}
                                                   : std::vector<std::string>{counter.label});
    }
    return counters;
  }

  // Every RPC with `token`; each must answer `code` (a refused call changes nothing).
  void ExpectRefused(const Attack& attack, const std::vector<Rpc>& rpcs,
                     const std::function<grpc::StatusCode(const Rpc&)>& expected) {
    for (const Rpc& rpc : rpcs) {
      const grpc::Status s = rpc.call(attack.token);
      const grpc::StatusCode want = expected(rpc);
      EXPECT_EQ(s.error_code(), want)
          << attack.name << " → " << rpc.name << ": " << s.error_code() << " "
          << s.error_message();
      if (attack.token.size() > 40) {
        // No part of the token comes back (the signature is the last 86 characters).
        EXPECT_EQ(s.error_message().find(attack.token.substr(attack.token.size() - 30)),
                  std::string::npos)
            << attack.name << " → " << rpc.name << " echoes the token";
      }
    }
  }

  std::string kid_;
  std::optional<Ed25519PublicKey> public_key_;
  std::optional<Ed25519PrivateKey> key_;
  std::string dir_, other_dir_;
  Cluster::User root_, alice_;
  std::string root_token_, alice_token_, other_admin_token_, root_sid_;
  // A second session of root's, for the snapshots (root_token_ may get revoked).
  std::string root_live_token_;
  std::string alice_passkey_;
  polpb::AuthSettings settings_;
  // Where SendCode would send a code if a forged token got through (none ever does).
  std::string attack_phone_ = "+31612300099";
  SoftAuthenticator authenticator_{SoftAuthenticator::Alg::kES256};
};

TEST_F(TokenAttacksTest, ForgedTokensAreUnauthenticatedEverywhereAndChangeNothing) {
  root_live_token_ = root_token_;
  const std::vector<Rpc> rpcs = Rpcs();
  const State before = Snapshot();

  // The control: root's claims signed with the cluster's key are accepted, so each attack
  // below fails for its one flaw only.
  const std::string control = SignEd25519(Header(), RootClaims(), *key_);
  EXPECT_TRUE(Validate(control).ok());
  polpb::GetAuthSettingsRequest get;
  get.set_directory_id(dir_);
  polpb::GetAuthSettingsResponse got;
  EXPECT_TRUE(cluster().policies().GetAuthSettings(NewContext(control).get(), get, &got).ok());
  credpb::ListUsersRequest list;
  list.set_directory_id(dir_);
  credpb::ListUsersResponse listed;
  EXPECT_TRUE(cluster().users().ListUsers(NewContext(control).get(), list, &listed).ok());

  const std::map<std::string, double> counters = WorkCounters();
  const std::vector<Attack> attacks = ForgedTokens();
  ASSERT_GE(attacks.size(), 15u);
  for (const Attack& attack : attacks) {
    ExpectRefused(attack, rpcs, [](const Rpc&) { return grpc::StatusCode::UNAUTHENTICATED; });
  }
  EXPECT_EQ(WorkCounters(), counters) << "a refused call did work";
  ExpectSameState(before, Snapshot());
}

TEST_F(TokenAttacksTest, AnotherDirectorysAdminIsPermissionDenied) {
  root_live_token_ = root_token_;
  const std::vector<Rpc> rpcs = Rpcs();
  const State before = Snapshot();
  const std::map<std::string, double> counters = WorkCounters();
  std::vector<Rpc> scoped;
  for (const Rpc& rpc : rpcs) {
    if (rpc.directory_scoped) scoped.push_back(rpc);
  }
  ASSERT_EQ(scoped.size(), 15u);
  ExpectRefused({"another directory's admin", other_admin_token_}, scoped,
                [](const Rpc&) { return grpc::StatusCode::PERMISSION_DENIED; });

  // Passkeys are scoped by the token's own directory: alice's are not visible or deletable.
  pkpb::ListPasskeysRequest list;
  list.set_user_id(alice_.id);
  pkpb::ListPasskeysResponse listed;
  grpc::Status s =
      cluster().passkeys().ListPasskeys(NewContext(other_admin_token_).get(), list, &listed);
  EXPECT_TRUE(s.ok() ? listed.passkeys_size() == 0
                     : s.error_code() == grpc::StatusCode::PERMISSION_DENIED)
      << s.error_code() << " " << s.error_message() << " " << listed.ShortDebugString();
  pkpb::DeletePasskeyRequest del;
  del.set_user_id(alice_.id);
  del.set_credential_id(alice_passkey_);
  pkpb::DeletePasskeyResponse deleted;
  s = cluster().passkeys().DeletePasskey(NewContext(other_admin_token_).get(), del, &deleted);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
              s.error_code() == grpc::StatusCode::PERMISSION_DENIED)
      << s.error_code() << " " << s.error_message();

  EXPECT_EQ(WorkCounters(), counters) << "a refused call did work";
  ExpectSameState(before, Snapshot());
}

// GetAuthSettings is for the directory's admins (API.md): a plain user's valid token reads no
// directory's settings, its own included, and another directory's admin gets the same answer
// for a directory that does not exist as for the victim's (no existence oracle).
TEST_F(TokenAttacksTest, SettingsAreForTheDirectorysOwnAdminsOnly) {
  auto read = [this](const std::string& token, const std::string& dir) {
    polpb::GetAuthSettingsRequest r;
    r.set_directory_id(dir);
    polpb::GetAuthSettingsResponse out;
    grpc::Status s = cluster().policies().GetAuthSettings(NewContext(token).get(), r, &out);
    EXPECT_TRUE(s.ok() || out.ByteSizeLong() == 0) << "a refused call answered settings";
    return s;
  };
  EXPECT_TRUE(read(root_token_, dir_).ok());
  for (const std::string& dir : {dir_, other_dir_}) {
    EXPECT_EQ(read(alice_token_, dir).error_code(), grpc::StatusCode::PERMISSION_DENIED) << dir;
  }
  const grpc::Status victims = read(other_admin_token_, dir_);
  const grpc::Status unknown = read(other_admin_token_, "dir_nosuchdirectory");
  EXPECT_EQ(victims.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(unknown.error_code(), victims.error_code());
  EXPECT_EQ(unknown.error_message(), victims.error_message());
}

TEST_F(TokenAttacksTest, RevokedTokenIsRefusedEverywhere) {
  // A second session of root's stays live for the snapshots.
  root_live_token_ = Login(dir_, root_);
  ASSERT_FALSE(root_live_token_.empty());
  // Before revocation the token works on every service that takes tokens.
  polpb::ListAuditEventsRequest audit;
  audit.set_directory_id(dir_);
  polpb::ListAuditEventsResponse events;
  ASSERT_TRUE(
      cluster().policies().ListAuditEvents(NewContext(root_token_).get(), audit, &events).ok());

  opb::RevokeSessionRequest revoke;
  revoke.set_token(root_token_);
  opb::RevokeSessionResponse revoked;
  grpc::Status s = cluster().sessions().RevokeSession(NewContext().get(), revoke, &revoked);
  ASSERT_TRUE(s.ok()) << s.error_message();

  std::vector<Rpc> rpcs = Rpcs();
  const State before = Snapshot();
  const std::map<std::string, double> counters = WorkCounters();
  // RevokeSession of an already revoked session is accepted (revoking twice is harmless and
  // changes nothing); every other RPC refuses the token.
  ExpectRefused({"revoked", root_token_}, rpcs, [](const Rpc& rpc) {
    return rpc.name == "SessionService.RevokeSession" ? grpc::StatusCode::OK
                                                      : grpc::StatusCode::UNAUTHENTICATED;
  });
  EXPECT_EQ(WorkCounters(), counters) << "a refused call did work";
  ExpectSameState(before, Snapshot());  // root's other session included
  EXPECT_EQ(Validate(root_token_).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(
      cluster().policies().ListAuditEvents(NewContext(root_live_token_).get(), audit, &events).ok());
}

// Policy and credential keep nothing else in Redis; this is their revocation check failing
// closed on a real binary: with Redis unreachable a valid token gets UNAVAILABLE, while the
// platform key (no Redis needed) still works and the service stays SERVING.
TEST_F(TokenAttacksTest, RevocationStoreUnreachableFailsClosed) {
  testing::ServiceProcess policy(testing::ServiceOptions{
      .binary = "tally-policy",
      .flags = {absl::StrCat("--postgres_schema=policy_rv_", testing::UniqueSuffix())},
      .postgres_url = cluster().options().postgres_url,
      // Nothing listens there.
      .redis_url = absl::StrCat("redis://127.0.0.1:", testing::FreePort()),
      .keys = cluster().shared_keys(),
      .metrics = false,
      .health_check_interval = absl::Milliseconds(200),
      .drain_timeout = absl::Seconds(1)});
  const absl::Status started = policy.Start();  // SERVING: readiness needs no Redis
  ASSERT_TRUE(started.ok()) << started;
  auto directories = polpb::DirectoryService::NewStub(policy.channel());
  auto policies = polpb::PolicyService::NewStub(policy.channel());

  polpb::CreateDirectoryRequest create;
  create.set_display_name("fail closed");
  create.set_tier(polpb::TIER_FREEMIUM);
  polpb::CreateDirectoryResponse created;
  grpc::Status s = directories->CreateDirectory(NewContext("", cluster().platform_key()).get(),
                                                create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // A valid token (the cluster's key, this service's directory) cannot be checked: UNAVAILABLE.
  Json claims = RootClaims();
  claims["dir"] = created.directory().directory_id();
  const std::string token = SignEd25519(Header(), claims, *key_);
  polpb::ListAuditEventsRequest audit;
  audit.set_directory_id(created.directory().directory_id());
  polpb::ListAuditEventsResponse events;
  s = policies->ListAuditEvents(NewContext(token).get(), audit, &events);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  polpb::UpdateAuthSettingsRequest update;
  polpb::GetAuthSettingsRequest get;
  get.set_directory_id(created.directory().directory_id());
  polpb::GetAuthSettingsResponse current;
  ASSERT_TRUE(policies->GetAuthSettings(NewContext().get(), get, &current).ok());
  *update.mutable_settings() = current.settings();
  update.mutable_settings()->set_required_level(10);
  polpb::UpdateAuthSettingsResponse updated;
  s = policies->UpdateAuthSettings(NewContext(token).get(), update, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  polpb::GetAuthSettingsResponse after;
  ASSERT_TRUE(policies->GetAuthSettings(NewContext().get(), get, &after).ok());
  EXPECT_EQ(after.settings().etag(), current.settings().etag());
  // Forged tokens are still UNAUTHENTICATED (refused before any Redis lookup).
  s = policies->ListAuditEvents(NewContext(ForgedTokens()[0].token).get(), audit, &events);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // The platform key needs no Redis, and readiness does not depend on it.
  s = policies->ListAuditEvents(NewContext("", cluster().platform_key()).get(), audit, &events);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(policy.Serving());
  EXPECT_TRUE(policy.Stop(SIGTERM, absl::Seconds(15)).ok());
}

// Without a Redis URL a service that takes tokens does not start: there is no mode in which a
// revoked token works (issue 19).
TEST_F(TokenAttacksTest, NoRedisUrlRefusesToStart) {
  for (const std::string binary : {"tally-credential", "tally-policy"}) {
    testing::ServiceProcess service(testing::ServiceOptions{
        .binary = binary,
        .flags = {absl::StrCat("--postgres_schema=rv_", testing::UniqueSuffix())},
        .postgres_url = cluster().options().postgres_url,
        .keys = cluster().shared_keys(),
        .metrics = false,
        .health_check_interval = absl::Milliseconds(200),
        .drain_timeout = absl::Seconds(1)});
    const absl::Status started = service.Start();
    EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << binary << ": " << started;
    EXPECT_THAT(started.message(), HasSubstr("exited with code 2")) << binary;
    EXPECT_THAT(service.Output(), HasSubstr("--redis_url (or --redis_cluster_nodes) is required"))
        << binary;
  }
}

}  // namespace
}  // namespace tally
