#include "services/passkey/pg_passkey_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/postgres/pg_time.h"
#include "common/util/text.h"

namespace tally::passkey {
namespace {

std::string B64(absl::string_view raw) { return Base64UrlEncode(std::string_view(raw.data(), raw.size())); }
std::string Unb64(const std::string& text) {
  std::string out;
  Base64UrlDecode(text, &out);
  return out;
}
std::string S(absl::string_view v) { return std::string(v); }

std::vector<std::string> SplitList(const std::string& joined, char sep) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(joined, sep, absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

std::string Columns() {
  return absl::StrCat(
      "credential_id, directory_id, user_id, public_key, algorithm, sign_count, aaguid, "
      "nickname, array_to_string(transports, ',') AS transports, backup_eligible, backup_state, "
      "attestation_format, attestation_type, ",
      PgMicros("create_time"), " AS create_us, ", PgMicros("last_use_time"), " AS last_use_us");
}

PasskeyRecord FromRow(const pqxx::row& row) {
  PasskeyRecord r;
  r.credential_id = Unb64(row["credential_id"].as<std::string>());
  r.directory_id = row["directory_id"].as<std::string>();
  r.user_id = row["user_id"].as<std::string>();
  r.public_key_cose = Unb64(row["public_key"].as<std::string>());
  r.algorithm = row["algorithm"].as<int>();
  r.sign_count = static_cast<uint32_t>(row["sign_count"].as<int64_t>());
  r.aaguid = row["aaguid"].as<std::string>();
  r.nickname = row["nickname"].as<std::string>();
  r.transports = SplitList(row["transports"].as<std::string>(), ',');
  r.backup_eligible = row["backup_eligible"].as<bool>();
  r.backup_state = row["backup_state"].as<bool>();
  r.attestation_format = row["attestation_format"].as<std::string>();
  r.attestation_type = row["attestation_type"].as<std::string>();
  r.create_time = absl::FromUnixMicros(row["create_us"].as<int64_t>());
  if (!row["last_use_us"].is_null()) {
    r.last_use_time = absl::FromUnixMicros(row["last_use_us"].as<int64_t>());
  }
  return r;
}

}  // namespace

PgPasskeyStore::PgPasskeyStore(std::shared_ptr<PgPool> pool, std::string schema)
    : pool_(std::move(pool)), schema_(std::move(schema)) {}

const std::vector<Migration>& PgPasskeyStore::Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "passkeys, user handles and relying-party overrides", R"sql(
CREATE TABLE user_handles (
  directory_id text NOT NULL,
  user_id text NOT NULL,
  user_handle text NOT NULL,
  PRIMARY KEY (directory_id, user_id),
  UNIQUE (directory_id, user_handle)
);
CREATE TABLE passkeys (
  credential_id text PRIMARY KEY,
  directory_id text NOT NULL,
  user_id text NOT NULL,
  public_key text NOT NULL,
  algorithm integer NOT NULL,
  sign_count bigint NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
  aaguid text NOT NULL,
  nickname text NOT NULL,
  transports text[] NOT NULL,
  backup_eligible boolean NOT NULL,
  backup_state boolean NOT NULL,
  attestation_format text NOT NULL,
  attestation_type text NOT NULL,
  create_time timestamptz NOT NULL,
  last_use_time timestamptz
);
CREATE INDEX passkeys_by_user ON passkeys (directory_id, user_id, create_time);
-- Operators override the flags' relying party per directory here (README: passkey service).
CREATE TABLE relying_parties (
  directory_id text PRIMARY KEY,
  rp_id text NOT NULL CHECK (rp_id <> ''),
  rp_name text NOT NULL,
  origins text[] NOT NULL CHECK (cardinality(origins) > 0),
  user_verification text NOT NULL DEFAULT 'preferred'
    CHECK (user_verification IN ('required', 'preferred', 'discouraged')),
  allow_cross_origin boolean NOT NULL DEFAULT false,
  top_origins text[] NOT NULL DEFAULT '{}'
);
)sql"},
      // User verification is required unless an operator relaxes it (README: passkey service);
      // existing rows keep the value they have.
      {2, "relying parties require user verification by default", R"sql(
ALTER TABLE relying_parties ALTER COLUMN user_verification SET DEFAULT 'required';
)sql"},
  };
  return *migrations;
}

absl::Status PgPasskeyStore::Migrate() { return tally::Migrate(*pool_, schema_, Migrations()); }

std::string PgPasskeyStore::Table(absl::string_view name) const {
  return absl::StrCat("\"", schema_, "\".", name);
}

absl::StatusOr<std::string> PgPasskeyStore::GetOrCreateUserHandle(absl::string_view directory_id,
                                                                  absl::string_view user_id,
                                                                  absl::string_view candidate) {
  return pool_->TransactFor<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("user_handles"),
                                 " (directory_id, user_id, user_handle) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (directory_id, user_id) DO NOTHING"),
                    S(directory_id), S(user_id), B64(candidate));
    pqxx::row row = tx.exec_params1(
        absl::StrCat("SELECT user_handle FROM ", Table("user_handles"),
                     " WHERE directory_id = $1 AND user_id = $2"),
        S(directory_id), S(user_id));
    return Unb64(row[0].as<std::string>());
  });
}

