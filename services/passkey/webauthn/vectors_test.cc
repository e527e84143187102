// The shared interoperability vectors, and byte-by-byte mutations of every accepted case.

#include "services/passkey/webauthn/vectors.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/util/file.h"
#include "common/util/text.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/soft_authenticator.h"
#include "services/passkey/webauthn/cbor.h"

namespace tally::webauthn {
namespace {

using json = nlohmann::json;

std::vector<VectorCase> LoadVectors() {
  const char* source = std::getenv("TALLY_SOURCE_DIR");
  // The shared folder is a sibling of the repository (CI copies it beside the clone).
  const std::string dir = source != nullptr ? source : TALLY_DEFAULT_SOURCE_DIR;
  const std::string path = dir + "/../shared/testdata/webauthn/py_webauthn_vectors.json";
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::vector<VectorCase>> cases = ParseVectorFile(text.ok() ? *text : "");
  EXPECT_TRUE(cases.ok()) << cases.status();
  return cases.ok() ? *cases : std::vector<VectorCase>{};
}

std::string B64(absl::string_view s) { return Base64UrlEncode(std::string_view(s.data(), s.size())); }
std::string Unb64(const std::string& s) {
  std::string out;
  EXPECT_TRUE(Base64UrlDecode(s, &out));
  return out;
}

TEST(VectorsTest, EveryCaseHasItsExpectedOutcome) {
  std::vector<VectorCase> cases = LoadVectors();
  ASSERT_GE(cases.size(), 13u);
  for (const VectorCase& c : cases) {
    absl::Status s = RunVectorCase(c);
    if (c.expect_accept) {
      EXPECT_TRUE(s.ok()) << c.name << " (" << c.fmt << "): " << s;
    } else {
      EXPECT_FALSE(s.ok()) << c.name << " should be refused: " << c.expect_reason;
    }
  }
}

// A field of the credential JSON's response, decoded; and a setter.
std::string Field(const VectorCase& c, const char* name) {
  return Unb64(json::parse(c.credential_json)["response"][name].get<std::string>());
}
VectorCase WithField(const VectorCase& c, const char* name, absl::string_view value) {
  json j = json::parse(c.credential_json);
  j["response"][name] = B64(value);
  VectorCase out = c;
  out.credential_json = j.dump();
  return out;
}

// Flips one byte of `field` at each position in [begin, end) and expects every result refused.
void ExpectEveryFlipRefused(const VectorCase& c, const char* field, size_t begin, size_t end,
                            absl::string_view what) {
  const std::string original = Field(c, field);
  for (size_t i = begin; i < end && i < original.size(); ++i) {
    std::string mutated = original;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x01);
    EXPECT_FALSE(RunVectorCase(WithField(c, field, mutated)).ok())
        << c.name << ": " << what << " byte " << i << " flipped was accepted";
  }
}

void ExpectExpectationMutationsRefused(const VectorCase& c) {
  VectorCase m = c;
  m.challenge[0] ^= 0x01;
  EXPECT_FALSE(RunVectorCase(m).ok()) << c.name << ": other challenge";
  m = c;
  m.challenge += "x";
  EXPECT_FALSE(RunVectorCase(m).ok()) << c.name << ": longer challenge";
  m = c;
  m.rp.origins = {"https://evil.example"};
  EXPECT_FALSE(RunVectorCase(m).ok()) << c.name << ": other origin";
  m = c;
  m.rp.rp_id = "evil.example";
  EXPECT_FALSE(RunVectorCase(m).ok()) << c.name << ": other RP ID";
}

TEST(VectorsTest, MutatedAssertionsAreRefused) {
  int mutated_cases = 0;
  for (const VectorCase& c : LoadVectors()) {
    if (c.registration || !c.expect_accept) continue;
    ASSERT_TRUE(RunVectorCase(c).ok()) << c.name;
    ++mutated_cases;
    const std::string auth_data = Field(c, "authenticatorData");
    // Every byte is signed: rpIdHash, flags, counter.
    ExpectEveryFlipRefused(c, "authenticatorData", 0, auth_data.size(), "authenticator data");
    ExpectEveryFlipRefused(c, "signature", 0, Field(c, "signature").size(), "signature");
    ExpectEveryFlipRefused(c, "clientDataJSON", 0, Field(c, "clientDataJSON").size(),
                           "client data");
    ExpectExpectationMutationsRefused(c);
    // Flags: UP cleared; UV demanded where the authenticator did not verify; BS without BE.
    std::string flags = auth_data;
    flags[32] = static_cast<char>(flags[32] & ~0x01);
    EXPECT_FALSE(RunVectorCase(WithField(c, "authenticatorData", flags)).ok()) << c.name;
    if ((auth_data[32] & 0x04) == 0) {
      VectorCase uv = c;
      uv.rp.require_user_verification = true;
      EXPECT_FALSE(RunVectorCase(uv).ok()) << c.name << ": UV required";
    }
    // Counter: a stored counter at or above the received one.
    const uint32_t received = (uint32_t{static_cast<uint8_t>(auth_data[33])} << 24) |
                              (uint32_t{static_cast<uint8_t>(auth_data[34])} << 16) |
                              (uint32_t{static_cast<uint8_t>(auth_data[35])} << 8) |
                              static_cast<uint8_t>(auth_data[36]);
    VectorCase counter = c;
    counter.stored_sign_count = received == 0 ? 1 : received;
    absl::Status s = RunVectorCase(counter);
    EXPECT_EQ(ReasonOf(s), reason::kCounter) << c.name << ": " << s;
    counter.stored_sign_count = received + 1000;
    EXPECT_EQ(ReasonOf(RunVectorCase(counter)), reason::kCounter) << c.name;
    // Truncated and extended authenticator data.
    EXPECT_FALSE(RunVectorCase(WithField(c, "authenticatorData", auth_data.substr(0, 36))).ok());
    EXPECT_FALSE(
        RunVectorCase(WithField(c, "authenticatorData", absl::StrCat(auth_data, std::string(1, '\0')))).ok());
  }
  EXPECT_GE(mutated_cases, 4);
}

// The attestation object's authData and attStmt.sig, with their offsets inside it.
struct AttestationParts {
  std::string object, auth_data, sig;
  size_t auth_data_at = 0, sig_at = std::string::npos;
};

AttestationParts Parts(const VectorCase& c) {
  AttestationParts p;
  p.object = Field(c, "attestationObject");
  absl::StatusOr<CborItem> item = DecodeCbor(p.object);
  EXPECT_TRUE(item.ok());
  p.auth_data = CborBytes(CborMapGet(item->get(), "authData")).value_or("");
  p.auth_data_at = p.object.find(p.auth_data);
  std::optional<std::string> sig = CborBytes(CborMapGet(CborMapGet(item->get(), "attStmt"), "sig"));
  if (sig) {
    p.sig = *sig;
    p.sig_at = p.object.find(p.sig);
  }
  return p;
}

void ExpectObjectFlipsRefused(const VectorCase& c, const AttestationParts& p, size_t begin,
                              size_t end, absl::string_view what) {
  for (size_t i = begin; i < end; ++i) {
    std::string mutated = p.object;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x01);
    EXPECT_FALSE(RunVectorCase(WithField(c, "attestationObject", mutated)).ok())
        << c.name << " (" << c.fmt << "): " << what << " byte " << i - begin
        << " flipped was accepted";
  }
}

