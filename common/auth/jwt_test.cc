#include "common/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/testing/fake_clock.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://tally.test";

// RFC 8037 Appendix A.
constexpr char kRfcD[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr char kRfcX[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr char kRfcKid[] = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
constexpr char kRfcSigningInput[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr char kRfcSignature[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

constexpr absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr GenerateKey(int type) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(type, nullptr);
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx), 1);
  if (type == EVP_PKEY_EC) EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1);
  EXPECT_EQ(EVP_PKEY_keygen(ctx, &key), 1);
  EVP_PKEY_CTX_free(ctx);
  return PkeyPtr(key);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string PrivatePem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return BioText(bio);
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  return BioText(bio);
}

std::string RawPublic(EVP_PKEY* key) {
  std::string out(32, '\0');
  size_t len = out.size();
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &len),
            1);
  return out;
}

// Signs with OpenSSL directly, independent of the code under test.
std::string Ed25519Sign(EVP_PKEY* key, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string sig(64, '\0');
  size_t len = sig.size();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string B64(std::string_view s) { return Base64UrlEncode(s); }

std::string Decode(std::string_view s) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode(s, &out));
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : key_(GenerateKey(EVP_PKEY_ED25519)), other_key_(GenerateKey(EVP_PKEY_ED25519)) {
    signer_ = std::make_unique<JwtSigner>(*JwtSigner::FromPem(PrivatePem(key_.get())));
    other_signer_ = std::make_unique<JwtSigner>(*JwtSigner::FromPem(PrivatePem(other_key_.get())));
    kid_ = signer_->kid();
    absl::StatusOr<JwtVerifier> verifier =
        JwtVerifier::FromKeys({signer_->PublicKey()}, Options(), clock_);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = std::make_unique<JwtVerifier>(*std::move(verifier));
  }

  static JwtVerifierOptions Options() {
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    options.leeway = absl::Seconds(30);
    return options;
  }

  SessionClaims Claims() const {
    SessionClaims c;
    c.issuer = kIssuer;
    c.subject = "usr_alice";
    c.directory_id = "dir_acme";
    c.session_id = "ses_1";
    c.acr = "30";
    c.amr = {"pwd", "sms"};
    c.roles = {"admin", "user"};
    c.issued_at = clock_.Now();
    c.expires_at = clock_.Now() + absl::Hours(1);
    c.auth_time = clock_.Now() - absl::Minutes(1);
    return c;
  }

  Json ClaimsJson() const {
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    return Json{{"iss", kIssuer},    {"sub", "usr_alice"}, {"dir", "dir_acme"}, {"sid", "ses_1"},
                {"acr", "30"},       {"amr", {"pwd"}},     {"roles", {"user"}}, {"iat", now},
                {"exp", now + 3600}, {"auth_time", now}};
  }

  std::string Header(std::string_view alg = "EdDSA") const {
    return Json{{"alg", alg}, {"kid", kid_}, {"typ", "JWT"}}.dump();
  }

  // A token with exactly these header and payload bytes, validly signed by `key_`.
  std::string Mint(std::string_view header, std::string_view payload) const {
    const std::string input = absl::StrCat(B64(header), ".", B64(payload));
    return absl::StrCat(input, ".", B64(Ed25519Sign(key_.get(), input)));
  }
  std::string Mint(const Json& payload) const { return Mint(Header(), payload.dump()); }

  // Expects UNAUTHENTICATED "invalid session token: <reason>" that does not echo the token.
  void ExpectRejected(const std::string& token, std::string_view reason) const {
    absl::StatusOr<SessionClaims> claims = verifier_->Verify(token);
    ASSERT_FALSE(claims.ok()) << "accepted: " << reason;
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(std::string(claims.status().message()),
              "invalid session token: " + std::string(reason));
    const size_t dot = token.find('.');
    if (dot != std::string::npos && dot > 8) {
      EXPECT_THAT(std::string(claims.status().message()), Not(HasSubstr(token.substr(0, dot))));
    }
  }

  testing::FakeClock clock_{kStart};
  PkeyPtr key_;
  PkeyPtr other_key_;
  std::unique_ptr<JwtSigner> signer_;
  std::unique_ptr<JwtSigner> other_signer_;
  std::string kid_;
  std::unique_ptr<JwtVerifier> verifier_;
};

// ---- keys ----

TEST(Ed25519KeyTest, Rfc8037Thumbprint) {
  absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromRaw(Decode(kRfcX));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Kid(), kRfcKid);
}

