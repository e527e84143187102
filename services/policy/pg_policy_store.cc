#include "services/policy/pg_policy_store.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/postgres/pg_time.h"
#include "common/util/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "services/policy/points.h"

namespace tally::policy {
namespace {

namespace cpb = ::tally::common::v1;

// The points columns of auth_settings, one per method of KnownMethods().
constexpr std::pair<cpb::AuthMethod, const char*> kPointsColumns[] = {
    {cpb::AUTH_METHOD_PASSWORD, "password_points"},
    {cpb::AUTH_METHOD_SMS_OTP, "sms_points"},
    {cpb::AUTH_METHOD_EMAIL_OTP, "email_points"},
    {cpb::AUTH_METHOD_PASSKEY, "passkey_points"},
    {cpb::AUTH_METHOD_TOTP, "totp_points"},
    {cpb::AUTH_METHOD_RECOVERY_CODE, "recovery_code_points"},
    {cpb::AUTH_METHOD_TRUSTED_DEVICE, "trusted_device_points"}};

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

// Country codes cross the wire joined by commas: each is digits only (ValidateSettings).
std::string JoinCodes(const AuthSettings& settings) {
  return absl::StrJoin(settings.sms_allowed_country_codes(), ",");
}

// The columns of one auth_settings row and their placeholders: $1 is the directory id, the
// values follow in SettingsParams() order.
struct SettingsRowSql {
  std::string columns;
  std::string values;
};

SettingsRowSql SettingsRow() {
  std::vector<std::string> columns = {"required_level"};
  for (auto [method, column] : kPointsColumns) columns.push_back(column);
  for (const char* column : {"trusted_device_max_age_s", "sms_allowed_country_codes", "etag",
                             "updated_by", "update_time"}) {
    columns.push_back(column);
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < columns.size(); ++i) {
    const int param = static_cast<int>(i) + 2;
    if (columns[i] == "sms_allowed_country_codes") {
      values.push_back(absl::StrCat("string_to_array($", param, ", ',')::text[]"));
    } else if (columns[i] == "update_time") {
      values.push_back(PgTimeParam(param));
    } else {
      values.push_back(absl::StrCat("$", param));
    }
  }
  return {absl::StrJoin(columns, ", "), absl::StrJoin(values, ", ")};
}

std::vector<std::string> SettingsParams(const AuthSettings& s) {
  std::vector<std::string> params = {s.directory_id(), absl::StrCat(s.required_level())};
  for (auto [method, column] : kPointsColumns) {
    params.push_back(absl::StrCat(PointsFor(s, method)));
  }
  params.push_back(absl::StrCat(absl::ToInt64Seconds(TrustedDeviceMaxAge(s))));
  params.push_back(JoinCodes(s));
  params.push_back(s.etag());
  params.push_back(s.updated_by());
  params.push_back(absl::StrCat(absl::ToUnixMicros(FromProtoTime(s.update_time()))));
  return params;
}

// A row of SettingsSelect().
AuthSettings SettingsFromRow(const pqxx::row& row) {
  AuthSettings s;
  s.set_directory_id(row["directory_id"].as<std::string>());
  s.set_required_level(row["required_level"].as<int>());
  for (auto [method, column] : kPointsColumns) {
    MethodPoints* mp = s.add_method_points();
    mp->set_method(method);
    mp->set_points(row[column].as<int>());
  }
  s.mutable_trusted_device_max_age()->set_seconds(row["trusted_device_max_age_s"].as<int64_t>());
  for (absl::string_view code :
       absl::StrSplit(row["sms_codes"].as<std::string>(), ',', absl::SkipEmpty())) {
    s.add_sms_allowed_country_codes(std::string(code));
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
      // Directories stored before this migration read the three new methods as 0 points (off),
      // not as their tier's new defaults: an upgrade must not change who can log in. With the
      // Freemium defaults a remembered device (10) would let password + device (30) in without
      // the code these directories demand today. Admins turn the methods on when they want them
      // (GetAuthSettings shows the tier's defaults beside the settings). Until then nothing
      // changes: the device age is the default (30 days) and SMS go to every country, as before.
      // The limits are those of points.h when this was written (a migration is history).
      {2, "TOTP, recovery codes, remembered devices and SMS countries", R"sql(
ALTER TABLE auth_settings
  ADD COLUMN totp_points integer NOT NULL DEFAULT 0
    CHECK (totp_points BETWEEN 0 AND 1000),
  ADD COLUMN recovery_code_points integer NOT NULL DEFAULT 0
    CHECK (recovery_code_points BETWEEN 0 AND 1000),
  ADD COLUMN trusted_device_points integer NOT NULL DEFAULT 0
    CHECK (trusted_device_points BETWEEN 0 AND 1000),
  ADD COLUMN trusted_device_max_age_s bigint NOT NULL DEFAULT 2592000
    CHECK (trusted_device_max_age_s BETWEEN 1 AND 34560000),
  ADD COLUMN sms_allowed_country_codes text[] NOT NULL DEFAULT '{}';
)sql"},
  };
  return *migrations;
}

absl::Status PgPolicyStore::Migrate() { return tally::Migrate(*pool_, schema_, Migrations()); }

std::string PgPolicyStore::Table(absl::string_view name) const {
  return absl::StrCat("\"", schema_, "\".", name);
}

std::string PgPolicyStore::SettingsSelect(absl::string_view suffix) const {
  return absl::StrCat("SELECT s.*, d.tier, ", PgMicros("s.update_time"),
                      " AS update_us, array_to_string(s.sms_allowed_country_codes, ',') AS "
                      "sms_codes FROM ",
                      Table("auth_settings"), " s JOIN ", Table("directories"),
                      " d USING (directory_id) WHERE directory_id = $1", suffix);
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
    const SettingsRowSql row = SettingsRow();
    tx.exec_params0(absl::StrCat("INSERT INTO ", Table("auth_settings"), " (directory_id, ",
                                 row.columns, ") VALUES ($1, ", row.values, ")"),
                    pqxx::prepare::make_dynamic_params(SettingsParams(settings)));
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

absl::StatusOr<DirectorySettings> PgPolicyStore::GetSettings(absl::string_view directory_id) {
  return pool_->ReadFor<DirectorySettings>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<DirectorySettings> {
        const pqxx::result r = tx.exec_params(SettingsSelect(), std::string(directory_id));
        if (r.empty()) return absl::NotFoundError("no such directory");
        DirectorySettings found;
        found.settings = SettingsFromRow(r[0]);
        found.tier = static_cast<Tier>(r[0]["tier"].as<int>());
        return found;
      });
}

absl::StatusOr<AuthSettings> PgPolicyStore::UpdateSettings(const AuthSettings& next,
                                                           absl::string_view expected_etag,
                                                           AuditEvent event) {
  return pool_->TransactFor<AuthSettings>([&](pqxx::work& tx) -> absl::StatusOr<AuthSettings> {
    // The row lock makes check-etag-then-write one step against concurrent updates.
    const pqxx::result current =
        tx.exec_params(SettingsSelect(" FOR UPDATE OF s"), next.directory_id());
    if (current.empty()) return absl::NotFoundError("no such directory");
    const AuthSettings before = SettingsFromRow(current[0]);
    if (!expected_etag.empty() && before.etag() != expected_etag) {
      return absl::AbortedError(
          "settings changed since they were read (stale etag); read them again and retry");
    }
    const SettingsRowSql row = SettingsRow();
    tx.exec_params0(absl::StrCat("UPDATE ", Table("auth_settings"), " SET (", row.columns,
                                 ") = (", row.values, ") WHERE directory_id = $1"),
                    pqxx::prepare::make_dynamic_params(SettingsParams(next)));
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

absl::StatusOr<SmsUnrestrictedCounts> PgPolicyStore::CountSmsUnrestricted() {
  return pool_->ReadFor<SmsUnrestrictedCounts>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<SmsUnrestrictedCounts> {
        const pqxx::result r = tx.exec(absl::StrCat(
            "SELECT count(*) FILTER (WHERE sms_points > 0) AS enabled, "
            "count(*) FILTER (WHERE sms_points = 0) AS disabled FROM ",
            Table("auth_settings"), " WHERE cardinality(sms_allowed_country_codes) = 0"));
        SmsUnrestrictedCounts counts;
        counts.sms_enabled = r[0]["enabled"].as<int64_t>();
        counts.sms_disabled = r[0]["disabled"].as<int64_t>();
        return counts;
      });
}

absl::Status PgPolicyStore::Ping() { return pool_->Ping(); }

}  // namespace tally::policy
