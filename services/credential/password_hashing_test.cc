#include "services/credential/password_hashing.h"

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace tally::credential {
namespace {

TEST(PasswordHashingTest, BuiltFromItsOptionsAndHashes) {
  prometheus::Registry registry;
  CredentialMetrics metrics(registry);
  PasswordHashingOptions options;
  options.argon2 = {.memory_kib = 64, .iterations = 1, .parallelism = 1};
  options.max_concurrent_hashes = 2;
  options.hash_queue_size = 3;
  absl::StatusOr<std::unique_ptr<PasswordHashing>> hashing =
      PasswordHashing::Create(options, CsprngRandom::Get(), metrics);
  ASSERT_TRUE(hashing.ok()) << hashing.status();
  EXPECT_EQ((*hashing)->Describe(),
            "Argon2id m=64 KiB, t=1, p=1; at most 2 at once, 3 waiting; 2 buffers preallocated");

  absl::StatusOr<std::string> encoded = (*hashing)->hasher().Hash("correct horse");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_NE(encoded->find("m=64,t=1,p=1"), std::string::npos) << *encoded;
  auto right = (*hashing)->hasher().Verify(*encoded, "correct horse");
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_TRUE(right->match);
  auto wrong = (*hashing)->hasher().Verify(*encoded, "battery staple");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_FALSE(wrong->match);
}

}  // namespace
}  // namespace tally::credential
