#include "services/passkey/webauthn/trust_anchors.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/pki.h"
#include "common/testing/test_support.h"
#include "common/util/openssl_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::webauthn {
namespace {

using ::testing::HasSubstr;

// The DER of the first certificate in `pem`, as an x5c chain carries it.
std::string Der(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  EXPECT_GT(len, 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Two CAs made with the openssl CLI, each with a leaf certificate it signed.
class TrustAnchorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* ca : {"ca_a", "ca_b"}) ASSERT_TRUE(pki_.MakeCa(ca).ok());
    ASSERT_TRUE(pki_.MakeCert("leaf_a", "ca_a").ok());
    ASSERT_TRUE(pki_.MakeCert("leaf_b", "ca_b").ok());
  }
  std::string Pem(const std::string& name) { return pki_.Read(name + ".pem"); }

  tally::testing::TempDir dir_;
  tally::testing::Pki pki_{dir_.path()};
};

TEST_F(TrustAnchorsTest, AcceptsChainsThatLeadToAnAnchorOnly) {
  absl::StatusOr<std::shared_ptr<const TrustAnchors>> anchors =
      TrustAnchors::FromPem(Pem("ca_a"));
  ASSERT_TRUE(anchors.ok()) << anchors.status();
  EXPECT_TRUE((*anchors)->Verify({Der(Pem("leaf_a"))}).ok());

  const absl::Status foreign = (*anchors)->Verify({Der(Pem("leaf_b"))});
  EXPECT_EQ(foreign.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(foreign.message(), HasSubstr("does not lead to a trusted CA"));
  // A foreign CA offered as the intermediate does not help.
  EXPECT_FALSE((*anchors)->Verify({Der(Pem("leaf_b")), Der(Pem("ca_b"))}).ok());
  EXPECT_EQ((*anchors)->Verify({}).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE((*anchors)->Verify({"not DER"}).ok());
}

TEST_F(TrustAnchorsTest, TakesEveryCertificateOfABundle) {
  absl::StatusOr<std::shared_ptr<const TrustAnchors>> anchors =
      TrustAnchors::FromPem(absl::StrCat(Pem("ca_a"), Pem("ca_b")));
  ASSERT_TRUE(anchors.ok()) << anchors.status();
  EXPECT_TRUE((*anchors)->Verify({Der(Pem("leaf_a"))}).ok());
  EXPECT_TRUE((*anchors)->Verify({Der(Pem("leaf_b"))}).ok());
}

TEST(TrustAnchorsBundleTest, RefusesABundleWithoutCertificates) {
  for (const char* bad :
       {"", "not PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}) {
    absl::StatusOr<std::shared_ptr<const TrustAnchors>> anchors = TrustAnchors::FromPem(bad);
    EXPECT_EQ(anchors.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tally::webauthn