TEST(VectorsTest, MutatedRegistrationsAreRefused) {
  int mutated_cases = 0;
  for (const VectorCase& c : LoadVectors()) {
    if (!c.registration || !c.expect_accept) continue;
    ASSERT_TRUE(RunVectorCase(c).ok()) << c.name;
    ++mutated_cases;
    AttestationParts p = Parts(c);
    ASSERT_NE(p.auth_data_at, std::string::npos);
    ExpectExpectationMutationsRefused(c);
    // rpIdHash is checked whatever the format.
    ExpectObjectFlipsRefused(c, p, p.auth_data_at, p.auth_data_at + 32, "rpIdHash");
    // The credential id must equal rawId.
    const size_t id_len = (size_t{static_cast<uint8_t>(p.auth_data[53])} << 8) |
                          static_cast<uint8_t>(p.auth_data[54]);
    ExpectObjectFlipsRefused(c, p, p.auth_data_at + 55, p.auth_data_at + 55 + id_len,
                             "credential id");
    // UP cleared.
    std::string no_up = p.object;
    no_up[p.auth_data_at + 32] = static_cast<char>(no_up[p.auth_data_at + 32] & ~0x01);
    EXPECT_FALSE(RunVectorCase(WithField(c, "attestationObject", no_up)).ok()) << c.name;
    // AT and ED flipped: the structure no longer matches the flags.
    for (uint8_t bit : {0x40, 0x80}) {
      std::string m = p.object;
      m[p.auth_data_at + 32] = static_cast<char>(m[p.auth_data_at + 32] ^ bit);
      EXPECT_FALSE(RunVectorCase(WithField(c, "attestationObject", m)).ok()) << c.name;
    }
    if (c.fmt == "packed") {
      // Every byte of authData is signed, and so is the client data.
      ExpectObjectFlipsRefused(c, p, p.auth_data_at, p.auth_data_at + p.auth_data.size(),
                               "authenticator data");
    }
    if (c.fmt != "none") {
      ASSERT_NE(p.sig_at, std::string::npos);
      ExpectObjectFlipsRefused(c, p, p.sig_at, p.sig_at + p.sig.size(), "signature");
      ExpectEveryFlipRefused(c, "clientDataJSON", 0, Field(c, "clientDataJSON").size(),
                             "client data");
      // fido-u2f signs rpIdHash, client data, credential id and public key, not the counter.
      ExpectObjectFlipsRefused(c, p, p.auth_data_at + 55 + id_len,
                               p.auth_data_at + p.auth_data.size(), "credential public key");
    }
    // Trailing bytes after the attestation object.
    EXPECT_FALSE(
        RunVectorCase(WithField(c, "attestationObject", absl::StrCat(p.object, std::string(1, '\0')))).ok());
  }
  EXPECT_GE(mutated_cases, 5);
}

}  // namespace
}  // namespace tally::webauthn

