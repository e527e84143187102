#include "services/credential/pg_factor_store.h"

#include "absl/strings/str_cat.h"
#include "common/postgres/pg_time.h"
#include "common/util/text.h"

namespace tally::credential {
namespace {

std::string S(absl::string_view text) { return std::string(text); }

absl::Status NoSuchUser() { return absl::NotFoundError("no such user"); }

// Sealed secrets are bytes; the column is text (base64url) so no bytea escaping is involved.
std::string ToColumn(const std::string& sealed) { return Base64UrlEncode(sealed); }
std::string FromColumn(const pqxx::field& field) {
  std::string bytes;
  Base64UrlDecode(field.as<std::string>(), &bytes);
  return bytes;
}

}  // namespace

PgFactorStore::PgFactorStore(std::shared_ptr<PgPool> pool, std::string schema)
    : pool_(std::move(pool)), schema_(std::move(schema)) {}

std::string PgFactorStore::Table(absl::string_view name) const {
  return absl::StrCat("\"", schema_, "\".", name);
}

absl::Status PgFactorStore::PutTotpEnrollment(const TotpEnrollment& e) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    // The user's row lock orders this against a concurrent delete of the user.
    const pqxx::result user = tx.exec_params(
        absl::StrCat("SELECT 1 FROM ", Table("users"), " WHERE user_id = $1 FOR UPDATE"),
        e.secret.user_id);
    if (user.empty()) return NoSuchUser();
    tx.exec_params0(absl::StrCat("DELETE FROM ", Table("totp_enrollments"), " WHERE user_id = $1"),
                    e.secret.user_id);
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("totp_enrollments"),
                                 " (enrollment_id, user_id, directory_id, sealed_secret, "
                                 "expire_time) VALUES ($1, $2, $3, $4, ",
                                 PgTimeParam(5), ")"),
                    e.enrollment_id, e.secret.user_id, e.secret.directory_id,
                    ToColumn(e.secret.sealed_secret), absl::ToUnixMicros(e.expire_time));
    return absl::OkStatus();
  });
}

absl::StatusOr<TotpEnrollment> PgFactorStore::GetTotpEnrollment(absl::string_view enrollment_id,
                                                                absl::Time now) {
  return pool_->ReadFor<TotpEnrollment>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<TotpEnrollment> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT user_id, directory_id, sealed_secret, ", PgMicros("expire_time"),
                         " AS expire_us FROM ", Table("totp_enrollments"),
                         " WHERE enrollment_id = $1 AND expire_time > ", PgTimeParam(2)),
            S(enrollment_id), absl::ToUnixMicros(now));
        if (r.empty()) return absl::NotFoundError("unknown or expired enrolment");
        TotpEnrollment e;
        e.enrollment_id = S(enrollment_id);
        e.secret.user_id = r[0]["user_id"].as<std::string>();
        e.secret.directory_id = r[0]["directory_id"].as<std::string>();
        e.secret.sealed_secret = FromColumn(r[0]["sealed_secret"]);
        e.expire_time = absl::FromUnixMicros(r[0]["expire_us"].as<int64_t>());
        return e;
      });
}

absl::Status PgFactorStore::ConfirmTotpEnrollment(absl::string_view enrollment_id, int64_t step,
                                                  absl::Time now) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    // Taking the row is what makes an enrolment single-use under racing confirms.
    const pqxx::result taken =
        tx.exec_params(absl::StrCat("DELETE FROM ", Table("totp_enrollments"),
                                    " WHERE enrollment_id = $1 AND expire_time > ", PgTimeParam(2),
                                    " RETURNING user_id, directory_id, sealed_secret"),
                       S(enrollment_id), absl::ToUnixMicros(now));
    if (taken.empty()) return absl::NotFoundError("unknown or expired enrolment");
    tx.exec_params0(
        absl::StrCat("INSERT INTO ", Table("totp_authenticators"),
                     " (user_id, directory_id, sealed_secret, last_step, create_time) VALUES "
                     "($1, $2, $3, $4, ",
                     PgTimeParam(5),
                     ") ON CONFLICT (user_id) DO UPDATE SET directory_id = EXCLUDED.directory_id, "
                     "sealed_secret = EXCLUDED.sealed_secret, last_step = EXCLUDED.last_step, "
                     "create_time = EXCLUDED.create_time"),
        taken[0]["user_id"].as<std::string>(), taken[0]["directory_id"].as<std::string>(),
        taken[0]["sealed_secret"].as<std::string>(), step, absl::ToUnixMicros(now));
    return absl::OkStatus();
  });
}

absl::StatusOr<TotpAuthenticator> PgFactorStore::GetTotp(absl::string_view user_id) {
  return pool_->ReadFor<TotpAuthenticator>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<TotpAuthenticator> {
        const pqxx::result r =
            ExecPrepared(tx, absl::StrCat(schema_, ".get_totp"),
                         absl::StrCat("SELECT directory_id, sealed_secret, last_step FROM ",
                                      Table("totp_authenticators"), " WHERE user_id = $1"),
                         S(user_id));
        if (r.empty()) return absl::NotFoundError("no authenticator app");
        TotpAuthenticator a;
        a.secret.user_id = S(user_id);
        a.secret.directory_id = r[0]["directory_id"].as<std::string>();
        a.secret.sealed_secret = FromColumn(r[0]["sealed_secret"]);
        a.last_step = r[0]["last_step"].as<int64_t>();
        return a;
      });
}

