#include "services/policy/pg_policy_store.h"

#include "absl/strings/str_cat.h"
#include "common/postgres/pg_time.h"
#include "common/util/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "services/policy/points.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;

google::protobuf::Timestamp MicrosToProto(int64_t micros) {
  return ToProtoTime(absl::FromUnixMicros(micros));
}

std::string SettingsJson(const AuthSettings& settings) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(settings, &json, options);
  return json;
}

AuthSettings SettingsFromJson(const std::string& json) {
  AuthSettings settings;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // rows written by a newer binary stay readable
  (void)google::protobuf::util::JsonStringToMessage(json, &settings, options);
  return settings;
}

Directory DirectoryFromRow(const pqxx::row& row) {
  Directory d;
  d.set_directory_id(row["directory_id"].as<std::string>());
  d.set_display_name(row["display_name"].as<std::string>());
  d.set_tier(static_cast<::tally::policy::v1::Tier>(row["tier"].as<int>()));
  *d.mutable_create_time() = MicrosToProto(row["create_us"].as<int64_t>());
  return d;
}

AuthSettings SettingsFromRow(const pqxx::row& row) {
  AuthSettings s;
  s.set_directory_id(row["directory_id"].as<std::string>());
  s.set_required_level(row["required_level"].as<int>());
  const std::pair<::tally::common::v1::AuthMethod, const char*> columns[] = {
      {AUTH_METHOD_PASSWORD, "password_points"},
      {AUTH_METHOD_SMS_OTP, "sms_points"},
      {AUTH_METHOD_EMAIL_OTP, "email_points"},
      {AUTH_METHOD_PASSKEY, "passkey_points"}};
  for (auto [method, column] : columns) {
    MethodPoints* mp = s.add_method_points();
    mp->set_method(method);
    mp->set_points(row[column].as<int>());
  }
  s.set_etag(row["etag"].as<std::string>());
  s.set_updated_by(row["updated_by"].as<std::string>());
  *s.mutable_update_time() = MicrosToProto(row["update_us"].as<int64_t>());
  return s;
}

}  // namespace

PgPolicyStore::PgPolicyStore(std::shared_ptr<PgPool> pool, std::string schema)
    : pool_(std::move(pool)), schema_(std::move(schema)) {}

const std::vector<Migration>& PgPolicyStore::Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "directories, settings and audit trail", R"sql(
CREATE TABLE directories (
  seq bigserial UNIQUE NOT NULL,
  directory_id text PRIMARY KEY,
  display_name text NOT NULL,
  tier integer NOT NULL,
  create_time timestamptz NOT NULL
);
CREATE TABLE auth_settings (
  directory_id text PRIMARY KEY REFERENCES directories ON DELETE CASCADE,
  required_level integer NOT NULL CHECK (required_level BETWEEN 1 AND 1000),
  password_points integer NOT NULL CHECK (password_points BETWEEN 0 AND 1000),
  sms_points integer NOT NULL CHECK (sms_points BETWEEN 0 AND 1000),
  email_points integer NOT NULL CHECK (email_points BETWEEN 0 AND 1000),
  passkey_points integer NOT NULL CHECK (passkey_points BETWEEN 0 AND 1000),
  etag text NOT NULL,
  updated_by text NOT NULL,
  update_time timestamptz NOT NULL
);
CREATE TABLE audit_events (
  seq bigserial PRIMARY KEY,
  event_id text UNIQUE NOT NULL,
  directory_id text NOT NULL REFERENCES directories ON DELETE CASCADE,
  actor text NOT NULL,
  time timestamptz NOT NULL,
  before jsonb,
  after jsonb NOT NULL
);
CREATE INDEX audit_events_by_directory ON audit_events (directory_id, seq DESC);
)sql"},
  };
  return *migrations;
}

absl::Status PgPolicyStore::Migrate() { return tally::Migrate(*pool_, schema_, Migrations()); }

std::string PgPolicyStore::Table(absl::string_view name) const {
  return absl::StrCat("\"", schema_, "\".", name);
}

absl::Status PgPolicyStore::CreateDirectory(const Directory& directory,
                                            const AuthSettings& settings,
                                            const AuditEvent& event) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("directories"),
                                 " (directory_id, display_name, tier, create_time) VALUES ($1, "
                                 "$2, $3, ",
                                 PgTimeParam(4), ")"),
                    directory.directory_id(), directory.display_name(),
                    static_cast<int>(directory.tier()),
                    absl::ToUnixMicros(FromProtoTime(directory.create_time())));
    tx.exec_params0(
        absl::StrCat("INSERT INTO ", Table("auth_settings"),
                     " (directory_id, required_level, password_points, sms_points, email_points, "
                     "passkey_points, etag, updated_by, update_time) VALUES ($1, $2, $3, $4, $5, "
                     "$6, $7, $8, ",
                     PgTimeParam(9), ")"),
        directory.directory_id(), settings.required_level(),
        PointsFor(settings, AUTH_METHOD_PASSWORD), PointsFor(settings, AUTH_METHOD_SMS_OTP),
        PointsFor(settings, AUTH_METHOD_EMAIL_OTP), PointsFor(settings, AUTH_METHOD_PASSKEY),
        settings.etag(), settings.updated_by(),
        absl::ToUnixMicros(FromProtoTime(settings.update_time())));
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("audit_events"),
                                 " (event_id, directory_id, actor, time, before, after) VALUES "
                                 "($1, $2, $3, ",
                                 PgTimeParam(4), ", NULL, $5::jsonb)"),
                    event.event_id(), event.directory_id(), event.actor(),
                    absl::ToUnixMicros(FromProtoTime(event.time())), SettingsJson(event.after()));
    return absl::OkStatus();
  });
}

