// Ceremonies produced by the software authenticator, and the checks the vectors do not reach.

#include "services/passkey/webauthn/webauthn.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/attestation_ca.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "services/passkey/webauthn/crypto.h"

namespace tally::webauthn {
namespace {

using json = nlohmann::json;
using testing::AttestationCa;
using testing::SoftAuthenticator;

SoftAuthenticator::Ceremony MakeCeremony() {
  SoftAuthenticator::Ceremony c;
  c.rp_id = "example.com";
  c.origin = "https://example.com";
  c.challenge = std::string(32, '\x07');
  return c;
}

RelyingParty MakeRp() {
  RelyingParty rp;
  rp.rp_id = "example.com";
  rp.origins = {"https://example.com"};
  return rp;
}

RegistrationExpectation RegExpect(const SoftAuthenticator::Ceremony& c) {
  RegistrationExpectation e;
  e.rp = MakeRp();
  e.challenge = c.challenge;
  return e;
}

AuthenticationExpectation AuthExpect(const SoftAuthenticator::Ceremony& c) {
  AuthenticationExpectation e;
  e.rp = MakeRp();
  e.challenge = c.challenge;
  return e;
}

absl::StatusOr<VerifiedAssertion> Verify(const std::string& response_json,
                                         const AuthenticationExpectation& e,
                                         const StoredCredential& stored) {
  absl::StatusOr<AssertionResponse> r = ParseAssertionResponse(response_json);
  if (!r.ok()) return r.status();
  return VerifyAssertion(*r, e, stored);
}

class CeremonyTest : public ::testing::TestWithParam<std::tuple<SoftAuthenticator::Alg, const char*>> {};

TEST_P(CeremonyTest, RegistersAndAuthenticates) {
  auto [alg, fmt] = GetParam();
  SoftAuthenticator authenticator(alg);
  auto c = MakeCeremony();
  absl::StatusOr<RegisteredCredential> reg =
      VerifyRegistration(authenticator.Register(c, "user-handle", fmt), RegExpect(c));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->credential_id, authenticator.credential_id());
  EXPECT_EQ(reg->algorithm, authenticator.cose_alg());
  EXPECT_EQ(reg->format, fmt);
  EXPECT_EQ(reg->attestation_type, std::string(fmt) == "packed" ? "self" : "none");
  EXPECT_TRUE(reg->user_verified);
  EXPECT_EQ(reg->transports, (std::vector<std::string>{"internal", "hybrid"}));
  EXPECT_EQ(FormatAaguid(reg->aaguid), "42424242-4242-4242-4242-424242424242");

  StoredCredential stored{reg->public_key_cose, reg->sign_count, reg->backup_eligible};
  c.challenge = std::string(32, '\x09');
  absl::StatusOr<AssertionResponse> response = ParseAssertionResponse(authenticator.Assert(c));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->user_handle, "user-handle");
  absl::StatusOr<VerifiedAssertion> verified = VerifyAssertion(*response, AuthExpect(c), stored);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->sign_count, 1u);
  EXPECT_TRUE(verified->user_verified);

  // The same assertion again: the counter did not move.
  stored.sign_count = verified->sign_count;
  absl::StatusOr<VerifiedAssertion> replay = VerifyAssertion(*response, AuthExpect(c), stored);
  EXPECT_EQ(ReasonOf(replay.status()), reason::kCounter);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kUnauthenticated);

  // Another authenticator's signature does not verify against this key.
  SoftAuthenticator other(alg);
  absl::StatusOr<VerifiedAssertion> forged = Verify(other.Assert(c), AuthExpect(c), stored);
  EXPECT_EQ(ReasonOf(forged.status()), reason::kSignature) << forged.status();
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, CeremonyTest,
    ::testing::Combine(::testing::Values(SoftAuthenticator::Alg::kES256,
                                         SoftAuthenticator::Alg::kEdDSA,
                                         SoftAuthenticator::Alg::kRS256),
                       ::testing::Values("none", "packed")));