TEST(Ed25519KeyTest, Rfc8037SigningVector) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromRaw(Decode(kRfcD));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(B64(key->PublicKey().Raw()), kRfcX);
  EXPECT_EQ(key->PublicKey().Kid(), kRfcKid);
  absl::StatusOr<std::string> sig = key->Sign(kRfcSigningInput);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(B64(*sig), kRfcSignature);  // Ed25519 is deterministic
  EXPECT_TRUE(key->PublicKey().Verify(kRfcSigningInput, Decode(kRfcSignature)));
  EXPECT_FALSE(key->PublicKey().Verify("Example of Ed25519 signing", Decode(kRfcSignature)));
}

TEST(Ed25519KeyTest, RfcTokenIsNotASessionToken) {
  // A valid JWS under a known key, but without kid (and with a non-JSON payload).
  testing::FakeClock clock{kStart};
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::FromKeys({*Ed25519PublicKey::FromRaw(Decode(kRfcX))}, options, clock);
  ASSERT_TRUE(verifier.ok());
  absl::StatusOr<SessionClaims> claims =
      verifier->Verify(absl::StrCat(kRfcSigningInput, ".", kRfcSignature));
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(claims.status().message(), "invalid session token: missing kid");
}

TEST(Ed25519KeyTest, PemRoundTrip) {
  PkeyPtr pkey = GenerateKey(EVP_PKEY_ED25519);
  absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::FromPem(PrivatePem(pkey.get()));
  ASSERT_TRUE(priv.ok()) << priv.status();
  absl::StatusOr<Ed25519PublicKey> pub = Ed25519PublicKey::FromPem(PublicPem(pkey.get()));
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->Raw(), RawPublic(pkey.get()));
  EXPECT_EQ(priv->PublicKey().Raw(), RawPublic(pkey.get()));
  EXPECT_EQ(pub->ToPem(), PublicPem(pkey.get()));
  EXPECT_EQ(Ed25519PublicKey::FromPem(pub->ToPem())->Kid(), pub->Kid());
  absl::StatusOr<std::string> sig = priv->Sign("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("hello", *sig));
  EXPECT_FALSE(pub->Verify("hello!", *sig));
  EXPECT_FALSE(pub->Verify("hello", sig->substr(1)));
}

TEST(Ed25519KeyTest, GeneratedKeysDiffer) {
  absl::StatusOr<Ed25519PrivateKey> a = Ed25519PrivateKey::Generate();
  absl::StatusOr<Ed25519PrivateKey> b = Ed25519PrivateKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->PublicKey().Kid(), b->PublicKey().Kid());
  EXPECT_EQ(a->PublicKey().Kid().size(), 43u);  // SHA-256 in unpadded base64url
}

TEST(Ed25519KeyTest, RejectsWrongKeyMaterial) {
  PkeyPtr ed = GenerateKey(EVP_PKEY_ED25519);
  PkeyPtr ec = GenerateKey(EVP_PKEY_EC);
  const std::string ed_private = PrivatePem(ed.get());

  EXPECT_FALSE(Ed25519PrivateKey::FromPem("").ok());
  EXPECT_FALSE(Ed25519PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n").ok());
  EXPECT_FALSE(Ed25519PrivateKey::FromPem(PrivatePem(ec.get())).ok());
  EXPECT_FALSE(Ed25519PrivateKey::FromPem(PublicPem(ed.get())).ok());
  EXPECT_FALSE(Ed25519PublicKey::FromPem(PublicPem(ec.get())).ok());
  // A private key where a public one belongs is a configuration mistake, not a key.
  EXPECT_FALSE(Ed25519PublicKey::FromPem(ed_private).ok());
  EXPECT_FALSE(Ed25519PublicKey::FromRaw(std::string(31, 'a')).ok());
  EXPECT_FALSE(Ed25519PrivateKey::FromRaw(std::string(33, 'a')).ok());

  // Encrypted keys fail (without prompting for a passphrase), and the error never quotes the key.
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "secret-pass";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, ed.get(), EVP_aes_256_cbc(), pass, sizeof(pass) - 1,
                                          nullptr, nullptr),
            1);
  const std::string encrypted = BioText(bio);
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(encrypted);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr(pass)));
  EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr("-----")));
}

// ---- signing ----

