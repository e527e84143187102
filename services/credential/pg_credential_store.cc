#include "services/credential/pg_credential_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/postgres/pg_time.h"
#include "common/util/proto_time.h"
#include "services/credential/pg_device_store.h"

namespace tally::credential {
namespace {

absl::Status NoSuchUser() { return absl::NotFoundError("no such user"); }

// Roles are a small closed set ("admin", "user"), stored comma-joined in canonical order.
std::string JoinRoles(const std::vector<std::string>& roles) { return absl::StrJoin(roles, ","); }

StoredUser UserFromRow(const pqxx::row& row) {
  StoredUser s;
  User& u = s.user;
  u.set_user_id(row["user_id"].as<std::string>());
  u.set_directory_id(row["directory_id"].as<std::string>());
  u.set_username(row["username"].as<std::string>());
  u.set_email(row["email"].as<std::string>());
  u.set_phone_number(row["phone_number"].as<std::string>());
  const std::string roles = row["roles"].as<std::string>();
  for (absl::string_view role : absl::StrSplit(roles, ',', absl::SkipEmpty())) {
    u.add_roles(std::string(role));
  }
  if (!row["password_hash"].is_null()) s.password_hash = row["password_hash"].as<std::string>();
  u.set_has_password(!s.password_hash.empty());
  u.set_has_totp(row["has_totp"].as<bool>());
  u.set_recovery_codes_left(row["recovery_codes_left"].as<int>());
  *u.mutable_create_time() = ToProtoTime(absl::FromUnixMicros(row["create_us"].as<int64_t>()));
  s.username_key = row["username_key"].as<std::string>();
  return s;
}

}  // namespace

PgCredentialStore::PgCredentialStore(std::shared_ptr<PgPool> pool, std::string schema)
    : pool_(std::move(pool)), schema_(std::move(schema)) {}

const std::vector<Migration>& PgCredentialStore::Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "users and contact changes", R"sql(
CREATE TABLE users (
  seq bigserial UNIQUE NOT NULL,
  user_id text PRIMARY KEY,
  directory_id text NOT NULL,
  username text NOT NULL,
  username_key text NOT NULL,
  email text NOT NULL,
  phone_number text NOT NULL,
  roles text NOT NULL,
  password_hash text,
  password_time timestamptz,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
-- Case-insensitive uniqueness per directory; also the index of FindUser and VerifyPassword.
CREATE UNIQUE INDEX users_by_username ON users (directory_id, username_key);
CREATE INDEX users_by_directory ON users (directory_id, seq);
-- Every change of a contact field (no values: only which, when and by whom), so a later
-- change can require the new address or number to be verified again.
CREATE TABLE contact_changes (
  seq bigserial PRIMARY KEY,
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  field text NOT NULL CHECK (field IN ('email', 'phone_number')),
  time timestamptz NOT NULL,
  actor text NOT NULL
);
CREATE INDEX contact_changes_by_user ON contact_changes (user_id, seq);
)sql"},
      {2, "authenticator apps, recovery codes, remembered devices, attempt windows", R"sql(
-- TOTP secrets are sealed (AES-256-GCM, a key id byte first), base64url. An enrolment waits
-- for its first code; the user's authenticator app replaces an earlier one only on confirmation.
CREATE TABLE totp_enrollments (
  enrollment_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  directory_id text NOT NULL,
  sealed_secret text NOT NULL,
  expire_time timestamptz NOT NULL
);
CREATE INDEX totp_enrollments_by_user ON totp_enrollments (user_id);
-- last_step: the last time step accepted, advanced only forwards by one conditional UPDATE.
CREATE TABLE totp_authenticators (
  user_id text PRIMARY KEY REFERENCES users ON DELETE CASCADE,
  directory_id text NOT NULL,
  sealed_secret text NOT NULL,
  last_step bigint NOT NULL,
  create_time timestamptz NOT NULL
);
-- HMAC-SHA-256 of each code under the service key, the user bound in; the set is replaced whole.
CREATE TABLE recovery_codes (
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  directory_id text NOT NULL,
  code_mac text NOT NULL,
  create_time timestamptz NOT NULL,
  used_time timestamptz,
  PRIMARY KEY (user_id, code_mac)
);
-- Remembered devices: SHA-256 of the token only. Expiry follows the directory's current
-- trusted_device_max_age, so only the creation time is stored.
CREATE TABLE devices (
  device_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  directory_id text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  device_name text NOT NULL,
  create_time timestamptz NOT NULL,
  last_used_time timestamptz
);
CREATE INDEX devices_by_user ON devices (user_id, create_time);
-- Attempts at TOTP and recovery codes per user and method in a fixed window: the budget that
-- bounds guessing by a cluster caller whatever the orchestrator's lockout does.
CREATE TABLE attempt_windows (
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  method text NOT NULL,
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL,
  PRIMARY KEY (user_id, method)
);
)sql"},
      {3, "pending contact changes", R"sql(
-- A user's contact change waiting for the code sent to the new destination; one per user and
-- field (a newer one replaces it); it dies with its code (expire_time).
CREATE TABLE pending_contact_changes (
  change_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users ON DELETE CASCADE,
  directory_id text NOT NULL,
  field text NOT NULL CHECK (field IN ('email', 'phone_number')),
  value text NOT NULL,
  challenge_id text NOT NULL,
  expire_time timestamptz NOT NULL,
  UNIQUE (user_id, field)
);
)sql"},
  };
  return *migrations;
}