TEST(RegistrationTest, RefusesWhatTheRelyingPartyDidNotAsk) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  const std::string ok = a.Register(c, "u");
  ASSERT_TRUE(VerifyRegistration(ok, RegExpect(c)).ok());

  auto e = RegExpect(c);
  e.algorithms = {kAlgRS256};
  EXPECT_EQ(ReasonOf(VerifyRegistration(ok, e).status()), reason::kAlgorithm);

  e = RegExpect(c);
  e.rp.require_user_verification = true;
  auto no_uv = c;
  no_uv.user_verified = false;
  EXPECT_EQ(ReasonOf(VerifyRegistration(a.Register(no_uv, "u"), e).status()),
            reason::kUserVerification);

  auto wrong_type = c;
  wrong_type.type = "webauthn.get";
  EXPECT_EQ(ReasonOf(VerifyRegistration(a.Register(wrong_type, "u"), RegExpect(c)).status()),
            reason::kType);

  auto bs_only = c;
  bs_only.backup_state = true;
  EXPECT_EQ(ReasonOf(VerifyRegistration(a.Register(bs_only, "u"), RegExpect(c)).status()),
            reason::kBackupFlags);

  auto cross = c;
  cross.cross_origin = true;
  const std::string cross_json = a.Register(cross, "u");
  EXPECT_EQ(ReasonOf(VerifyRegistration(cross_json, RegExpect(c)).status()),
            reason::kCrossOrigin);
  e = RegExpect(c);
  e.rp.allow_cross_origin = true;
  EXPECT_TRUE(VerifyRegistration(cross_json, e).ok());

  // rawId that is not the credential id of the authenticator data.
  json j = json::parse(ok);
  j["id"] = j["rawId"] = testing::B64("another-id");
  EXPECT_EQ(ReasonOf(VerifyRegistration(j.dump(), RegExpect(c)).status()), reason::kCredential);
  // id and rawId that differ.
  j = json::parse(ok);
  j["id"] = testing::B64("another-id");
  EXPECT_EQ(VerifyRegistration(j.dump(), RegExpect(c)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistrationTest, RefusesUnsupportedAttestationFormats) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  absl::StatusOr<RegisteredCredential> r = VerifyRegistration(a.Register(c, "u", "tpm"), RegExpect(c));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ReasonOf(r.status()), reason::kAttestation);
  EXPECT_NE(r.status().message().find("\"tpm\" is not supported"), std::string::npos)
      << r.status();
}

TEST(ClientDataTest, IsParsedAsJsonNotText) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kEdDSA);
  auto c = MakeCeremony();
  ASSERT_TRUE(VerifyRegistration(a.Register(c, "u"), RegExpect(c)).ok());
  StoredCredential stored{a.CosePublicKey(), 0, false};

  auto with_client_data = [&](const std::string& client_data) {
    // A well-signed assertion over arbitrary client data.
    const std::string auth_data = absl::StrCat(Sha256(c.rp_id), "\x05", std::string("\0\0\0\x07", 4));
    const std::string sig = a.Sign(absl::StrCat(auth_data, Sha256(client_data)));
    json j = {{"id", testing::B64(a.credential_id())},
              {"rawId", testing::B64(a.credential_id())},
              {"type", "public-key"},
              {"response",
               {{"clientDataJSON", testing::B64(client_data)},
                {"authenticatorData", testing::B64(auth_data)},
                {"signature", testing::B64(sig)}}}};
    return Verify(j.dump(), AuthExpect(c), stored).status();
  };
  const std::string challenge = testing::B64(c.challenge);
  // Reordered members and extra whitespace are fine.
  EXPECT_TRUE(with_client_data(absl::StrCat(R"({ "origin" : "https://example.com", "challenge":")",
                                            challenge, R"(", "type":"webauthn.get", "other":1})"))
                  .ok());
  // A duplicated key is refused even when both values would pass.
  EXPECT_EQ(with_client_data(absl::StrCat(R"({"type":"webauthn.get","type":"webauthn.get",)",
                                          R"("challenge":")", challenge,
                                          R"(","origin":"https://example.com"})"))
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Origin only as a substring of another field.
  EXPECT_EQ(ReasonOf(with_client_data(absl::StrCat(
                R"({"type":"webauthn.get","challenge":")", challenge,
                R"(","origin":"https://evil.example","x":"\"origin\":\"https://example.com\""})"))),
            reason::kOrigin);
  // topOrigin without cross-origin being allowed.
  EXPECT_EQ(ReasonOf(with_client_data(absl::StrCat(
                R"({"type":"webauthn.get","challenge":")", challenge,
                R"(","origin":"https://example.com","crossOrigin":true,"topOrigin":"https://top.example"})"))),
            reason::kCrossOrigin);
  // Deep nesting and broken JSON.
  EXPECT_EQ(with_client_data(std::string(10000, '[') + std::string(10000, ']')).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with_client_data("{\"type\":").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientDataTest, TopOriginMustBeListed) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  StoredCredential stored{a.CosePublicKey(), 0, std::nullopt};
  const std::string client_data = absl::StrCat(
      R"({"type":"webauthn.get","challenge":")", testing::B64(c.challenge),
      R"(","origin":"https://example.com","crossOrigin":true,"topOrigin":"https://top.example"})");
  const std::string auth_data = absl::StrCat(Sha256(c.rp_id), "\x01", std::string("\0\0\0\0", 4));
  json j = {{"id", testing::B64(a.credential_id())},
            {"rawId", testing::B64(a.credential_id())},
            {"type", "public-key"},
            {"response",
             {{"clientDataJSON", testing::B64(client_data)},
              {"authenticatorData", testing::B64(auth_data)},
              {"signature", testing::B64(a.Sign(absl::StrCat(auth_data, Sha256(client_data))))}}}};
  auto e = AuthExpect(c);
  e.rp.allow_cross_origin = true;
  EXPECT_EQ(ReasonOf(Verify(j.dump(), e, stored).status()), reason::kCrossOrigin);
  e.rp.top_origins = {"https://top.example"};
  EXPECT_TRUE(Verify(j.dump(), e, stored).ok());
}