namespace tally::webauthn {
namespace {

TEST(VectorFileTest, HonoursCrossOriginFields) {
  testing::SoftAuthenticator a(testing::SoftAuthenticator::Alg::kES256);
  testing::SoftAuthenticator::Ceremony c;
  c.rp_id = "example.com";
  c.origin = "https://example.com";
  c.challenge = "0123456789abcdef0123456789abcdef";
  c.cross_origin = true;
  json file = json::array();
  for (bool allow : {false, true}) {
    json vector = {{"name", allow ? "allowed" : "refused"},
                   {"ceremony", "registration"},
                   {"credential", json::parse(a.Register(c, "u"))},
                   {"expected_challenge", B64(c.challenge)},
                   {"expected_rp_id", "example.com"},
                   {"expected_origin", {"https://example.com"}},
                   {"require_user_verification", false},
                   {"fmt", "none"},
                   {"expect", allow ? "accept" : "reject"}};
    if (allow) {
      vector["allow_cross_origin"] = true;
      vector["top_origins"] = {"https://top.example"};
    }
    file.push_back(vector);
  }
  absl::StatusOr<std::vector<VectorCase>> cases = ParseVectorFile(file.dump());
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_FALSE((*cases)[0].rp.allow_cross_origin);
  EXPECT_TRUE((*cases)[1].rp.allow_cross_origin);
  EXPECT_EQ((*cases)[1].rp.top_origins, std::vector<std::string>{"https://top.example"});
  EXPECT_EQ(ReasonOf(RunVectorCase((*cases)[0])), reason::kCrossOrigin);
  EXPECT_TRUE(RunVectorCase((*cases)[1]).ok());
  EXPECT_FALSE(ParseVectorFile("{").ok());
  EXPECT_FALSE(ParseVectorFile(R"([{"ceremony":"other"}])").ok());
}

}  // namespace
}  // namespace tally::webauthn