absl::StatusOr<bool> PgFactorStore::AdvanceTotpStep(absl::string_view user_id, int64_t step) {
  return pool_->TransactFor<bool>([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    // The one conditional UPDATE that makes a step count once per user across replicas.
    const pqxx::result r =
        ExecPrepared(tx, absl::StrCat(schema_, ".advance_totp"),
                     absl::StrCat("UPDATE ", Table("totp_authenticators"),
                                  " SET last_step = $2 WHERE user_id = $1 AND last_step < $2 "
                                  "RETURNING user_id"),
                     S(user_id), step);
    return !r.empty();
  });
}

absl::StatusOr<bool> PgFactorStore::DeleteTotp(absl::string_view user_id) {
  return pool_->TransactFor<bool>([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    tx.exec_params0(absl::StrCat("DELETE FROM ", Table("totp_enrollments"), " WHERE user_id = $1"),
                    S(user_id));
    const pqxx::result r = tx.exec_params(absl::StrCat("DELETE FROM ", Table("totp_authenticators"),
                                                       " WHERE user_id = $1 RETURNING user_id"),
                                          S(user_id));
    return !r.empty();
  });
}

absl::Status PgFactorStore::ReplaceRecoveryCodes(absl::string_view directory_id,
                                                 absl::string_view user_id,
                                                 const std::vector<std::string>& code_macs,
                                                 absl::Time now) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result user = tx.exec_params(
        absl::StrCat("SELECT 1 FROM ", Table("users"), " WHERE user_id = $1 FOR UPDATE"),
        S(user_id));
    if (user.empty()) return NoSuchUser();
    tx.exec_params0(absl::StrCat("DELETE FROM ", Table("recovery_codes"), " WHERE user_id = $1"),
                    S(user_id));
    for (const std::string& mac : code_macs) {
      tx.exec_params0(absl::StrCat("INSERT INTO ", Table("recovery_codes"),
                                   " (user_id, directory_id, code_mac, create_time) VALUES ($1, "
                                   "$2, $3, ",
                                   PgTimeParam(4), ")"),
                      S(user_id), S(directory_id), mac, absl::ToUnixMicros(now));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int> PgFactorStore::UseRecoveryCode(absl::string_view directory_id,
                                                   absl::string_view user_id,
                                                   absl::string_view code_mac, absl::Time now) {
  return pool_->TransactFor<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    // One conditional UPDATE: of parallel uses of one code exactly one finds used_time NULL.
    const pqxx::result used = ExecPrepared(
        tx, absl::StrCat(schema_, ".use_recovery_code"),
        absl::StrCat("UPDATE ", Table("recovery_codes"), " SET used_time = ", PgTimeParam(4),
                     " WHERE user_id = $2 AND directory_id = $1 AND code_mac = $3 AND used_time "
                     "IS NULL RETURNING user_id"),
        S(directory_id), S(user_id), S(code_mac), absl::ToUnixMicros(now));
    if (used.empty()) return absl::NotFoundError("no such unused recovery code");
    const pqxx::result left =
        tx.exec_params(absl::StrCat("SELECT count(*) AS n FROM ", Table("recovery_codes"),
                                    " WHERE user_id = $1 AND used_time IS NULL"),
                       S(user_id));
    return left[0]["n"].as<int>();
  });
}

absl::StatusOr<AttemptWindow> PgFactorStore::CountAttempt(absl::string_view user_id,
                                                          absl::string_view method,
                                                          absl::Duration window, absl::Time now) {
  return pool_->TransactFor<AttemptWindow>([&](pqxx::work& tx) -> absl::StatusOr<AttemptWindow> {
    const std::string expired = absl::StrCat("a.window_start <= ", PgTimeParam(3),
                                             " - $4::bigint * interval '1 microsecond'");
    // INSERT … ON CONFLICT DO UPDATE is atomic per row: parallel attempts count one by one.
    const pqxx::result r = tx.exec_params(
        absl::StrCat(
            "INSERT INTO ", Table("attempt_windows"),
            " AS a (user_id, method, window_start, attempts) VALUES ($1, $2, ", PgTimeParam(3),
            ", 1) ON CONFLICT (user_id, method) DO UPDATE SET "
            "window_start = CASE WHEN ",
            expired, " THEN ", PgTimeParam(3), " ELSE a.window_start END, attempts = CASE WHEN ",
            expired, " THEN 1 ELSE a.attempts + 1 END RETURNING attempts, ",
            PgMicros("window_start"), " AS start_us"),
        S(user_id), S(method), absl::ToUnixMicros(now), absl::ToInt64Microseconds(window));
    AttemptWindow w;
    w.attempts = r[0]["attempts"].as<int>();
    w.start = absl::FromUnixMicros(r[0]["start_us"].as<int64_t>());
    return w;
  });
}

absl::Status PgFactorStore::ClearAttempts(absl::string_view user_id, absl::string_view method) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params0(absl::StrCat("DELETE FROM ", Table("attempt_windows"),
                                 " WHERE user_id = $1 AND method = $2"),
                    S(user_id), S(method));
    return absl::OkStatus();
  });
}

}  // namespace tally::credential