TEST(AssertionTest, BackupEligibilityMustNotChange) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  c.backup_eligible = true;
  c.backup_state = true;
  const std::string response = a.Assert(c);
  EXPECT_TRUE(Verify(response, AuthExpect(c), {a.CosePublicKey(), 0, true}).ok());
  EXPECT_EQ(ReasonOf(Verify(response, AuthExpect(c), {a.CosePublicKey(), 0, false}).status()),
            reason::kBackupFlags);
}

TEST(AssertionTest, UserVerifiedIsTheUvFlagAndRequiredUvRefusesATouchAlone) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  c.user_verified = false;  // a security key without a PIN: user presence only
  const StoredCredential stored{a.CosePublicKey(), 0, std::nullopt};
  const std::string touch_only = a.Assert(c);
  absl::StatusOr<VerifiedAssertion> relaxed = Verify(touch_only, AuthExpect(c), stored);
  ASSERT_TRUE(relaxed.ok()) << relaxed.status();
  EXPECT_FALSE(relaxed->user_verified);

  auto required = AuthExpect(c);
  required.rp.require_user_verification = true;
  absl::StatusOr<VerifiedAssertion> refused = Verify(touch_only, required, stored);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ReasonOf(refused.status()), reason::kUserVerification);

  c.user_verified = true;
  absl::StatusOr<VerifiedAssertion> verified = Verify(a.Assert(c), required, stored);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->user_verified);
}

TEST(ClientDataTest, TheBrowsersOriginIsComparedExactly) {
  // The configuration is normalised (origin.h); what the browser sent is not.
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  for (const char* sent : {"https://Example.com", "https://example.com/", "https://example.com:443",
                           "https://example.com.", "http://example.com"}) {
    auto c = MakeCeremony();
    c.origin = sent;
    EXPECT_EQ(ReasonOf(VerifyRegistration(a.Register(c, "u"), RegExpect(c)).status()),
              reason::kOrigin)
        << sent;
  }
}

// Registrations attested by a software vendor CA: what --require_attestation counts.
class AttestationPolicyTest : public ::testing::Test {
 protected:
  static constexpr char kModel[] = "cb69481e-8ff7-4039-93ec-0a2729a154a8";

  AttestationPolicyTest() {
    model_ = *ParseAaguid(kModel);
    authenticator_.set_aaguid(model_);
    anchors_ = *TrustAnchors::FromPem(vendor_.RootPem());
  }

  RegistrationExpectation Required() const {
    RegistrationExpectation e = RegExpect(ceremony_);
    e.trust_anchors = anchors_;
    e.require_attestation = true;
    e.allowed_aaguids = {model_};
    return e;
  }