TEST_F(JwtTest, SignThenVerifyRoundTrips) {
  absl::StatusOr<std::string> token = signer_->Sign(Claims());
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<SessionClaims> claims = verifier_->Verify(*token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(*claims, Claims());
  EXPECT_TRUE(claims->HasRole("admin"));
  EXPECT_FALSE(claims->HasRole("adm"));
}

TEST_F(JwtTest, SignedTokenLayout) {
  absl::StatusOr<std::string> token = signer_->Sign(Claims());
  ASSERT_TRUE(token.ok());
  const std::vector<std::string> parts = absl::StrSplit(*token, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Decode(parts[0]), absl::StrCat(R"({"alg":"EdDSA","kid":")", kid_, R"(","typ":"JWT"})"));
  const Json payload = Json::parse(Decode(parts[1]));
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  EXPECT_EQ(payload, (Json{{"iss", kIssuer},
                           {"sub", "usr_alice"},
                           {"dir", "dir_acme"},
                           {"sid", "ses_1"},
                           {"acr", "30"},
                           {"amr", {"pwd", "sms"}},
                           {"roles", {"admin", "user"}},
                           {"iat", now},
                           {"iat_ms", now * 1000},
                           {"exp", now + 3600},
                           {"auth_time", now - 60}}));
  EXPECT_EQ(kid_, Ed25519PublicKey::FromRaw(RawPublic(key_.get()))->Kid());
  // Verifiable with plain OpenSSL: interoperable EdDSA over the ASCII signing input.
  EXPECT_TRUE(Ed25519PublicKey::FromRaw(RawPublic(key_.get()))
                  ->Verify(absl::StrCat(parts[0], ".", parts[1]), Decode(parts[2])));
}

TEST_F(JwtTest, SignRefusesClaimsNobodyWouldAccept) {
  auto expect_invalid = [&](SessionClaims c) {
    EXPECT_EQ(signer_->Sign(c).status().code(), absl::StatusCode::kInvalidArgument);
  };
  SessionClaims c = Claims();
  c.issuer.clear();
  expect_invalid(c);
  c = Claims();
  c.subject.clear();
  expect_invalid(c);
  c = Claims();
  c.directory_id.clear();
  expect_invalid(c);
  c = Claims();
  c.session_id.clear();
  expect_invalid(c);
  c = Claims();
  c.expires_at = c.issued_at;
  expect_invalid(c);
  c = Claims();
  c.auth_time = absl::InfinitePast();
  expect_invalid(c);
  c = Claims();
  c.roles.push_back("\xFF");
  expect_invalid(c);
}

TEST_F(JwtTest, SignerFromPemFile) {
  const std::string path = ::testing::TempDir() + "/jwt_test_signing.pem";
  std::ofstream(path) << PrivatePem(key_.get());
  absl::StatusOr<JwtSigner> signer = JwtSigner::FromPemFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(signer->kid(), kid_);
  EXPECT_TRUE(verifier_->Verify(*signer->Sign(Claims())).ok());

  EXPECT_EQ(JwtSigner::FromPemFile(path + ".missing").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(path) << PublicPem(key_.get());
  absl::StatusOr<JwtSigner> wrong = JwtSigner::FromPemFile(path);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr(path));
}

TEST_F(JwtTest, TheIssueTimeRoundTripsToTheMillisecondAndTheFamilyWithIt) {
  SessionClaims c = Claims();
  c.issued_at = clock_.Now() + absl::Milliseconds(640);
  c.family_id = "ses_0";
  const std::string token = *signer_->Sign(c);
  const Json payload = Json::parse(Decode(std::vector<std::string>(absl::StrSplit(token, '.'))[1]));
  // Plain JWT readers still see whole seconds in "iat".
  EXPECT_EQ(payload["iat"], absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(payload["iat_ms"], absl::ToUnixMillis(clock_.Now()) + 640);
  EXPECT_EQ(payload["fam"], "ses_0");
  absl::StatusOr<SessionClaims> claims = verifier_->Verify(token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(*claims, c);
  EXPECT_EQ(claims->Family(), "ses_0");
  c.family_id.clear();
  EXPECT_EQ(c.Family(), "ses_1") << "a token without a family is a family of its own";
}

TEST_F(JwtTest, RejectsAnIatMsOutsideItsSecondAndABadFamily) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  Json c = ClaimsJson();
  c["iat_ms"] = now * 1000 + 999;
  EXPECT_TRUE(verifier_->Verify(Mint(c)).ok());
  for (const Json& bad : {Json(now * 1000 + 1000), Json(now * 1000 - 1), Json(-1),
                          Json(static_cast<double>(now) * 1000), Json("1700000000000")}) {
    c["iat_ms"] = bad;
    ExpectRejected(Mint(c), "bad iat_ms");
  }
  c = ClaimsJson();
  c["iat"] = now + 0.5;
  c["iat_ms"] = now * 1000 + 500;
  ExpectRejected(Mint(c), "bad iat_ms");
  c = ClaimsJson();
  for (const Json& bad : {Json(""), Json(7), Json::array()}) {
    c["fam"] = bad;
    ExpectRejected(Mint(c), "bad fam");
  }
}

TEST_F(JwtTest, TokensLongerThanTheLongestSessionAreRefused) {
  // A per-user revocation mark lives kMaxSessionLifetime: a longer token would outlive it.
  SessionClaims c = Claims();
  c.expires_at = c.issued_at + kMaxSessionLifetime;
  EXPECT_TRUE(verifier_->Verify(*signer_->Sign(c)).ok());
  c.expires_at += absl::Seconds(1);
  EXPECT_EQ(signer_->Sign(c).status().code(), absl::StatusCode::kInvalidArgument);
  Json json = ClaimsJson();
  json["exp"] = absl::ToUnixSeconds(clock_.Now() + kMaxSessionLifetime) + 1;
  ExpectRejected(Mint(json), "lifetime too long");
}

// ---- verification: what must pass ----

TEST_F(JwtTest, AcceptsHandMintedToken) {
  absl::StatusOr<SessionClaims> claims = verifier_->Verify(Mint(ClaimsJson()));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "usr_alice");
  EXPECT_EQ(claims->directory_id, "dir_acme");
  EXPECT_EQ(claims->session_id, "ses_1");
  EXPECT_THAT(claims->amr, ElementsAre("pwd"));
  EXPECT_THAT(claims->roles, ElementsAre("user"));
}

TEST_F(JwtTest, OptionalClaimsMayBeAbsent) {
  Json c = ClaimsJson();
  c.erase("acr");
  c.erase("amr");
  c.erase("roles");
  absl::StatusOr<SessionClaims> claims = verifier_->Verify(Mint(c));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(claims->roles.empty());
  EXPECT_TRUE(claims->amr.empty());
  // typ is optional too; unknown claims are ignored.
  c["extra"] = {{"nested", 1}};
  EXPECT_TRUE(verifier_->Verify(Mint(Json{{"alg", "EdDSA"}, {"kid", kid_}}.dump(), c.dump())).ok());
}

TEST_F(JwtTest, LeewayAppliesToEveryTimeClaim) {
  const std::string token = *signer_->Sign(Claims());
  clock_.Advance(absl::Hours(1) + absl::Seconds(29));
  EXPECT_TRUE(verifier_->Verify(token).ok());
  clock_.Advance(absl::Seconds(1));
  ExpectRejected(token, "expired");

  clock_.Set(kStart);
  SessionClaims c = Claims();
  c.issued_at = clock_.Now() + absl::Seconds(30);
  c.auth_time = c.issued_at;
  EXPECT_TRUE(verifier_->Verify(*signer_->Sign(c)).ok());
  c.issued_at = clock_.Now() + absl::Seconds(31);
  c.auth_time = clock_.Now();
  ExpectRejected(*signer_->Sign(c), "issued in the future");
}

// ---- verification: every rejection ----

TEST_F(JwtTest, RejectsWrongShape) {
  ExpectRejected("", "not a compact JWS");
  ExpectRejected("abc", "not a compact JWS");
  ExpectRejected("a.b", "not a compact JWS");
  ExpectRejected("..", "not a compact JWS");
  const std::string good = Mint(ClaimsJson());
  ExpectRejected(good + ".", "not a compact JWS");
  ExpectRejected(good + ".e30", "not a compact JWS");
  ExpectRejected(good.substr(0, good.rfind('.') + 1), "not a compact JWS");  // empty signature
}

TEST_F(JwtTest, RejectsOversizedToken) {
  Json c = ClaimsJson();
  c["pad"] = std::string(6200, 'x');  // signs fine, but > 8 KiB once encoded
  const std::string token = Mint(c);
  ASSERT_GT(token.size(), 8192u);
  ExpectRejected(token, "too large");
  c["pad"] = "x";
  EXPECT_TRUE(verifier_->Verify(Mint(c)).ok());
}

TEST_F(JwtTest, RejectsBadBase64Url) {
  const std::string good = Mint(ClaimsJson());
  const size_t dot1 = good.find('.');
  const size_t dot2 = good.rfind('.');
  const std::string header = good.substr(0, dot1);
  const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string signature = good.substr(dot2 + 1);

  ExpectRejected(absl::StrCat("*", header.substr(1), ".", payload, ".", signature),
                 "bad header encoding");
  // Standard base64 alphabet and padding are not base64url as JWS writes it.
  ExpectRejected(absl::StrCat(header, "==.", payload, ".", signature), "bad header encoding");
  std::string plus = signature;
  plus[5] = '+';
  ExpectRejected(absl::StrCat(header, ".", payload, ".", plus), "bad signature encoding");
  // A second spelling of the same signature bytes: 64 bytes leave 4 unused bits in the last
  // character, and setting one of them must not be accepted.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string respelled = signature;
  respelled.back() = alphabet[alphabet.find(respelled.back()) ^ 1];
  ExpectRejected(absl::StrCat(header, ".", payload, ".", respelled), "bad signature encoding");
}

TEST_F(JwtTest, RejectsBadHeaderJson) {
  const std::string payload = ClaimsJson().dump();
  ExpectRejected(Mint("not json", payload), "bad header");
  ExpectRejected(Mint(R"(["EdDSA"])", payload), "bad header");
  ExpectRejected(Mint(absl::StrCat(R"({"alg":"EdDSA","kid":")", kid_, "\""), payload),
                 "bad header");
  // Duplicate names: a reader that keeps the first "alg" would see "none".
  ExpectRejected(
      Mint(absl::StrCat(R"({"alg":"none","alg":"EdDSA","kid":")", kid_, R"("})"), payload),
      "bad header");
  ExpectRejected(Mint(absl::StrCat(R"({"alg":"EdDSA","kid":"x","kid":")", kid_, R"("})"), payload),
                 "bad header");
}

