// PgPasskeyStore against the real PostgreSQL of `tools/dev test`: the sign-counter update after
// an authentication is a compare-and-set that may safely run twice (PgPool::WriteIdempotent
// repeats it when its connection died with the reply). Each test has its own schema.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/postgres/pg_pool.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "services/passkey/pg_passkey_store.h"

namespace tally::passkey {
namespace {

class PgPasskeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgOptions options;
    options.url = tally::testing::RequiredEnv("TALLY_TEST_POSTGRES_URL");
    options.pool_size = 2;
    pool_ = std::make_shared<PgPool>(options);
    schema_ = "pkst_" + tally::testing::UniqueSuffix();
    store_ = std::make_unique<PgPasskeyStore>(pool_, schema_);
    ASSERT_EQ(store_->Migrate(), absl::OkStatus());

    PasskeyRecord passkey;
    passkey.credential_id = "cred-1";
    passkey.directory_id = "dir_1";
    passkey.user_id = "usr_1";
    passkey.public_key_cose = "cose";
    passkey.algorithm = -7;
    passkey.sign_count = 5;
    passkey.aaguid = "00000000-0000-0000-0000-000000000000";
    passkey.attestation_format = "none";
    passkey.attestation_type = "none";
    passkey.create_time = t0_;
    ASSERT_EQ(store_->GetOrCreateUserHandle("dir_1", "usr_1", "handle-1").status(),
              absl::OkStatus());
    ASSERT_EQ(store_->CreatePasskey(passkey), absl::OkStatus());
  }

  void TearDown() override {
    if (pool_ == nullptr) return;
    EXPECT_EQ(pool_->Transact([&](pqxx::work& w) {
      w.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      return absl::OkStatus();
    }),
              absl::OkStatus());
  }

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
  std::unique_ptr<PgPasskeyStore> store_;
  const absl::Time t0_ = absl::FromUnixMicros(1900000000123456);
};

TEST_F(PgPasskeyStoreTest, RecordUseIsACompareAndSetThatMayRunTwice) {
  const absl::Time t1 = t0_ + absl::Microseconds(1500);
  ASSERT_EQ(store_->RecordUse("cred-1", 5, 6, true, t1), absl::OkStatus());
  // The same use again (its first reply was lost): recorded, nothing changes.
  ASSERT_EQ(store_->RecordUse("cred-1", 5, 6, true, t1), absl::OkStatus());
  absl::StatusOr<PasskeyRecord> got = store_->GetPasskey("cred-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sign_count, 6u);
  EXPECT_TRUE(got->backup_state);
  EXPECT_EQ(got->last_use_time, t1);

  // Another use that read the old counter lost the race, even with the same new counter.
  EXPECT_TRUE(absl::IsAborted(store_->RecordUse("cred-1", 5, 7, true, t1)));
  EXPECT_TRUE(absl::IsAborted(
      store_->RecordUse("cred-1", 5, 6, true, t1 + absl::Microseconds(1))));
  EXPECT_TRUE(absl::IsAborted(store_->RecordUse("cred-1", 5, 6, false, t1)));

  // Once a later use moved on, the first one's repeat is no longer taken for its own.
  const absl::Time t2 = t1 + absl::Seconds(1);
  ASSERT_EQ(store_->RecordUse("cred-1", 6, 9, false, t2), absl::OkStatus());
  EXPECT_TRUE(absl::IsAborted(store_->RecordUse("cred-1", 5, 6, true, t1)));
  got = store_->GetPasskey("cred-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sign_count, 9u);
  EXPECT_FALSE(got->backup_state);
  EXPECT_EQ(got->last_use_time, t2);

  // A passkey deleted meanwhile.
  EXPECT_TRUE(absl::IsAborted(store_->RecordUse("cred-unknown", 0, 0, false, t2)));
}

TEST_F(PgPasskeyStoreTest, ARelyingPartyRowRequiresUserVerificationUnlessItSaysOtherwise) {
  ASSERT_EQ(pool_->Transact([&](pqxx::work& w) {
    w.exec("INSERT INTO " + schema_ +
           ".relying_parties (directory_id, rp_id, rp_name, origins) VALUES "
           "('dir_1', 'login.acme.example', 'Acme', '{https://Login.Acme.example/}'), "
           "('dir_2', 'acme.example', 'Acme', '{https://acme.example}')");
    w.exec("UPDATE " + schema_ +
           ".relying_parties SET user_verification = 'preferred' WHERE directory_id = 'dir_2'");
    return absl::OkStatus();
  }),
            absl::OkStatus());
  absl::StatusOr<std::optional<RpConfig>> rp = store_->GetRpOverride("dir_1");
  ASSERT_TRUE(rp.ok()) << rp.status();
  ASSERT_TRUE(rp->has_value());
  EXPECT_EQ((*rp)->user_verification, "required");
  // As the operator wrote it: the passkey manager normalises it.
  EXPECT_EQ((*rp)->origins, std::vector<std::string>{"https://Login.Acme.example/"});
  rp = store_->GetRpOverride("dir_2");
  ASSERT_TRUE(rp.ok() && rp->has_value());
  EXPECT_EQ((*rp)->user_verification, "preferred");
}

}  // namespace
}  // namespace tally::passkey