  absl::StatusOr<RegisteredCredential> RegisterWith(
      std::shared_ptr<const testing::AttestationKey> key, const RegistrationExpectation& e,
      absl::string_view fmt = "packed") {
    authenticator_.set_attestation_key(std::move(key));
    return VerifyRegistration(authenticator_.Register(ceremony_, "u", fmt), e);
  }

  SoftAuthenticator authenticator_{SoftAuthenticator::Alg::kES256};
  SoftAuthenticator::Ceremony ceremony_ = MakeCeremony();
  AttestationCa vendor_{"Vendor Root"};
  AttestationCa stranger_{"Stranger Root"};
  std::string model_;
  std::shared_ptr<const TrustAnchors> anchors_;
};

TEST_F(AttestationPolicyTest, AChainToTheAnchorsWithAListedModelCounts) {
  absl::StatusOr<RegisteredCredential> reg = RegisterWith(vendor_.Issue(model_), Required());
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->attestation_type, "basic");
  EXPECT_TRUE(reg->attestation_trusted);
  EXPECT_EQ(FormatAaguid(reg->aaguid), kModel);
  // The certificate need not name the AAGUID: its key signed the authenticator data.
  reg = RegisterWith(vendor_.Issue(model_, /*aaguid_extension=*/false), Required());
  ASSERT_TRUE(reg.ok()) << reg.status();
  // One that names another model does not match the authenticator data.
  reg = RegisterWith(vendor_.Issue(std::string(16, '\x01')), Required());
  EXPECT_EQ(ReasonOf(reg.status()), reason::kAttestation) << reg.status();
}

TEST_F(AttestationPolicyTest, NoneAndSelfAttestationNeverCountWhateverTheirAaguid) {
  // Keycloak CVE-2026-6856: unattested data names an allowed model, chosen by the attacker.
  for (const char* fmt : {"none", "packed"}) {
    absl::StatusOr<RegisteredCredential> reg = RegisterWith(nullptr, Required(), fmt);
    EXPECT_EQ(reg.status().code(), absl::StatusCode::kUnauthenticated) << fmt;
    EXPECT_EQ(ReasonOf(reg.status()), reason::kAttestation) << fmt;
    EXPECT_THAT(std::string(reg.status().message()), ::testing::HasSubstr("is required")) << fmt;
    // Without the requirement both are taken, untrusted.
    reg = RegisterWith(nullptr, RegExpect(ceremony_), fmt);
    ASSERT_TRUE(reg.ok()) << fmt << reg.status();
    EXPECT_FALSE(reg->attestation_trusted);
  }
}

TEST_F(AttestationPolicyTest, AnUnlistedModelOrAForeignCaDoesNotCount) {
  authenticator_.set_aaguid(std::string(16, '\x07'));
  absl::StatusOr<RegisteredCredential> reg =
      RegisterWith(vendor_.Issue(std::string(16, '\x07')), Required());
  EXPECT_EQ(reg.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ReasonOf(reg.status()), reason::kAaguid);
  EXPECT_THAT(std::string(reg.status().message()),
              ::testing::HasSubstr("07070707-0707-0707-0707-070707070707"));

  authenticator_.set_aaguid(model_);
  reg = RegisterWith(stranger_.Issue(model_), Required());
  EXPECT_EQ(ReasonOf(reg.status()), reason::kAttestation);
  EXPECT_THAT(std::string(reg.status().message()), ::testing::HasSubstr("trusted CA"));

  // A chain checked against no anchors at all proves nothing either.
  RegistrationExpectation no_anchors = Required();
  no_anchors.trust_anchors = nullptr;
  reg = RegisterWith(vendor_.Issue(model_), no_anchors);
  EXPECT_EQ(ReasonOf(reg.status()), reason::kAttestation);
  reg = RegisterWith(vendor_.Issue(model_), RegExpect(ceremony_));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->attestation_type, "basic");
  EXPECT_FALSE(reg->attestation_trusted);
}