TEST_F(JwtTest, RejectsEveryAlgButEdDSA) {
  const std::string payload = ClaimsJson().dump();
  for (const char* alg : {"none", "None", "NONE", "HS256", "ES256", "RS256", "eddsa", "EDDSA",
                          "Ed25519", "EdDSA ", ""}) {
    SCOPED_TRACE(alg);
    ExpectRejected(Mint(Header(alg), payload), "unsupported alg");
  }
  ExpectRejected(Mint(absl::StrCat(R"({"kid":")", kid_, R"("})"), payload), "unsupported alg");
  ExpectRejected(Mint(absl::StrCat(R"({"alg":["EdDSA"],"kid":")", kid_, R"("})"), payload),
                 "unsupported alg");

  // Unsigned "none" token: header.payload. (empty signature) and header.payload.<junk>.
  const std::string none_input = absl::StrCat(B64(Header("none")), ".", B64(payload));
  ExpectRejected(none_input + ".", "not a compact JWS");
  ExpectRejected(none_input + ".AAAA", "unsupported alg");

  // HS256 keyed with the public key (raw bytes, and the PEM text): the classic confusion attack.
  const std::string hs_input = absl::StrCat(B64(Header("HS256")), ".", B64(payload));
  for (const std::string& secret : {RawPublic(key_.get()), PublicPem(key_.get())}) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    ASSERT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                   reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac,
                   &mac_len),
              nullptr);
    ExpectRejected(
        absl::StrCat(hs_input, ".", B64(std::string_view(reinterpret_cast<char*>(mac), mac_len))),
        "unsupported alg");
  }
}

