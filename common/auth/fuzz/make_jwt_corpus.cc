// Writes the seed corpus of the JWT fuzz targets (corpus/<target>/) with the project's own
// JwtSigner and JwtVerifier and the fixed fuzz key, so the seeds are real tokens and JWK Sets:
//
//   build-fuzz/bin/make_jwt_corpus common/auth/fuzz/corpus
//
// Besides valid tokens it writes the shapes attackers send (alg none, HS256, unknown kid,
// expired, not yet valid, duplicate claims), each signed by the fuzz key where a signature
// applies, so mutations start next to every branch of the verifier.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth/fuzz/fuzz_keys.h"
#include "common/auth/jwt.h"
#include "common/util/text.h"

namespace {

namespace fs = std::filesystem;
using tally::Base64UrlEncode;

void Write(const fs::path& dir, const std::string& name, const std::string& content) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) {
    std::cerr << "cannot write " << (dir / name) << "\n";
    std::exit(1);
  }
}

tally::SessionClaims Claims() {
  tally::SessionClaims c;
  c.issuer = tally::fuzz::kIssuer;
  c.subject = "usr_3kT9bQz1xW";
  c.directory_id = "dir_8FqLm2Rt0s";
  c.session_id = "ses_Yc51pNw7Ua";
  c.acr = "30";
  c.amr = {"pwd", "sms"};
  c.roles = {"admin", "user"};
  c.issued_at = tally::fuzz::Frozen().Now() - absl::Minutes(5);
  c.auth_time = c.issued_at;
  c.expires_at = c.issued_at + absl::Hours(1);
  return c;
}