absl::Status PgCredentialStore::Migrate() { return tally::Migrate(*pool_, schema_, Migrations()); }

std::string PgCredentialStore::Table(std::string_view name) const {
  return absl::StrCat("\"", schema_, "\".", absl::string_view(name.data(), name.size()));
}

std::string PgCredentialStore::UserColumns() const {
  return absl::StrCat(
      "seq, user_id, directory_id, username, username_key, email, phone_number, roles, "
      "password_hash, ",
      PgMicros("create_time"), " AS create_us, EXISTS (SELECT 1 FROM ",
      Table("totp_authenticators"),
      " t WHERE t.user_id = users.user_id) AS has_totp, (SELECT count(*) FROM ",
      Table("recovery_codes"),
      " r WHERE r.user_id = users.user_id AND r.used_time IS NULL)::integer AS "
      "recovery_codes_left");
}

absl::Status PgCredentialStore::CreateUser(const StoredUser& stored,
                                           const std::vector<ContactChange>& changes) {
  const User& u = stored.user;
  const int64_t created = absl::ToUnixMicros(FromProtoTime(u.create_time()));
  std::vector<std::string> roles(u.roles().begin(), u.roles().end());
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params0(
        absl::StrCat("INSERT INTO ", Table("users"),
                     " (user_id, directory_id, username, username_key, email, phone_number, "
                     "roles, password_hash, password_time, create_time, update_time) VALUES "
                     "($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), CASE WHEN $8 = '' THEN NULL "
                     "ELSE ",
                     PgTimeParam(9), " END, ", PgTimeParam(9), ", ", PgTimeParam(9), ")"),
        u.user_id(), u.directory_id(), u.username(), stored.username_key, u.email(),
        u.phone_number(), JoinRoles(roles), stored.password_hash, created);
    for (const ContactChange& change : changes) InsertContactChange(tx, change);
    return absl::OkStatus();
  });
}

void PgCredentialStore::InsertContactChange(pqxx::work& tx, const ContactChange& change) const {
  tx.exec_params0(absl::StrCat("INSERT INTO ", Table("contact_changes"),
                               " (user_id, field, time, actor) VALUES ($1, $2, ", PgTimeParam(3),
                               ", $4)"),
                  change.user_id, change.field, absl::ToUnixMicros(change.time), change.actor);
}

