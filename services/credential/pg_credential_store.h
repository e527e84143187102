#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/postgres/migrations.h"
#include "common/postgres/pg_pool.h"
#include "services/credential/credential_store.h"

namespace tally::credential {

// CredentialStore on PostgreSQL, in a schema of its own (DESIGN.md §3: no service reads
// another's tables). Usernames are unique per directory through a unique index on
// (directory_id, username_key), so of two concurrent creates exactly one wins.
class PgCredentialStore final : public CredentialStore {
 public:
  // `schema` must be a plain lower-case identifier; Migrate() checks it.
  PgCredentialStore(std::shared_ptr<PgPool> pool, std::string schema);

  static const std::vector<Migration>& Migrations();
  absl::Status Migrate();

  absl::Status CreateUser(const StoredUser& user,
                          const std::vector<ContactChange>& changes) override;
  absl::StatusOr<StoredUser> GetUser(std::string_view user_id) override;
  absl::StatusOr<StoredUser> FindUser(std::string_view directory_id,
                                      std::string_view username_key) override;
  absl::StatusOr<Page<User>> ListUsers(std::string_view directory_id, int64_t cursor,
                                       int limit) override;
  absl::StatusOr<StoredUser> UpdateContact(std::string_view user_id, const std::string& email,
                                           const std::string& phone_number,
                                           const std::string& actor, absl::Time time) override;
  absl::StatusOr<StoredUser> SetPasswordHash(std::string_view user_id,
                                             const std::string& password_hash,
                                             absl::Time time) override;
  absl::Status ReplacePasswordHash(std::string_view user_id, const std::string& expected,
                                   const std::string& password_hash) override;
  absl::StatusOr<StoredUser> SetRoles(std::string_view user_id,
                                      const std::vector<std::string>& roles) override;
  absl::Status DeleteUser(std::string_view user_id) override;
  absl::Status PutPendingContactChange(const PendingContactChange& change) override;
  absl::StatusOr<PendingContactChange> GetPendingContactChange(std::string_view change_id,
                                                               absl::Time now) override;
  absl::StatusOr<AppliedContactChange> ApplyPendingContactChange(std::string_view change_id,
                                                                 const std::string& actor,
                                                                 absl::Time time) override;
  absl::Status DeletePendingContactChange(std::string_view change_id) override;
  absl::StatusOr<std::vector<ContactChange>> ListContactChanges(
      std::string_view user_id) override;
  absl::Status Ping() override;

  // For the stores of the same schema (factors, devices), which share the pool.
  const std::shared_ptr<PgPool>& pool() const { return pool_; }
  const std::string& schema() const { return schema_; }

 private:
  std::string Table(std::string_view name) const;
  // The SELECT list every user query reads.
  std::string UserColumns() const;
  void InsertContactChange(pqxx::work& tx, const ContactChange& change) const;

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
};

}  // namespace tally::credential
