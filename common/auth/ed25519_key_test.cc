#include "common/auth/ed25519_key.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// RFC 8037 Appendix A: the key, its public half and its RFC 7638 thumbprint.
constexpr char kRfcD[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr char kRfcX[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr char kRfcKid[] = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
// The same private key as PKCS#8 PEM (its DER is a fixed prefix and the 32-byte seed "d").
constexpr char kRfcPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

Ed25519PrivateKey RfcKey() {
  std::string seed;
  EXPECT_TRUE(Base64UrlDecode(kRfcD, &seed));
  return *Ed25519PrivateKey::FromRaw(seed);
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/ed25519_key_test_", ::getpid(), "_", name);
}

TEST(Ed25519KeyTest, ExportsTheRfc8037Jwk) {
  const nlohmann::json jwk = RfcKey().PublicKey().ToJwk(kRfcKid);
  EXPECT_EQ(jwk, nlohmann::json::parse(absl::StrCat(
                     R"({"kty":"OKP","crv":"Ed25519","x":")", kRfcX, R"(","kid":")", kRfcKid,
                     R"(","use":"sig","alg":"EdDSA"})")));
  EXPECT_FALSE(jwk.contains("d"));  // never the private half
  EXPECT_EQ(RfcKey().PublicKey().ToJwk("rotated")["kid"], "rotated");
}

TEST(Ed25519KeyTest, LoadsPemFiles) {
  const std::string private_path = TempPath("private.pem");
  const std::string public_path = TempPath("public.pem");
  std::ofstream(private_path) << kRfcPem;
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPemFile(private_path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->PublicKey().Kid(), kRfcKid);
  std::ofstream(public_path) << key->PublicKey().ToPem();
  absl::StatusOr<Ed25519PublicKey> loaded = Ed25519PublicKey::FromPemFile(public_path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->Kid(), kRfcKid);

  // A public key where a private one belongs is refused, naming the file but not its content.
  absl::StatusOr<Ed25519PrivateKey> wrong = Ed25519PrivateKey::FromPemFile(public_path);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr(public_path));
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("-----")));

  std::ofstream(private_path) << "not a key";
  EXPECT_EQ(Ed25519PublicKey::FromPemFile(private_path).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const std::string& path : {private_path, public_path}) std::remove(path.c_str());

  absl::StatusOr<Ed25519PrivateKey> missing = Ed25519PrivateKey::FromPemFile(private_path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(private_path));
  EXPECT_EQ(Ed25519PublicKey::FromPemFile(public_path).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tally