absl::StatusOr<StoredUser> PgCredentialStore::GetUser(std::string_view user_id) {
  return pool_->ReadFor<StoredUser>([&](pqxx::nontransaction& tx) -> absl::StatusOr<StoredUser> {
    const pqxx::result r = ExecPrepared(
        tx, absl::StrCat(schema_, ".get_user"),
        absl::StrCat("SELECT ", UserColumns(), " FROM ", Table("users"), " WHERE user_id = $1"),
        std::string(user_id));
    if (r.empty()) return NoSuchUser();
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<StoredUser> PgCredentialStore::FindUser(std::string_view directory_id,
                                                       std::string_view username_key) {
  return pool_->ReadFor<StoredUser>([&](pqxx::nontransaction& tx) -> absl::StatusOr<StoredUser> {
    const pqxx::result r = ExecPrepared(
        tx, absl::StrCat(schema_, ".find_user"),
        absl::StrCat("SELECT ", UserColumns(), " FROM ", Table("users"),
                     " WHERE directory_id = $1 AND username_key = $2"),
        std::string(directory_id), std::string(username_key));
    if (r.empty()) return NoSuchUser();
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<Page<User>> PgCredentialStore::ListUsers(std::string_view directory_id,
                                                        int64_t cursor, int limit) {
  return pool_->ReadFor<Page<User>>([&](pqxx::nontransaction& tx) -> absl::StatusOr<Page<User>> {
    // One row more than asked tells whether another page exists.
    const pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT ", UserColumns(), " FROM ", Table("users"),
                     " WHERE directory_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"),
        std::string(directory_id), cursor, limit + 1);
    Page<User> page;
    for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i) {
      page.items.push_back(UserFromRow(r[i]).user);
    }
    if (static_cast<int>(r.size()) > limit) page.next_cursor = r[limit - 1]["seq"].as<int64_t>();
    return page;
  });
}

absl::StatusOr<StoredUser> PgCredentialStore::UpdateContact(std::string_view user_id,
                                                            const std::string& email,
                                                            const std::string& phone_number,
                                                            const std::string& actor,
                                                            absl::Time time) {
  return pool_->TransactFor<StoredUser>([&](pqxx::work& tx) -> absl::StatusOr<StoredUser> {
    // The row lock orders concurrent updates, so each change is recorded against what it
    // really replaced.
    const pqxx::result current = tx.exec_params(
        absl::StrCat("SELECT ", UserColumns(), " FROM ", Table("users"),
                     " WHERE user_id = $1 FOR UPDATE"),
        std::string(user_id));
    if (current.empty()) return NoSuchUser();
    StoredUser user = UserFromRow(current[0]);
    const int64_t now = absl::ToUnixMicros(time);
    if (user.user.email() != email) {
      InsertContactChange(tx, {std::string(user_id), "email", time, actor});
    }
    if (user.user.phone_number() != phone_number) {
      InsertContactChange(tx, {std::string(user_id), "phone_number", time, actor});
    }
    tx.exec_params0(absl::StrCat("UPDATE ", Table("users"),
                                 " SET email = $2, phone_number = $3, update_time = ",
                                 PgTimeParam(4), " WHERE user_id = $1"),
                    std::string(user_id), email, phone_number, now);
    user.user.set_email(email);
    user.user.set_phone_number(phone_number);
    return user;
  });
}

absl::StatusOr<StoredUser> PgCredentialStore::SetPasswordHash(std::string_view user_id,
                                                              const std::string& password_hash,
                                                              absl::Time time) {
  return pool_->TransactFor<StoredUser>([&](pqxx::work& tx) -> absl::StatusOr<StoredUser> {
    const pqxx::result r = tx.exec_params(
        absl::StrCat("UPDATE ", Table("users"), " SET password_hash = $2, password_time = ",
                     PgTimeParam(3), ", update_time = ", PgTimeParam(3),
                     " WHERE user_id = $1 RETURNING ", UserColumns()),
        std::string(user_id), password_hash, absl::ToUnixMicros(time));
    if (r.empty()) return NoSuchUser();
    // DESIGN.md §1 rule 9: a new password forgets the remembered devices, in this transaction.
    PgDeviceStore::ForgetAll(tx, schema_, absl::string_view(user_id.data(), user_id.size()));
    return UserFromRow(r[0]);
  });
}

absl::Status PgCredentialStore::ReplacePasswordHash(std::string_view user_id,
                                                    const std::string& expected,
                                                    const std::string& password_hash) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    // password_time stays: the password itself did not change.
    const pqxx::result r = tx.exec_params(
        absl::StrCat("UPDATE ", Table("users"),
                     " SET password_hash = CASE WHEN password_hash = $2 THEN $3 ELSE "
                     "password_hash END WHERE user_id = $1 RETURNING user_id"),
        std::string(user_id), expected, password_hash);
    if (r.empty()) return NoSuchUser();
    return absl::OkStatus();
  });
}

absl::StatusOr<StoredUser> PgCredentialStore::SetRoles(std::string_view user_id,
                                                       const std::vector<std::string>& roles) {
  return pool_->TransactFor<StoredUser>([&](pqxx::work& tx) -> absl::StatusOr<StoredUser> {
    const pqxx::result r = tx.exec_params(
        absl::StrCat("UPDATE ", Table("users"),
                     " SET roles = $2, update_time = now() WHERE user_id = $1 RETURNING ",
                     UserColumns()),
        std::string(user_id), JoinRoles(roles));
    if (r.empty()) return NoSuchUser();
    return UserFromRow(r[0]);
  });
}

absl::Status PgCredentialStore::DeleteUser(std::string_view user_id) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        absl::StrCat("DELETE FROM ", Table("users"), " WHERE user_id = $1 RETURNING user_id"),
        std::string(user_id));
    if (r.empty()) return NoSuchUser();
    return absl::OkStatus();
  });
}

