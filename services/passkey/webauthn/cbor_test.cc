#include "services/passkey/webauthn/cbor.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace tally::webauthn {
namespace {

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

TEST(CborTest, DecodesDefiniteItems) {
  // {1: 2, 3: -7, "a": h'0102'}
  absl::StatusOr<CborItem> item = DecodeCbor(Hex("a3010203266161420102"));
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(CborInt(CborMapGet(item->get(), 1)), 2);
  EXPECT_EQ(CborInt(CborMapGet(item->get(), 3)), -7);
  EXPECT_EQ(CborBytes(CborMapGet(item->get(), "a")), Hex("0102"));
  EXPECT_EQ(CborMapGet(item->get(), 4), nullptr);
}

TEST(CborTest, RefusesHostileInput) {
  const char* bad[] = {
      "",                    // empty
      "a2010203",            // truncated map
      "5f4101ff",            // indefinite byte string
      "9f01ff",              // indefinite array
      "bf0102ff",            // indefinite map
      "a201020103",          // duplicate key 1
      "a2616101616102",      // duplicate key "a"
      "a1810102",            // array as a map key
      "5a7fffffff00",        // byte string longer than the input
      "9b00000001000000000", // huge array
      "c24101",              // tag
      "1c",                  // reserved additional information
      "f818",                // invalid two-byte simple value
      "62c328",              // invalid UTF-8 text
      "0101",                // trailing byte
  };
  for (const char* hex : bad) {
    EXPECT_FALSE(DecodeCbor(Hex(hex)).ok()) << hex;
  }
}

TEST(CborTest, RefusesDeepNesting) {
  std::string deep(100000, '\x81');
  deep.push_back('\x01');
  EXPECT_FALSE(DecodeCbor(deep).ok());
  std::string ok(kMaxCborDepth, '\x81');
  ok.push_back('\x01');
  EXPECT_TRUE(DecodeCbor(ok).ok());
  std::string too_deep(kMaxCborDepth + 1, '\x81');
  too_deep.push_back('\x01');
  EXPECT_FALSE(DecodeCbor(too_deep).ok());
}

TEST(CborTest, PrefixReportsConsumedLength) {
  size_t consumed = 0;
  absl::StatusOr<CborItem> item = DecodeCborPrefix(Hex("a10102ffff"), &consumed);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(consumed, 3u);
}

}  // namespace
}  // namespace tally::webauthn