TEST_F(JwtTest, RejectsUnsupportedHeaderParameters) {
  const std::string payload = ClaimsJson().dump();
  ExpectRejected(
      Mint(absl::StrCat(R"({"alg":"EdDSA","crit":["exp"],"kid":")", kid_, R"("})"), payload),
      "unsupported crit");
  ExpectRejected(
      Mint(absl::StrCat(R"({"alg":"EdDSA","kid":")", kid_, R"(","typ":"at+jwt"})"), payload),
      "bad typ");
  EXPECT_TRUE(
      verifier_
          ->Verify(
              Mint(absl::StrCat(R"({"alg":"EdDSA","kid":")", kid_, R"(","typ":"jwt"})"), payload))
          .ok());
}

TEST_F(JwtTest, RejectsMissingOrUnknownKid) {
  const std::string payload = ClaimsJson().dump();
  ExpectRejected(Mint(R"({"alg":"EdDSA","typ":"JWT"})", payload), "missing kid");
  ExpectRejected(Mint(R"({"alg":"EdDSA","kid":""})", payload), "missing kid");
  ExpectRejected(Mint(R"({"alg":"EdDSA","kid":42})", payload), "missing kid");
  ExpectRejected(Mint(R"({"alg":"EdDSA","kid":"someone-elses-key"})", payload), "unknown kid");
  // Another key's token: its kid is not ours.
  ExpectRejected(*other_signer_->Sign(Claims()), "unknown kid");
}

TEST_F(JwtTest, RejectsBadSignature) {
  const std::string good = Mint(ClaimsJson());
  const size_t dot1 = good.find('.');
  const size_t dot2 = good.rfind('.');

  // Tampered payload: another user's claims under the original signature.
  Json evil = ClaimsJson();
  evil["sub"] = "usr_mallory";
  evil["roles"] = {"admin"};
  ExpectRejected(absl::StrCat(good.substr(0, dot1), ".", B64(evil.dump()), good.substr(dot2)),
                 "bad signature");

  // One bit of the signature flipped.
  std::string sig = Decode(good.substr(dot2 + 1));
  sig[10] ^= 0x01;
  ExpectRejected(absl::StrCat(good.substr(0, dot2), ".", B64(sig)), "bad signature");
  // Wrong length.
  ExpectRejected(absl::StrCat(good.substr(0, dot2), ".", B64(sig.substr(0, 63))), "bad signature");
  ExpectRejected(absl::StrCat(good.substr(0, dot2), ".", B64(sig + "x")), "bad signature");

  // Our kid, signed by another key.
  const std::string input = absl::StrCat(B64(Header()), ".", B64(ClaimsJson().dump()));
  ExpectRejected(absl::StrCat(input, ".", B64(Ed25519Sign(other_key_.get(), input))),
                 "bad signature");
}