absl::Status PgCredentialStore::PutPendingContactChange(const PendingContactChange& change) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        absl::StrCat("INSERT INTO ", Table("pending_contact_changes"),
                     " (change_id, user_id, directory_id, field, value, challenge_id, "
                     "expire_time) SELECT $1, $2, $3, $4, $5, $6, ",
                     PgTimeParam(7), " WHERE EXISTS (SELECT 1 FROM ", Table("users"),
                     " WHERE user_id = $2) ON CONFLICT (user_id, field) DO UPDATE SET "
                     "change_id = EXCLUDED.change_id, value = EXCLUDED.value, challenge_id = "
                     "EXCLUDED.challenge_id, expire_time = EXCLUDED.expire_time "
                     "RETURNING change_id"),
        change.change_id, change.user_id, change.directory_id, change.field, change.value,
        change.challenge_id, absl::ToUnixMicros(change.expire_time));
    if (r.empty()) return NoSuchUser();
    return absl::OkStatus();
  });
}

namespace {

PendingContactChange PendingFromRow(const pqxx::row& row) {
  return {row["change_id"].as<std::string>(),    row["user_id"].as<std::string>(),
          row["directory_id"].as<std::string>(), row["field"].as<std::string>(),
          row["value"].as<std::string>(),        row["challenge_id"].as<std::string>(),
          absl::FromUnixMicros(row["expire_us"].as<int64_t>())};
}

absl::Status NoSuchChange() {
  return absl::NotFoundError("no such pending contact change (expired, used or replaced)");
}

}  // namespace

absl::StatusOr<PendingContactChange> PgCredentialStore::GetPendingContactChange(
    std::string_view change_id, absl::Time now) {
  return pool_->ReadFor<PendingContactChange>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<PendingContactChange> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT change_id, user_id, directory_id, field, value, challenge_id, ",
                         PgMicros("expire_time"), " AS expire_us FROM ",
                         Table("pending_contact_changes"), " WHERE change_id = $1 AND expire_time > ",
                         PgTimeParam(2)),
            std::string(change_id), absl::ToUnixMicros(now));
        if (r.empty()) return NoSuchChange();
        return PendingFromRow(r[0]);
      });
}

absl::StatusOr<AppliedContactChange> PgCredentialStore::ApplyPendingContactChange(
    std::string_view change_id, const std::string& actor, absl::Time time) {
  return pool_->TransactFor<AppliedContactChange>(
      [&](pqxx::work& tx) -> absl::StatusOr<AppliedContactChange> {
        // Deleting first makes the change single-use under concurrent confirmations.
        const pqxx::result pending = tx.exec_params(
            absl::StrCat("DELETE FROM ", Table("pending_contact_changes"),
                         " WHERE change_id = $1 AND expire_time > ", PgTimeParam(2),
                         " RETURNING change_id, user_id, directory_id, field, value, "
                         "challenge_id, ",
                         PgMicros("expire_time"), " AS expire_us"),
            std::string(change_id), absl::ToUnixMicros(time));
        if (pending.empty()) return NoSuchChange();
        const PendingContactChange change = PendingFromRow(pending[0]);
        const pqxx::result current = tx.exec_params(
            absl::StrCat("SELECT ", UserColumns(), " FROM ", Table("users"),
                         " WHERE user_id = $1 FOR UPDATE"),
            change.user_id);
        if (current.empty()) return NoSuchUser();
        AppliedContactChange applied{UserFromRow(current[0]), ""};
        User& user = applied.user.user;
        // The column name comes from the CHECKed field, never from input.
        const bool email = change.field == "email";
        applied.old_value = email ? user.email() : user.phone_number();
        tx.exec_params0(absl::StrCat("UPDATE ", Table("users"), " SET ",
                                     email ? "email" : "phone_number", " = $2, update_time = ",
                                     PgTimeParam(3), " WHERE user_id = $1"),
                        change.user_id, change.value, absl::ToUnixMicros(time));
        InsertContactChange(tx, {change.user_id, change.field, time, actor});
        if (email) {
          user.set_email(change.value);
        } else {
          user.set_phone_number(change.value);
        }
        return applied;
      });
}

absl::Status PgCredentialStore::DeletePendingContactChange(std::string_view change_id) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params0(absl::StrCat("DELETE FROM ", Table("pending_contact_changes"),
                                 " WHERE change_id = $1"),
                    std::string(change_id));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<ContactChange>> PgCredentialStore::ListContactChanges(
    std::string_view user_id) {
  return pool_->ReadFor<std::vector<ContactChange>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<ContactChange>> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT user_id, field, actor, ", PgMicros("time"), " AS time_us FROM ",
                         Table("contact_changes"), " WHERE user_id = $1 ORDER BY seq"),
            std::string(user_id));
        std::vector<ContactChange> changes;
        for (const pqxx::row& row : r) {
          changes.push_back({row["user_id"].as<std::string>(), row["field"].as<std::string>(),
                             absl::FromUnixMicros(row["time_us"].as<int64_t>()),
                             row["actor"].as<std::string>()});
        }
        return changes;
      });
}

absl::Status PgCredentialStore::Ping() { return pool_->Ping(); }

}  // namespace tally::credential
