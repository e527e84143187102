#include "services/passkey/webauthn/vectors.h"

#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally::webauthn {
namespace {

using json = nlohmann::json;

absl::StatusOr<std::string> B64(const json& c, const char* field) {
  auto it = c.find(field);
  std::string out;
  if (it == c.end() || !it->is_string() ||
      !Base64UrlDecode(it->get_ref<const std::string&>(), &out)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be a base64url string"));
  }
  return out;
}

absl::StatusOr<VectorCase> ParseCase(const json& c) {
  if (!c.is_object()) return absl::InvalidArgumentError("a case must be an object");
  VectorCase out;
  out.name = c.value("name", "");
  const std::string ceremony = c.value("ceremony", "");
  if (ceremony != "registration" && ceremony != "authentication") {
    return absl::InvalidArgumentError("ceremony must be registration or authentication");
  }
  out.registration = ceremony == "registration";
  if (!c.contains("credential")) return absl::InvalidArgumentError("credential missing");
  out.credential_json = c["credential"].dump();
  absl::StatusOr<std::string> challenge = B64(c, "expected_challenge");
  if (!challenge.ok()) return challenge.status();
  out.challenge = *challenge;
  out.rp.rp_id = c.value("expected_rp_id", "");
  const json& origins = c.value("expected_origin", json::array());
  if (origins.is_string()) {
    out.rp.origins.push_back(origins.get<std::string>());
  } else if (origins.is_array()) {
    for (const json& o : origins) {
      if (o.is_string()) out.rp.origins.push_back(o.get<std::string>());
    }
  }
  out.rp.require_user_verification = c.value("require_user_verification", false);
  out.rp.allow_cross_origin = c.value("allow_cross_origin", false);
  if (auto it = c.find("top_origins"); it != c.end() && it->is_array()) {
    for (const json& o : *it) {
      if (o.is_string()) out.rp.top_origins.push_back(o.get<std::string>());
    }
  }
  if (!out.registration) {
    absl::StatusOr<std::string> key = B64(c, "credential_public_key");
    if (!key.ok()) return key.status();
    out.credential_public_key = *key;
    const int64_t count = c.value("stored_sign_count", int64_t{0});
    if (count < 0 || count > UINT32_MAX) {
      return absl::InvalidArgumentError("stored_sign_count out of range");
    }
    out.stored_sign_count = static_cast<uint32_t>(count);
  }
  out.fmt = c.value("fmt", "");
  const std::string expect = c.value("expect", "");
  if (expect != "accept" && expect != "reject") {
    return absl::InvalidArgumentError("expect must be accept or reject");
  }
  out.expect_accept = expect == "accept";
  out.expect_reason = c.value("reason", "");
  return out;
}

}  // namespace

absl::StatusOr<std::vector<VectorCase>> ParseVectorFile(absl::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (doc.is_object() && doc.contains("cases")) doc = doc["cases"];
  if (!doc.is_array()) return absl::InvalidArgumentError("expected a JSON array of cases");
  std::vector<VectorCase> cases;
  for (size_t i = 0; i < doc.size(); ++i) {
    try {
      absl::StatusOr<VectorCase> c = ParseCase(doc[i]);
      if (!c.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("case ", i, ": ", c.status().message()));
      }
      cases.push_back(*std::move(c));
    } catch (const json::exception& e) {
      // value() throws on a field of the wrong type.
      return absl::InvalidArgumentError(absl::StrCat("case ", i, ": a field has the wrong type"));
    }
  }
  return cases;
}

absl::Status RunVectorCase(const VectorCase& c) {
  if (c.registration) {
    RegistrationExpectation expect;
    expect.rp = c.rp;
    expect.challenge = c.challenge;
    absl::StatusOr<RegisteredCredential> result = VerifyRegistration(c.credential_json, expect);
    if (!result.ok()) return result.status();
    if (!c.fmt.empty() && result->format != c.fmt) {
      return absl::InvalidArgumentError(
          absl::StrCat("attestation format is ", result->format, ", the case says ", c.fmt));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<AssertionResponse> response = ParseAssertionResponse(c.credential_json);
  if (!response.ok()) return response.status();
  AuthenticationExpectation expect;
  expect.rp = c.rp;
  expect.challenge = c.challenge;
  StoredCredential stored;
  stored.public_key_cose = c.credential_public_key;
  stored.sign_count = c.stored_sign_count;
  return VerifyAssertion(*response, expect, stored).status();
}

}  // namespace tally::webauthn
