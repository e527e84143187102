#include "services/credential/argon2_buffers.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/credential/password_hasher.h"

namespace tally::credential {
namespace {

constexpr Argon2Params kSmall{.memory_kib = 512, .iterations = 1, .parallelism = 1};
constexpr size_t kSmallBytes = size_t{512} * 1024;

TEST(Argon2BuffersTest, LendsEachBufferOnceAndTakesItBack) {
  Argon2Buffers buffers(2, kSmallBytes);
  ASSERT_EQ(buffers.count(), 2);
  {
    Argon2Buffers::Lease a = buffers.Take(kSmallBytes);
    Argon2Buffers::Lease b = buffers.Take(1024);
    ASSERT_NE(a.data(), nullptr);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_NE(a.data(), b.data());
    EXPECT_GE(a.size(), kSmallBytes);
    for (const auto* lease : {&a, &b}) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(lease->data()) % (2 << 20), 0u) << "not 2 MiB aligned";
    }
    EXPECT_EQ(buffers.Take(1024).data(), nullptr) << "a third lease out of two buffers";
    Argon2Buffers::Lease moved = std::move(a);
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_NE(moved.data(), nullptr);
  }
  EXPECT_NE(buffers.Take(kSmallBytes).data(), nullptr) << "leases were not returned";
}

TEST(Argon2BuffersTest, LargerRequestsAreNotServed) {
  Argon2Buffers buffers(1, kSmallBytes);
  EXPECT_EQ(buffers.Take(kSmallBytes + 1).data(), nullptr);
  Argon2Buffers none(0, kSmallBytes);
  EXPECT_EQ(none.Take(1).data(), nullptr);
}

TEST(Argon2BuffersTest, PooledHashesEqualLibargon2sOwnAndFallBackWhenTooSmall) {
  Argon2Buffers buffers(1, kSmallBytes);
  for (const Argon2Params& params :
       {kSmall, Argon2Params{.memory_kib = 256, .iterations = 2, .parallelism = 2},
        // Bigger than the buffers: libargon2 allocates, same answer.
        Argon2Params{.memory_kib = 1024, .iterations = 1, .parallelism = 1}}) {
    absl::StatusOr<std::string> own = PasswordHasher::Derive("password", "somesalt", params, 32);
    absl::StatusOr<std::string> pooled =
        PasswordHasher::Derive("password", "somesalt", params, 32, &buffers);
    ASSERT_TRUE(own.ok() && pooled.ok());
    EXPECT_EQ(*pooled, *own) << params.memory_kib << " KiB";
  }
}

TEST(Argon2BuffersTest, NothingOfAHashStaysInItsBuffer) {
  Argon2Buffers buffers(1, kSmallBytes);
  ASSERT_TRUE(PasswordHasher::Derive("password", "somesalt", kSmall, 32, &buffers).ok());
  Argon2Buffers::Lease lease = buffers.Take(kSmallBytes);
  ASSERT_NE(lease.data(), nullptr);
  EXPECT_TRUE(std::all_of(lease.data(), lease.data() + kSmallBytes,
                          [](uint8_t b) { return b == 0; }))
      << "libargon2 did not wipe its working memory before returning it";
}

TEST(Argon2BuffersTest, ConcurrentHashesBeyondTheBuffersStayCorrect) {
  Argon2Buffers buffers(2, kSmallBytes);
  const PasswordHasher hasher(kSmall, CsprngRandom::Get(), &buffers);
  std::vector<std::string> errors(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string password = absl::StrCat("password ", t, " ", i);
        absl::StatusOr<std::string> phc = hasher.Hash(password);
        absl::StatusOr<PasswordHasher::Verdict> right = hasher.Verify(*phc, password);
        absl::StatusOr<PasswordHasher::Verdict> wrong = hasher.Verify(*phc, password + "!");
        if (!phc.ok() || !right.ok() || !wrong.ok() || !right->match || wrong->match) {
          errors[t] = absl::StrCat("thread ", t, " round ", i);
          return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
}

}  // namespace
}  // namespace tally::credential
