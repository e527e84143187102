#include "common/auth/caller.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://tally.test";
constexpr char kPlatformKey[] = "platform-secret-123";

SessionClaims UserClaims(const Clock& clock, std::string user, std::string dir,
                         std::vector<std::string> roles) {
  return testing::TestClaims({.directory_id = std::move(dir),
                              .user_id = std::move(user),
                              .roles = std::move(roles),
                              .amr = {"pwd", "otp"},
                              .session_id = "ses_1",
                              .issuer = kIssuer},
                             clock.Now());
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest()
      : signer_(*Ed25519PrivateKey::Generate()),
        authenticator_(kPlatformKey, MakeVerifier(signer_, clock_)) {}

  static std::shared_ptr<const JwtVerifier> MakeVerifier(const JwtSigner& signer,
                                                         const Clock& clock) {
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    return std::make_shared<const JwtVerifier>(
        *JwtVerifier::FromKeys({signer.PublicKey()}, options, clock));
  }

  std::string Token(std::vector<std::string> roles = {"user"}) const {
    return *signer_.Sign(UserClaims(clock_, "usr_alice", "dir_acme", std::move(roles)));
  }

  void ExpectUnauthenticated(std::optional<std::string_view> platform,
                             std::optional<std::string_view> authorization) const {
    absl::StatusOr<Caller> caller = authenticator_.Authenticate(platform, authorization);
    ASSERT_FALSE(caller.ok());
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    const std::string message(caller.status().message());
    EXPECT_THAT(message, Not(HasSubstr(kPlatformKey)));
    if (platform.has_value() && platform->size() > 3) {
      EXPECT_THAT(message, Not(HasSubstr(*platform)));
    }
    if (authorization.has_value() && authorization->size() > 20) {
      EXPECT_THAT(message, Not(HasSubstr(authorization->substr(7, 20))));
    }
  }

  testing::FakeClock clock_;
  JwtSigner signer_;
  Authenticator authenticator_;
};

TEST_F(AuthenticatorTest, NoCredentialsIsTheCluster) {
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, std::nullopt);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->kind, Caller::Kind::kAnonymous);
  EXPECT_EQ(caller->Actor(), "cluster");
}

TEST_F(AuthenticatorTest, PlatformKey) {
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(kPlatformKey, std::nullopt);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->kind, Caller::Kind::kPlatform);
  EXPECT_EQ(caller->Actor(), "platform");

  ExpectUnauthenticated("wrong-key", std::nullopt);
  ExpectUnauthenticated("", std::nullopt);
  ExpectUnauthenticated(absl::StrCat(kPlatformKey, "x"), std::nullopt);
  ExpectUnauthenticated(std::string_view(kPlatformKey).substr(1), std::nullopt);
}

TEST_F(AuthenticatorTest, UnsetPlatformKeyMatchesNothing) {
  const Authenticator no_platform("", nullptr);
  EXPECT_EQ(no_platform.Authenticate("", std::nullopt).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(no_platform.Authenticate("anything", std::nullopt).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, BearerToken) {
  const std::string token = Token({"admin"});
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER ", "Bearer   "}) {
    SCOPED_TRACE(scheme);
    absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, scheme + token);
    ASSERT_TRUE(caller.ok()) << caller.status();
    EXPECT_EQ(caller->kind, Caller::Kind::kUser);
    EXPECT_EQ(caller->claims.subject, "usr_alice");
    EXPECT_EQ(caller->claims.directory_id, "dir_acme");
    EXPECT_EQ(caller->Actor(), "user:usr_alice");
    EXPECT_TRUE(caller->IsAdminOf("dir_acme"));
  }
}

TEST_F(AuthenticatorTest, BadAuthorizationIsNeverAnonymous) {
  const std::string token = Token();
  ExpectUnauthenticated(std::nullopt, "");
  ExpectUnauthenticated(std::nullopt, "Bearer");
  ExpectUnauthenticated(std::nullopt, "Bearer ");
  ExpectUnauthenticated(std::nullopt, "Bearer" + token);
  ExpectUnauthenticated(std::nullopt, token);
  ExpectUnauthenticated(std::nullopt, "Basic dXNlcjpwYXNz");
  ExpectUnauthenticated(std::nullopt, "Bearer " + token + " extra");
  ExpectUnauthenticated(std::nullopt, "Bearer not.a.token");
  ExpectUnauthenticated(std::nullopt, "Bearer " + token.substr(0, token.size() - 2));

  // Expired.
  clock_.Advance(absl::Hours(2));
  ExpectUnauthenticated(std::nullopt, "Bearer " + token);
  EXPECT_EQ(authenticator_.Authenticate(std::nullopt, "Bearer " + token).status().message(),
            "invalid session token: expired");
}

TEST_F(AuthenticatorTest, TokenFromAnotherKey) {
  const JwtSigner stranger(*Ed25519PrivateKey::Generate());
  const std::string token = *stranger.Sign(UserClaims(clock_, "usr_alice", "dir_acme", {"admin"}));
  ExpectUnauthenticated(std::nullopt, "Bearer " + token);
}

TEST_F(AuthenticatorTest, BothCredentialsAreRefused) {
  ExpectUnauthenticated(kPlatformKey, "Bearer " + Token());
}

TEST_F(AuthenticatorTest, NoVerifierRefusesTokens) {
  const Authenticator platform_only(kPlatformKey, nullptr);
  EXPECT_EQ(platform_only.Authenticate(std::nullopt, "Bearer " + Token()).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(platform_only.Authenticate(kPlatformKey, std::nullopt).ok());
  EXPECT_EQ(platform_only.Authenticate(std::nullopt, std::nullopt)->kind, Caller::Kind::kAnonymous);
}

// ---- authorization matrix ----

struct Callers {
  testing::FakeClock clock;
  Caller anonymous = Caller::Anonymous();
  Caller platform = Caller::Platform();
  Caller admin = Caller::User(UserClaims(clock, "usr_admin", "dir_acme", {"admin", "user"}));
  Caller other_admin = Caller::User(UserClaims(clock, "usr_boss", "dir_other", {"admin"}));
  Caller alice = Caller::User(UserClaims(clock, "usr_alice", "dir_acme", {"user"}));
  Caller bob = Caller::User(UserClaims(clock, "usr_bob", "dir_acme", {}));
};

absl::StatusCode Code(const absl::Status& s) { return s.code(); }

constexpr auto kOk = absl::StatusCode::kOk;
constexpr auto kUnauth = absl::StatusCode::kUnauthenticated;
constexpr auto kDenied = absl::StatusCode::kPermissionDenied;

TEST(CallerTest, Predicates) {
  Callers c;
  EXPECT_TRUE(c.admin.IsAdminOf("dir_acme"));
  EXPECT_FALSE(c.admin.IsAdminOf("dir_other"));
  EXPECT_FALSE(c.admin.IsAdminOf(""));
  EXPECT_FALSE(c.other_admin.IsAdminOf("dir_acme"));
  EXPECT_FALSE(c.alice.IsAdminOf("dir_acme"));
  EXPECT_FALSE(c.platform.IsAdminOf("dir_acme"));
  EXPECT_FALSE(c.anonymous.IsAdminOf("dir_acme"));
  EXPECT_TRUE(c.alice.IsUser("usr_alice"));
  EXPECT_FALSE(c.alice.IsUser("usr_bob"));
  EXPECT_FALSE(c.alice.IsUser(""));
  EXPECT_FALSE(c.platform.IsUser(""));
  EXPECT_FALSE(c.anonymous.IsUser(""));
  EXPECT_EQ(c.admin.Actor(), "user:usr_admin");
}

TEST(CallerTest, RequirePlatform) {
  Callers c;
  EXPECT_EQ(Code(RequirePlatform(c.platform)), kOk);
  EXPECT_EQ(Code(RequirePlatform(c.anonymous)), kUnauth);
  EXPECT_EQ(RequirePlatform(c.anonymous).message(), "credentials required");
  EXPECT_EQ(Code(RequirePlatform(c.admin)), kDenied);
  EXPECT_EQ(Code(RequirePlatform(c.alice)), kDenied);
}

TEST(CallerTest, RequireAdmin) {
  Callers c;
  EXPECT_EQ(Code(RequireAdmin(c.admin, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdmin(c.anonymous, "dir_acme")), kUnauth);
  EXPECT_EQ(Code(RequireAdmin(c.platform, "dir_acme")), kDenied);
  EXPECT_EQ(Code(RequireAdmin(c.other_admin, "dir_acme")), kDenied);
  EXPECT_THAT(std::string(RequireAdmin(c.other_admin, "dir_acme").message()),
              HasSubstr("another directory"));
  EXPECT_EQ(Code(RequireAdmin(c.alice, "dir_acme")), kDenied);
  EXPECT_THAT(std::string(RequireAdmin(c.alice, "dir_acme").message()),
              HasSubstr("not an admin of directory dir_acme"));
  EXPECT_EQ(Code(RequireAdmin(c.admin, "")), kDenied);
}

TEST(CallerTest, RequireAdminOrPlatform) {
  Callers c;
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.platform, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.admin, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.anonymous, "dir_acme")), kUnauth);
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.other_admin, "dir_acme")), kDenied);
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.alice, "dir_acme")), kDenied);
  EXPECT_EQ(Code(RequireAdminOrPlatform(c.bob, "dir_acme")), kDenied);
}

TEST(CallerTest, RequireAdminIfSessionToken) {
  // GetDirectory, GetAuthSettings: open to the cluster and the platform; of the tokens, only
  // the directory's own admins'.
  Callers c;
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.anonymous, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.platform, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.admin, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.alice, "dir_acme")), kDenied);
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.other_admin, "dir_acme")), kDenied);
  EXPECT_THAT(std::string(RequireAdminIfSessionToken(c.other_admin, "dir_acme").message()),
              HasSubstr("another directory"));
  EXPECT_EQ(Code(RequireAdminIfSessionToken(c.admin, "")), kDenied);
}

TEST(CallerTest, RequireSelfOrAdmin) {
  Callers c;
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.alice, "dir_acme", "usr_alice")), kOk);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.admin, "dir_acme", "usr_alice")), kOk);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.admin, "dir_acme", "usr_admin")), kOk);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.anonymous, "dir_acme", "usr_alice")), kUnauth);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.bob, "dir_acme", "usr_alice")), kDenied);
  EXPECT_THAT(std::string(RequireSelfOrAdmin(c.bob, "dir_acme", "usr_alice").message()),
              HasSubstr("only the user themself or an admin"));
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.other_admin, "dir_acme", "usr_alice")), kDenied);
  // The platform acts through an admin account here (API.md lists the user and admins only).
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.platform, "dir_acme", "usr_alice")), kDenied);
  // Self needs the same directory too: the user's id alone does not reach across directories.
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.alice, "dir_other", "usr_alice")), kDenied);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.alice, "", "usr_alice")), kDenied);
  EXPECT_EQ(Code(RequireSelfOrAdmin(c.alice, "dir_acme", "")), kDenied);
}

// The requested directory id is the caller's unchecked input (hostile input test, issue 9): a
// token pasted into it, or a megabyte of text, must not come back in the error.
TEST(CallerTest, DeniedCallsDoNotEchoTheRequestedDirectory) {
  Callers c;
  const std::string pasted = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." + std::string(4096, 'x');
  for (const absl::Status& s :
       {RequireAdmin(c.other_admin, pasted), RequireAdminOrPlatform(c.other_admin, pasted),
        RequireSelfOrAdmin(c.other_admin, pasted, "usr_alice")}) {
    EXPECT_EQ(Code(s), kDenied);
    EXPECT_THAT(std::string(s.message()), HasSubstr("another directory"));
    EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("eyJ")));
    EXPECT_LT(s.message().size(), 100u);
  }
}

TEST(CallerTest, RequireOwnDirectory) {
  // GetUser, FindUser: open to the cluster, but a token never reaches another directory.
  Callers c;
  EXPECT_EQ(Code(RequireOwnDirectory(c.anonymous, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireOwnDirectory(c.platform, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireOwnDirectory(c.alice, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireOwnDirectory(c.admin, "dir_acme")), kOk);
  EXPECT_EQ(Code(RequireOwnDirectory(c.other_admin, "dir_acme")), kDenied);
  EXPECT_EQ(Code(RequireOwnDirectory(c.alice, "dir_other")), kDenied);
  EXPECT_EQ(Code(RequireOwnDirectory(c.alice, "")), kDenied);
  EXPECT_THAT(std::string(RequireOwnDirectory(c.other_admin, "dir_acme").message()),
              HasSubstr("another directory"));
}

// ---- freshness and the peer ----

class AuthenticatorOptionsTest : public AuthenticatorTest {
 protected:
  Authenticator Make(ClusterCallers callers = ClusterCallers()) const {
    AuthenticatorOptions options;
    options.platform_key = kPlatformKey;
    options.verifier = MakeVerifier(signer_, clock_);
    options.reauth_max_age = absl::Minutes(5);
    options.cluster_callers = std::move(callers);
    options.clock = &clock_;
    return Authenticator(std::move(options));
  }
  std::string Bearer(absl::Duration auth_age) const {
    SessionClaims claims = UserClaims(clock_, "usr_alice", "dir_acme", {"user"});
    claims.auth_time = clock_.Now() - auth_age;
    return "Bearer " + *signer_.Sign(claims);
  }
};

TEST_F(AuthenticatorOptionsTest, AUserIsFreshWhileTheLoginIsAtMostReauthMaxAgeOld) {
  const Authenticator authenticator = Make();
  EXPECT_TRUE(authenticator.Authenticate(std::nullopt, Bearer(absl::Minutes(4)))->fresh);
  EXPECT_TRUE(authenticator.Authenticate(std::nullopt, Bearer(absl::Minutes(5)))->fresh);
  EXPECT_FALSE(authenticator.Authenticate(std::nullopt, Bearer(absl::Minutes(6)))->fresh);
  // The same token goes stale as time passes.
  const std::string token = Bearer(absl::Minutes(1));
  EXPECT_TRUE(authenticator.Authenticate(std::nullopt, token)->fresh);
  clock_.Advance(absl::Minutes(5));
  EXPECT_FALSE(authenticator.Authenticate(std::nullopt, token)->fresh);
  EXPECT_FALSE(authenticator.Authenticate(kPlatformKey, std::nullopt)->fresh);
}

TEST_F(AuthenticatorOptionsTest, TheClusterRuleComesAfterTheCredentials) {
  const Authenticator authenticator = Make(ClusterCallers(
      "tally.test.v1", {{"Users.Verify", ClusterOnly({"orchestrator"})},
                        {"Users.Get", ClusterOrCredentials({"orchestrator"})}}));
  const Peer login_client{true, ""};
  const Peer orchestrator{true, "orchestrator"};
  constexpr char kVerify[] = "tally.test.v1.Users.Verify";
  constexpr char kGet[] = "tally.test.v1.Users.Get";
  absl::StatusOr<Caller> caller =
      authenticator.Authenticate(std::nullopt, std::nullopt, orchestrator, kVerify);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->peer.service, "orchestrator");
  EXPECT_EQ(authenticator.Authenticate(std::nullopt, std::nullopt, login_client, kVerify)
                .status()
                .code(),
            kDenied);
  // A forged token is UNAUTHENTICATED whoever presents it.
  std::string forged = Bearer(absl::ZeroDuration());
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(authenticator.Authenticate(std::nullopt, forged, orchestrator, kVerify).status().code(),
            kUnauth);
  // A valid token from any certificate is the service's to judge where the RPC takes tokens.
  caller = authenticator.Authenticate(std::nullopt, Bearer(absl::ZeroDuration()), login_client,
                                      kGet);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->kind, Caller::Kind::kUser);
  EXPECT_TRUE(caller->peer.mutual_tls);
  EXPECT_EQ(authenticator.Authenticate(std::nullopt, std::nullopt, login_client, kGet)
                .status()
                .code(),
            kDenied);
}

}  // namespace
}  // namespace tally