TEST_F(JwtTest, RejectsBadPayloadJson) {
  ExpectRejected(Mint(Header(), "not json"), "bad payload");
  ExpectRejected(Mint(Header(), "[1,2]"), "bad payload");
  ExpectRejected(Mint(Header(), "\"sub\""), "bad payload");
  std::string dup = ClaimsJson().dump();
  dup.insert(1, R"("sub":"usr_mallory",)");
  ExpectRejected(Mint(Header(), dup), "bad payload");
  std::string nested_dup = ClaimsJson().dump();
  nested_dup.insert(1, R"("x":{"a":1,"a":2},)");
  ExpectRejected(Mint(Header(), nested_dup), "bad payload");
}

TEST_F(JwtTest, RejectsExpiredOrMissingExp) {
  Json c = ClaimsJson();
  c.erase("exp");
  ExpectRejected(Mint(c), "missing exp");
  c = ClaimsJson();
  c["exp"] = std::to_string(absl::ToUnixSeconds(clock_.Now()) + 3600);
  ExpectRejected(Mint(c), "bad exp");
  c["exp"] = true;
  ExpectRejected(Mint(c), "bad exp");
  c["exp"] = -1;
  ExpectRejected(Mint(c), "bad exp");
  c["exp"] = 1e300;
  ExpectRejected(Mint(c), "bad exp");
  c["exp"] = absl::ToUnixSeconds(clock_.Now()) - 31;
  ExpectRejected(Mint(c), "expired");
  c["exp"] = absl::ToUnixSeconds(clock_.Now()) + 0.5;  // fractional NumericDate, within leeway
  EXPECT_TRUE(verifier_->Verify(Mint(c)).ok());
}

TEST_F(JwtTest, RejectsNotYetValid) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  Json c = ClaimsJson();
  c["iat"] = now + 120;
  ExpectRejected(Mint(c), "issued in the future");
  c = ClaimsJson();
  c["nbf"] = now + 120;
  ExpectRejected(Mint(c), "not yet valid");
  c["nbf"] = now + 10;
  EXPECT_TRUE(verifier_->Verify(Mint(c)).ok());
  c["nbf"] = "soon";
  ExpectRejected(Mint(c), "bad nbf");
  c = ClaimsJson();
  c["auth_time"] = now + 120;
  ExpectRejected(Mint(c), "auth_time in the future");
  c = ClaimsJson();
  c.erase("iat");
  ExpectRejected(Mint(c), "missing iat");
  c = ClaimsJson();
  c.erase("auth_time");
  ExpectRejected(Mint(c), "missing auth_time");
}

TEST_F(JwtTest, RejectsWrongIssuer) {
  Json c = ClaimsJson();
  c["iss"] = "https://evil.test";
  ExpectRejected(Mint(c), "wrong issuer");
  c["iss"] = std::string(kIssuer) + "/";
  ExpectRejected(Mint(c), "wrong issuer");
  c.erase("iss");
  ExpectRejected(Mint(c), "missing iss");
  c["iss"] = 7;
  ExpectRejected(Mint(c), "missing iss");
}

TEST_F(JwtTest, RejectsMissingIdentity) {
  for (const char* name : {"sub", "dir", "sid"}) {
    SCOPED_TRACE(name);
    Json c = ClaimsJson();
    c.erase(name);
    ExpectRejected(Mint(c), absl::StrCat("missing ", name));
    c[name] = "";
    ExpectRejected(Mint(c), absl::StrCat("missing ", name));
    c[name] = 12;
    ExpectRejected(Mint(c), absl::StrCat("missing ", name));
  }
}

TEST_F(JwtTest, RejectsMalformedListsAndAcr) {
  for (const char* name : {"roles", "amr", "methods"}) {
    SCOPED_TRACE(name);
    Json c = ClaimsJson();
    c[name] = "admin";
    ExpectRejected(Mint(c), absl::StrCat("bad ", name));
    c[name] = {"admin", 1};
    ExpectRejected(Mint(c), absl::StrCat("bad ", name));
    c[name] = {{"admin", true}};  // an object
    ExpectRejected(Mint(c), absl::StrCat("bad ", name));
    c[name] = nullptr;
    ExpectRejected(Mint(c), absl::StrCat("bad ", name));
  }
  Json c = ClaimsJson();
  c["acr"] = 30;
  ExpectRejected(Mint(c), "bad acr");
}