TEST(AaguidTest, ParsesUuidsInAnyCase) {
  absl::StatusOr<std::string> aaguid = ParseAaguid("CB69481E-8ff7-4039-93ec-0a2729a154a8");
  ASSERT_TRUE(aaguid.ok()) << aaguid.status();
  EXPECT_EQ(FormatAaguid(*aaguid), "cb69481e-8ff7-4039-93ec-0a2729a154a8");
  for (const char* bad :
       {"", "cb69481e8ff7403993ec0a2729a154a8", "cb69481e-8ff7-4039-93ec-0a2729a154a",
        "cb69481e-8ff7-4039-93ec-0a2729a154a8 ", "zb69481e-8ff7-4039-93ec-0a2729a154a8",
        "cb69481e-8ff7-4039-93ec_0a2729a154a8"}) {
    EXPECT_EQ(ParseAaguid(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AssertionTest, SyncedPasskeysWithZeroCountersPass) {
  SoftAuthenticator a(SoftAuthenticator::Alg::kES256);
  auto c = MakeCeremony();
  a.set_counter(static_cast<uint32_t>(-1));  // the next assertion says 0
  EXPECT_TRUE(Verify(a.Assert(c), AuthExpect(c), {a.CosePublicKey(), 0, std::nullopt}).ok());
}

TEST(CoseKeyTest, RefusesBadShapes) {
  using testing::CborBytes;
  using testing::CborHead;
  using testing::CborInt;
  // EC2 point not on the curve.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 5), CborInt(1), CborInt(2), CborInt(3),
                                         CborInt(-7), CborInt(-1), CborInt(1), CborInt(-2),
                                         CborBytes(std::string(32, '\x01')), CborInt(-3),
                                         CborBytes(std::string(32, '\x02'))))
                   .ok());
  // ES256 on P-384.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 5), CborInt(1), CborInt(2), CborInt(3),
                                         CborInt(-7), CborInt(-1), CborInt(2), CborInt(-2),
                                         CborBytes(std::string(48, '\x01')), CborInt(-3),
                                         CborBytes(std::string(48, '\x02'))))
                   .ok());
  // Ed25519 key of 31 bytes.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 4), CborInt(1), CborInt(1), CborInt(3),
                                         CborInt(-8), CborInt(-1), CborInt(6), CborInt(-2),
                                         CborBytes(std::string(31, '\x01'))))
                   .ok());
  // RSA modulus of 1024 bits, and an even one.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 4), CborInt(1), CborInt(3), CborInt(3),
                                         CborInt(-257), CborInt(-1),
                                         CborBytes(std::string(128, '\xff')), CborInt(-2),
                                         CborBytes(std::string("\x01\x00\x01", 3))))
                   .ok());
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 4), CborInt(1), CborInt(3), CborInt(3),
                                         CborInt(-257), CborInt(-1),
                                         CborBytes(std::string(256, '\xfe')), CborInt(-2),
                                         CborBytes(std::string("\x01\x00\x01", 3))))
                   .ok());
  // Unsupported algorithm (PS256), and a duplicated label.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 2), CborInt(1), CborInt(3), CborInt(3),
                                         CborInt(-37)))
                   .ok());
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 2), CborInt(1), CborInt(2), CborInt(1),
                                         CborInt(2)))
                   .ok());
  // An algorithm that only wraps around to ES256 when truncated to 32 bits.
  EXPECT_FALSE(ParseCoseKey(absl::StrCat(CborHead(5, 5), CborInt(1), CborInt(2), CborInt(3),
                                         CborInt(int64_t{4294967289}), CborInt(-1), CborInt(1),
                                         CborInt(-2), CborBytes(std::string(32, '\x01')),
                                         CborInt(-3), CborBytes(std::string(32, '\x02'))))
                   .ok());
  // All algorithms of the software authenticator parse.
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    SoftAuthenticator a(alg);
    EXPECT_TRUE(ParseCoseKey(a.CosePublicKey()).ok());
  }
}