absl::StatusOr<Directory> PgPolicyStore::GetDirectory(absl::string_view directory_id) {
  return pool_->ReadFor<Directory>([&](pqxx::nontransaction& tx) -> absl::StatusOr<Directory> {
    const pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT directory_id, display_name, tier, ", PgMicros("create_time"),
                     " AS create_us FROM ", Table("directories"), " WHERE directory_id = $1"),
        std::string(directory_id));
    if (r.empty()) return absl::NotFoundError("no such directory");
    return DirectoryFromRow(r[0]);
  });
}

absl::StatusOr<Page<Directory>> PgPolicyStore::ListDirectories(int64_t cursor, int limit) {
  return pool_->ReadFor<Page<Directory>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<Page<Directory>> {
        // One row more than asked tells whether another page exists.
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT seq, directory_id, display_name, tier, ",
                         PgMicros("create_time"), " AS create_us FROM ", Table("directories"),
                         " WHERE seq > $1 ORDER BY seq LIMIT $2"),
            cursor, limit + 1);
        Page<Directory> page;
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i) {
          page.items.push_back(DirectoryFromRow(r[i]));
        }
        if (static_cast<int>(r.size()) > limit) page.next_cursor = r[limit - 1]["seq"].as<int64_t>();
        return page;
      });
}

absl::StatusOr<AuthSettings> PgPolicyStore::GetSettings(absl::string_view directory_id) {
  return pool_->ReadFor<AuthSettings>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<AuthSettings> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT *, ", PgMicros("update_time"), " AS update_us FROM ",
                         Table("auth_settings"), " WHERE directory_id = $1"),
            std::string(directory_id));
        if (r.empty()) return absl::NotFoundError("no such directory");
        return SettingsFromRow(r[0]);
      });
}

absl::StatusOr<AuthSettings> PgPolicyStore::UpdateSettings(const AuthSettings& next,
                                                           absl::string_view expected_etag,
                                                           AuditEvent event) {
  return pool_->TransactFor<AuthSettings>([&](pqxx::work& tx) -> absl::StatusOr<AuthSettings> {
    // The row lock makes check-etag-then-write one step against concurrent updates.
    const pqxx::result current = tx.exec_params(
        absl::StrCat("SELECT *, ", PgMicros("update_time"), " AS update_us FROM ",
                     Table("auth_settings"), " WHERE directory_id = $1 FOR UPDATE"),
        next.directory_id());
    if (current.empty()) return absl::NotFoundError("no such directory");
    const AuthSettings before = SettingsFromRow(current[0]);
    if (!expected_etag.empty() && before.etag() != expected_etag) {
      return absl::AbortedError(
          "settings changed since they were read (stale etag); read them again and retry");
    }
    tx.exec_params0(
        absl::StrCat("UPDATE ", Table("auth_settings"),
                     " SET required_level = $2, password_points = $3, sms_points = $4, "
                     "email_points = $5, passkey_points = $6, etag = $7, updated_by = $8, "
                     "update_time = ",
                     PgTimeParam(9), " WHERE directory_id = $1"),
        next.directory_id(), next.required_level(), PointsFor(next, AUTH_METHOD_PASSWORD),
        PointsFor(next, AUTH_METHOD_SMS_OTP), PointsFor(next, AUTH_METHOD_EMAIL_OTP),
        PointsFor(next, AUTH_METHOD_PASSKEY), next.etag(), next.updated_by(),
        absl::ToUnixMicros(FromProtoTime(next.update_time())));
    *event.mutable_before() = before;
    *event.mutable_after() = next;
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("audit_events"),
                                 " (event_id, directory_id, actor, time, before, after) VALUES "
                                 "($1, $2, $3, ",
                                 PgTimeParam(4), ", $5::jsonb, $6::jsonb)"),
                    event.event_id(), event.directory_id(), event.actor(),
                    absl::ToUnixMicros(FromProtoTime(event.time())), SettingsJson(event.before()),
                    SettingsJson(event.after()));
    return next;
  });
}

absl::StatusOr<Page<AuditEvent>> PgPolicyStore::ListAuditEvents(absl::string_view directory_id,
                                                                int64_t cursor, int limit) {
  return pool_->ReadFor<Page<AuditEvent>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<Page<AuditEvent>> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT seq, event_id, directory_id, actor, ", PgMicros("time"),
                         " AS time_us, before::text AS before_json, after::text AS after_json "
                         "FROM ",
                         Table("audit_events"),
                         " WHERE directory_id = $1 AND ($2::bigint = 0 OR seq < $2::bigint) ORDER BY seq DESC "
                         "LIMIT $3"),
            std::string(directory_id), cursor, limit + 1);
        Page<AuditEvent> page;
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i) {
          const pqxx::row row = r[i];
          AuditEvent e;
          e.set_event_id(row["event_id"].as<std::string>());
          e.set_directory_id(row["directory_id"].as<std::string>());
          e.set_actor(row["actor"].as<std::string>());
          *e.mutable_time() = MicrosToProto(row["time_us"].as<int64_t>());
          if (!row["before_json"].is_null()) {
            *e.mutable_before() = SettingsFromJson(row["before_json"].as<std::string>());
          }
          *e.mutable_after() = SettingsFromJson(row["after_json"].as<std::string>());
          page.items.push_back(std::move(e));
        }
        if (static_cast<int>(r.size()) > limit) page.next_cursor = r[limit - 1]["seq"].as<int64_t>();
        return page;
      });
}

absl::Status PgPolicyStore::Ping() { return pool_->Ping(); }

}  // namespace tally::policy