std::string Signed(const std::string& header, const std::string& payload) {
  const std::string input = absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(payload));
  return absl::StrCat(input, ".", Base64UrlEncode(*tally::fuzz::FuzzKey().Sign(input)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_jwt_corpus <corpus directory>\n";
    return 2;
  }
  const fs::path root = argv[1];
  const tally::JwtSigner& signer = tally::fuzz::Signer();
  const std::string kid = signer.kid();
  const std::string header = absl::StrCat(R"({"alg":"EdDSA","kid":")", kid, R"(","typ":"JWT"})");
  const auto now = absl::ToUnixSeconds(tally::fuzz::Frozen().Now());

  // Payloads: what the orchestrator signs, and the edge cases of the claim checks.
  tally::SessionClaims user = Claims();
  user.roles = {"user"};
  user.amr = {"hwk"};
  user.acr = "30";
  std::vector<std::pair<std::string, std::string>> payloads;
  auto payload_of = [&](const tally::SessionClaims& c) {
    const std::string token = *signer.Sign(c);
    const size_t a = token.find('.'), b = token.rfind('.');
    std::string json;
    tally::Base64UrlDecode(token.substr(a + 1, b - a - 1), &json);
    return json;
  };
  payloads.emplace_back("admin", payload_of(Claims()));
  payloads.emplace_back("user", payload_of(user));
  payloads.emplace_back(
      "nbf_fractional",
      absl::StrCat(R"({"iss":"tally","sub":"usr_a","dir":"dir_b","sid":"ses_c","iat":)", now - 10,
                   R"(.25,"exp":)", now + 600, R"(.5,"auth_time":)", now - 10, R"(,"nbf":)",
                   now - 1, R"(,"amr":[],"roles":[]})"));
  payloads.emplace_back(
      "expired", absl::StrCat(R"({"iss":"tally","sub":"usr_a","dir":"dir_b","sid":"ses_c","iat":)",
                              now - 7200, R"(,"exp":)", now - 3600, R"(,"auth_time":)", now - 7200,
                              "}"));
  payloads.emplace_back(
      "duplicate_sub",
      absl::StrCat(R"({"iss":"tally","sub":"usr_a","sub":"usr_b","dir":"dir_b","sid":"ses_c",)",
                   R"("iat":)", now, R"(,"exp":)", now + 60, R"(,"auth_time":)", now, "}"));
  payloads.emplace_back(
      "amr_time",
      absl::StrCat(R"({"iss":"tally","sub":"usr_a","dir":"dir_b","sid":"ses_c","amr":["pwd","sms"],)",
                   R"("amr_time":{"pwd":)", now - 60, R"(,"sms":)", now - 30, R"(.5},"iat":)", now,
                   R"(,"exp":)", now + 60, R"(,"auth_time":)", now - 30, "}"));
  payloads.emplace_back(
      "methods",
      absl::StrCat(R"({"iss":"tally","sub":"usr_a","dir":"dir_b","sid":"ses_c","amr":["pwd","otp"],)",
                   R"("methods":["password","totp"],"amr_time":{"password":)", now - 60,
                   R"(,"totp":)", now - 30, R"(},"iat":)", now, R"(,"exp":)", now + 60,
                   R"(,"auth_time":)", now - 30, "}"));
  payloads.emplace_back(
      "unicode", absl::StrCat(R"({"iss":"tally","sub":"usr_\u00e9\ud83d\ude00","dir":"dir_b",)",
                              R"("sid":"ses_c","acr":"","roles":["admin"],"iat":)", now,
                              R"(,"exp":)", now + 60, R"(,"auth_time":)", now, "}"));

  // jwt_claims: "<header>\0<payload>", or the payload alone under the signer's header.
  const fs::path claims_dir = root / "jwt_claims";
  for (const auto& [name, payload] : payloads) {
    Write(claims_dir, "payload_" + name, payload);
    Write(claims_dir, "pair_" + name, absl::StrCat(header, std::string(1, '\0'), payload));
  }
  const std::string admin_payload = payloads.front().second;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"alg_none", R"({"alg":"none","typ":"JWT"})"},
      {"hs256", absl::StrCat(R"({"alg":"HS256","kid":")", kid, R"("})")},
      {"unknown_kid", R"({"alg":"EdDSA","kid":"not-our-key","typ":"JWT"})"},
      {"crit", absl::StrCat(R"({"alg":"EdDSA","kid":")", kid, R"(","crit":["exp"]})")},
      {"typ_lower", absl::StrCat(R"({"alg":"EdDSA","kid":")", kid, R"(","typ":"jwt"})")},
      {"jwk_header", absl::StrCat(R"({"alg":"EdDSA","kid":")", kid,
                                  R"(","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"}})")},
  };
  for (const auto& [name, h] : headers) {
    Write(claims_dir, "pair_" + name, absl::StrCat(h, std::string(1, '\0'), admin_payload));
  }

  // jwt_verify: whole tokens as callers send them.
  const fs::path verify_dir = root / "jwt_verify";
  for (const auto& [name, payload] : payloads) {
    Write(verify_dir, "token_" + name, Signed(header, payload));
  }
  for (const auto& [name, h] : headers) {
    Write(verify_dir, "token_" + name, Signed(h, admin_payload));
  }
  Write(verify_dir, "unsigned_alg_none",
        absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".", Base64UrlEncode(admin_payload),
                     "."));

  // jwks: what --jwks_file holds, from our own export and in the shapes other issuers publish.
  const fs::path jwks_dir = root / "jwks";
  const tally::JwtVerifier& verifier = tally::fuzz::Verifier();
  Write(jwks_dir, "own_export", verifier.ToJwks());
  const tally::Ed25519PrivateKey second = *tally::Ed25519PrivateKey::FromRaw(std::string(32, '\x42'));
  const std::string x = Base64UrlEncode(signer.PublicKey().Raw());
  const std::string x2 = Base64UrlEncode(second.PublicKey().Raw());
  const absl::StatusOr<tally::JwtVerifier> rotation = tally::JwtVerifier::FromKeys(
      {signer.PublicKey(), second.PublicKey()}, tally::fuzz::Options(), tally::fuzz::Frozen());
  Write(jwks_dir, "two_keys_rotation", rotation->ToJwks());
  Write(jwks_dir, "mixed_kinds",
        absl::StrCat(R"({"keys":[{"kty":"RSA","n":"0vx7agoebGcQ","e":"AQAB","kid":"rsa1"},)",
                     R"({"kty":"OKP","crv":"X25519","x":")", x2, R"("},)",
                     R"({"kty":"OKP","crv":"Ed25519","use":"enc","x":")", x2, R"("},)",
                     R"({"kty":"OKP","crv":"Ed25519","x":")", x, R"("}]})"));
  Write(jwks_dir, "private_part",
        absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", x,
                     R"(","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]})"));
  Write(jwks_dir, "duplicate_kid",
        absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":")", x,
                     R"("},{"kty":"OKP","crv":"Ed25519","kid":"k","x":")", x2, R"("}]})"));

  // base64url: the pieces of a token, and padding and alphabet edge cases.
  const fs::path b64_dir = root / "base64url";
  const std::string token = *signer.Sign(Claims());
  Write(b64_dir, "header", token.substr(0, token.find('.')));
  Write(b64_dir, "signature", token.substr(token.rfind('.') + 1));
  Write(b64_dir, "padded", "YWJjZA==");
  Write(b64_dir, "standard_alphabet", "a+b/c==");
  Write(b64_dir, "non_canonical", "YR");
  std::cout << "wrote the seed corpus under " << root << "\n";
  return 0;
}