TEST(CoseKeyTest, StoredKeysSkipOnlyTheRegistrationTimeValidation) {
  using testing::CborBytes;
  using testing::CborHead;
  using testing::CborInt;
  // A point off the curve is refused however the key is checked.
  const std::string off_curve = absl::StrCat(
      CborHead(5, 5), CborInt(1), CborInt(2), CborInt(3), CborInt(-7), CborInt(-1), CborInt(1),
      CborInt(-2), CborBytes(std::string(32, '\x01')), CborInt(-3),
      CborBytes(std::string(32, '\x02')));
  EXPECT_FALSE(ParseCoseKey(off_curve, KeyCheck::kFull).ok());
  EXPECT_FALSE(ParseCoseKey(off_curve, KeyCheck::kStored).ok());
  // So is an RSA modulus of the wrong size.
  const std::string short_rsa = absl::StrCat(
      CborHead(5, 4), CborInt(1), CborInt(3), CborInt(3), CborInt(-257), CborInt(-1),
      CborBytes(std::string(128, '\xff')), CborInt(-2), CborBytes(std::string("\x01\x00\x01", 3)));
  EXPECT_FALSE(ParseCoseKey(short_rsa, KeyCheck::kStored).ok());
  // 2^2048 - 1 is divisible by 3: registration refuses it (SP 800-56B), a stored key is not
  // tested again because registration already did.
  const std::string small_factor = absl::StrCat(
      CborHead(5, 4), CborInt(1), CborInt(3), CborInt(3), CborInt(-257), CborInt(-1),
      CborBytes(std::string(256, '\xff')), CborInt(-2), CborBytes(std::string("\x01\x00\x01", 3)));
  EXPECT_FALSE(ParseCoseKey(small_factor, KeyCheck::kFull).ok());
  EXPECT_TRUE(ParseCoseKey(small_factor, KeyCheck::kStored).ok());
  // Real keys parse both ways, to the same key.
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    SoftAuthenticator a(alg);
    absl::StatusOr<CosePublicKey> full = ParseCoseKey(a.CosePublicKey(), KeyCheck::kFull);
    absl::StatusOr<CosePublicKey> stored = ParseCoseKey(a.CosePublicKey(), KeyCheck::kStored);
    ASSERT_TRUE(full.ok()) << full.status();
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(full->alg, stored->alg);
    EXPECT_EQ(EVP_PKEY_eq(full->key.get(), stored->key.get()), 1);
  }
}

TEST(AuthenticatorDataTest, ParsesStrictly) {
  const std::string base = absl::StrCat(std::string(32, 'h'), "\x01", std::string("\0\0\0\x05", 4));
  absl::StatusOr<AuthenticatorData> d = ParseAuthenticatorData(base);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->sign_count, 5u);
  EXPECT_FALSE(ParseAuthenticatorData(base.substr(0, 36)).ok());
  EXPECT_FALSE(ParseAuthenticatorData(absl::StrCat(base, "x")).ok());
  // ED set: an extensions map must follow, and nothing after it.
  std::string ed = base;
  ed[32] = '\x81';
  EXPECT_FALSE(ParseAuthenticatorData(ed).ok());
  EXPECT_TRUE(ParseAuthenticatorData(absl::StrCat(ed, "\xa0")).ok());
  EXPECT_FALSE(ParseAuthenticatorData(absl::StrCat(ed, std::string("\xa0\x00", 2))).ok());
  EXPECT_FALSE(ParseAuthenticatorData(absl::StrCat(ed, "\x80")).ok());
  // AT set with a credential id length beyond the data / above 1023.
  std::string at = base;
  at[32] = '\x41';
  EXPECT_FALSE(ParseAuthenticatorData(absl::StrCat(at, std::string(16, 'a'), std::string("\x00\x10", 2))).ok());
  EXPECT_FALSE(ParseAuthenticatorData(
                   absl::StrCat(at, std::string(16, 'a'), std::string("\x04\x00", 2), std::string(1024, 'i'), "\xa0"))
                   .ok());
}

TEST(ResponseJsonTest, RefusesMalformedEnvelopes) {
  for (const char* bad : {"", "[]", "{}", R"({"type":"public-key"})",
                          R"({"id":"AA","rawId":"AA","type":"other","response":{}})",
                          R"({"id":"A=A","rawId":"A=A","type":"public-key","response":{}})",
                          R"({"id":"AA","rawId":"AA","type":"public-key","response":[]})",
                          R"({"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":1}})"}) {
    absl::StatusOr<AssertionResponse> r = ParseAssertionResponse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(VerifyRegistration(bad, RegistrationExpectation{}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace tally::webauthn