absl::Status PgPasskeyStore::CreatePasskey(const PasskeyRecord& p) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params0(
        absl::StrCat("INSERT INTO ", Table("passkeys"),
                     " (credential_id, directory_id, user_id, public_key, algorithm, sign_count, "
                     "aaguid, nickname, transports, backup_eligible, backup_state, "
                     "attestation_format, attestation_type, create_time) VALUES ($1, $2, $3, $4, "
                     "$5, $6, $7, $8, string_to_array($9, ','), $10, $11, $12, $13, ",
                     PgTimeParam(14), ")"),
        B64(p.credential_id), p.directory_id, p.user_id, B64(p.public_key_cose), p.algorithm,
        static_cast<int64_t>(p.sign_count), p.aaguid, p.nickname,
        absl::StrJoin(p.transports, ","), p.backup_eligible, p.backup_state,
        p.attestation_format, p.attestation_type, absl::ToUnixMicros(p.create_time));
    return absl::OkStatus();
  });
}

absl::StatusOr<PasskeyRecord> PgPasskeyStore::GetPasskey(absl::string_view credential_id) {
  return pool_->ReadFor<PasskeyRecord>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<PasskeyRecord> {
        // The owner's user handle in the same round trip (it is checked at every login).
        pqxx::result r = ExecPrepared(
            tx, absl::StrCat(schema_, ".get_passkey"),
            absl::StrCat("SELECT ", Columns(), ", (SELECT h.user_handle FROM ",
                         Table("user_handles"),
                         " h WHERE h.directory_id = p.directory_id AND h.user_id = p.user_id) "
                         "AS owner_handle FROM ",
                         Table("passkeys"), " p WHERE credential_id = $1"),
            B64(credential_id));
        if (r.empty()) return absl::NotFoundError("no such passkey");
        PasskeyRecord record = FromRow(r[0]);
        if (!r[0]["owner_handle"].is_null()) {
          record.owner_user_handle = Unb64(r[0]["owner_handle"].as<std::string>());
        }
        return record;
      });
}

absl::StatusOr<std::vector<PasskeyRecord>> PgPasskeyStore::ListPasskeys(
    absl::string_view directory_id, absl::string_view user_id) {
  return pool_->ReadFor<std::vector<PasskeyRecord>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<PasskeyRecord>> {
        pqxx::result r = ExecPrepared(
            tx, absl::StrCat(schema_, ".list_passkeys"),
            absl::StrCat("SELECT ", Columns(), " FROM ", Table("passkeys"),
                         " WHERE directory_id = $1 AND user_id = $2 "
                         "ORDER BY create_time, credential_id"),
            S(directory_id), S(user_id));
        std::vector<PasskeyRecord> out;
        for (const pqxx::row& row : r) out.push_back(FromRow(row));
        return out;
      });
}

absl::Status PgPasskeyStore::RecordUse(absl::string_view credential_id, uint32_t expected_count,
                                       uint32_t new_count, bool backup_state, absl::Time when) {
  // Idempotent, so one autocommitted statement that a lost reply may safely repeat: the row
  // this very use left (its new counter and its exact time) also answers "recorded".
  return pool_->WriteIdempotent([&](pqxx::nontransaction& tx) -> absl::Status {
    pqxx::result r = ExecPrepared(
        tx, absl::StrCat(schema_, ".record_use"),
        absl::StrCat("UPDATE ", Table("passkeys"), " SET sign_count = $2, backup_state = $3, ",
                     "last_use_time = ", PgTimeParam(4), " WHERE credential_id = $1 AND ",
                     "(sign_count = $5 OR (sign_count = $2 AND backup_state = $3 AND ",
                     "last_use_time = ", PgTimeParam(4), "))"),
        B64(credential_id), static_cast<int64_t>(new_count), backup_state,
        absl::ToUnixMicros(when), static_cast<int64_t>(expected_count));
    if (r.affected_rows() == 0) {
      return absl::AbortedError("the passkey changed or was deleted meanwhile");
    }
    return absl::OkStatus();
  });
}

absl::Status PgPasskeyStore::DeletePasskey(absl::string_view directory_id,
                                           absl::string_view user_id,
                                           absl::string_view credential_id) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = tx.exec_params(
        absl::StrCat("DELETE FROM ", Table("passkeys"),
                     " WHERE credential_id = $1 AND directory_id = $2 AND user_id = $3"),
        B64(credential_id), S(directory_id), S(user_id));
    if (r.affected_rows() == 0) return absl::NotFoundError("no such passkey for this user");
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<RpConfig>> PgPasskeyStore::GetRpOverride(
    absl::string_view directory_id) {
  return pool_->ReadFor<std::optional<RpConfig>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::optional<RpConfig>> {
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT rp_id, rp_name, array_to_string(origins, ' '), "
                         "user_verification, allow_cross_origin, array_to_string(top_origins, ' ') "
                         "FROM ",
                         Table("relying_parties"), " WHERE directory_id = $1"),
            S(directory_id));
        if (r.empty()) return std::optional<RpConfig>();
        RpConfig rp;
        rp.rp_id = r[0][0].as<std::string>();
        rp.rp_name = r[0][1].as<std::string>();
        rp.origins = SplitList(r[0][2].as<std::string>(), ' ');
        rp.user_verification = r[0][3].as<std::string>();
        rp.allow_cross_origin = r[0][4].as<bool>();
        rp.top_origins = SplitList(r[0][5].as<std::string>(), ' ');
        return std::optional<RpConfig>(std::move(rp));
      });
}

absl::Status PgPasskeyStore::Ping() { return pool_->Ping(); }

}  // namespace tally::passkey