TEST_F(JwtTest, AmrTimesRoundTripAndAreChecked) {
  SessionClaims claims = Claims();
  claims.amr_times = {{"pwd", clock_.Now() - absl::Minutes(9)},
                      {"sms", clock_.Now() - absl::Minutes(1)}};
  absl::StatusOr<std::string> token = signer_->Sign(claims);
  ASSERT_TRUE(token.ok()) << token.status();
  const std::vector<std::string> parts = absl::StrSplit(*token, '.');
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  EXPECT_EQ(Json::parse(Decode(parts[1]))["amr_time"],
            (Json{{"pwd", now - 540}, {"sms", now - 60}}));
  absl::StatusOr<SessionClaims> verified = verifier_->Verify(*token);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, claims);

  Json c = ClaimsJson();
  c["amr_time"] = {{"pwd", now + 120}};
  ExpectRejected(Mint(c), "amr_time in the future");
  c["amr_time"] = {{"pwd", "yesterday"}};
  ExpectRejected(Mint(c), "bad amr_time");
  c["amr_time"] = Json::array({now});
  ExpectRejected(Mint(c), "bad amr_time");
  c["amr_time"] = {{"pwd", -1}};
  ExpectRejected(Mint(c), "bad amr_time");
}

TEST_F(JwtTest, MethodsRoundTripAndAreOptional) {
  SessionClaims claims = Claims();
  claims.methods = {"password", "totp"};
  claims.amr_times = {{"password", clock_.Now() - absl::Minutes(2)},
                      {"totp", clock_.Now() - absl::Minutes(1)}};
  absl::StatusOr<std::string> token = signer_->Sign(claims);
  ASSERT_TRUE(token.ok()) << token.status();
  const std::vector<std::string> parts = absl::StrSplit(*token, '.');
  EXPECT_EQ(Json::parse(Decode(parts[1]))["methods"], (Json{"password", "totp"}));
  absl::StatusOr<SessionClaims> verified = verifier_->Verify(*token);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, claims);

  // Tokens minted before the claim existed carry none, and stay valid.
  Json c = ClaimsJson();
  c.erase("methods");
  absl::StatusOr<SessionClaims> old = verifier_->Verify(Mint(c));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_TRUE(old->methods.empty());
}

// ---- key sets and rotation ----

TEST_F(JwtTest, RotationAcceptsTokensFromEitherKey) {
  absl::StatusOr<JwtVerifier> both =
      JwtVerifier::FromKeys({signer_->PublicKey(), other_signer_->PublicKey()}, Options(), clock_);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->Kids().size(), 2u);
  EXPECT_TRUE(both->Verify(*signer_->Sign(Claims())).ok());
  EXPECT_TRUE(both->Verify(*other_signer_->Sign(Claims())).ok());
  // The same key listed twice is one key.
  EXPECT_EQ(JwtVerifier::FromKeys({signer_->PublicKey(), signer_->PublicKey()}, Options(), clock_)
                ->Kids()
                .size(),
            1u);
}

TEST_F(JwtTest, JwksRoundTrip) {
  absl::StatusOr<JwtVerifier> both =
      JwtVerifier::FromKeys({signer_->PublicKey(), other_signer_->PublicKey()}, Options(), clock_);
  ASSERT_TRUE(both.ok());
  const std::string jwks = both->ToJwks();
  const Json parsed = Json::parse(jwks);
  ASSERT_EQ(parsed["keys"].size(), 2u);
  for (const Json& jwk : parsed["keys"]) {
    EXPECT_EQ(jwk["kty"], "OKP");
    EXPECT_EQ(jwk["crv"], "Ed25519");
    EXPECT_EQ(jwk["use"], "sig");
    EXPECT_EQ(jwk["alg"], "EdDSA");
    EXPECT_FALSE(jwk.contains("d"));
    EXPECT_EQ(jwk["kid"], Ed25519PublicKey::FromRaw(Decode(jwk["x"].get<std::string>()))->Kid());
  }

  absl::StatusOr<JwtVerifier> reloaded = JwtVerifier::FromJwks(jwks, Options(), clock_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->Kids(), both->Kids());
  EXPECT_EQ(reloaded->ToJwks(), jwks);
  EXPECT_TRUE(reloaded->Verify(*signer_->Sign(Claims())).ok());
  EXPECT_TRUE(reloaded->Verify(*other_signer_->Sign(Claims())).ok());

  const std::string path = ::testing::TempDir() + "/jwt_test_jwks.json";
  std::ofstream(path) << jwks;
  absl::StatusOr<JwtVerifier> from_file = LoadJwksFile(path, Options(), clock_);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_TRUE(from_file->Verify(*other_signer_->Sign(Claims())).ok());
  EXPECT_EQ(LoadJwksFile(path + ".missing", Options(), clock_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(JwtTest, JwksSkipsForeignKeysAndNamesKeysByThumbprint) {
  const std::string x = B64(RawPublic(key_.get()));
  const Json jwks = {
      {"keys", Json::array({
                   {{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}, {"kid", "rsa"}},
                   {{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}},
                   {{"kty", "OKP"}, {"crv", "X25519"}, {"x", x}},
                   {{"kty", "OKP"}, {"crv", "Ed448"}, {"x", "AA"}},
                   {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", x}, {"use", "enc"}, {"kid", "enc"}},
                   {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", x}},
               })}};
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromJwks(jwks.dump(), Options(), clock_);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_THAT(verifier->Kids(), ElementsAre(kid_));
  EXPECT_TRUE(verifier->Verify(*signer_->Sign(Claims())).ok());

  // A foreign kid works as long as the token names it.
  const Json named = {
      {"keys", Json::array({{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", x}, {"kid", "k1"}}})}};
  verifier = JwtVerifier::FromJwks(named.dump(), Options(), clock_);
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(verifier->Verify(Mint(R"({"alg":"EdDSA","kid":"k1"})", ClaimsJson().dump())).ok());
}

TEST_F(JwtTest, JwksRejectsMalformedSets) {
  const std::string x = B64(RawPublic(key_.get()));
  const Json ok_key = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", x}};
  auto with = [&](const Json& changes) {
    Json key = ok_key;
    key.update(changes);
    for (auto it = key.begin(); it != key.end();) {
      it = it->is_null() ? key.erase(it) : std::next(it);
    }
    return Json{{"keys", Json::array({key})}}.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "{"},
      {"array", "[]"},
      {"no keys", "{}"},
      {"keys not array", R"({"keys":{}})"},
      {"empty set", R"({"keys":[]})"},
      {"only foreign keys", R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})"},
      {"key not object", R"({"keys":["x"]})"},
      {"no kty", with({{"kty", nullptr}})},
      {"no crv", with({{"crv", nullptr}})},
      {"no x", with({{"x", nullptr}})},
      {"short x", with({{"x", B64(std::string(31, 'a'))}})},
      {"long x", with({{"x", B64(std::string(33, 'a'))}})},
      {"padded x", with({{"x", x + "="}})},
      {"x not string", with({{"x", 5}})},
      {"private part", with({{"d", "AAAA"}})},
      {"wrong alg", with({{"alg", "ES256"}})},
      {"use not string", with({{"use", 1}})},
      {"empty kid", with({{"kid", ""}})},
      {"kid not string", with({{"kid", 3}})},
      {"duplicate kid", Json{{"keys", Json::array({ok_key, ok_key})}}.dump()},
      {"duplicate member", absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", x,
                                        R"(","x":")", x, R"("}]})")},
  };
  for (const auto& [name, jwks] : cases) {
    SCOPED_TRACE(name);
    absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromJwks(jwks, Options(), clock_);
    ASSERT_FALSE(verifier.ok());
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // The error for a leaked private key does not quote it.
  const std::string d = B64(std::string(32, 'S'));
  EXPECT_THAT(
      std::string(JwtVerifier::FromJwks(with({{"d", d}}), Options(), clock_).status().message()),
      Not(HasSubstr(d)));
}

TEST_F(JwtTest, VerifierFromPemFiles) {
  const std::string a = ::testing::TempDir() + "/jwt_test_a.pub.pem";
  const std::string b = ::testing::TempDir() + "/jwt_test_b.pub.pem";
  std::ofstream(a) << PublicPem(key_.get());
  std::ofstream(b) << PublicPem(other_key_.get());
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromPemFiles({a, b}, Options(), clock_);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE(verifier->Verify(*signer_->Sign(Claims())).ok());
  EXPECT_TRUE(verifier->Verify(*other_signer_->Sign(Claims())).ok());
  EXPECT_EQ(JwtVerifier::FromPemFiles({a, b + ".missing"}, Options(), clock_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(JwtVerifier::FromPemFiles({}, Options(), clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtTest, VerifierNeedsIssuerAndSaneLeeway) {
  JwtVerifierOptions options = Options();
  options.issuer.clear();
  EXPECT_EQ(JwtVerifier::FromKeys({signer_->PublicKey()}, options, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.leeway = absl::Seconds(-1);
  EXPECT_EQ(JwtVerifier::FromKeys({signer_->PublicKey()}, options, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally
