#include "tools/tallyctl/policy_commands.h"

#include <openssl/crypto.h>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/auth/jwt.h"
#include "common/status/grpc_status.h"
#include "common/util/clock.h"
#include "common/util/file.h"
#include "common/util/proto_time.h"
#include "tally/policy/v1/policy.grpc.pb.h"

ABSL_FLAG(std::string, name, "", "directory create: display name.");
ABSL_FLAG(std::string, tier, "", "directory create: freemium, explorer, professional, enterprise.");
ABSL_FLAG(int, page_size, 0, "Items per page (0: the server's default).");
ABSL_FLAG(int, required_level, -1, "settings set: points a login needs.");
ABSL_FLAG(int, password, -1, "settings set: points for a password.");
ABSL_FLAG(int, sms, -1, "settings set: points for an SMS code (0 disables).");
// A string, as user create|set-contact (credential_commands.cc) take an address with it.
ABSL_FLAG(std::string, email, "",
          "settings set: points for an email code (0 disables); user create|set-contact: "
          "e-mail address.");
ABSL_FLAG(int, passkey, -1, "settings set: points for a passkey (0 disables).");
ABSL_FLAG(int, totp, -1, "settings set: points for an authenticator app code (0 disables).");
ABSL_FLAG(int, recovery_code, -1, "settings set: points for a recovery code (0 disables).");
ABSL_FLAG(int, trusted_device, -1,
          "settings set: points for a remembered device (0 disables; counts only beside a "
          "password or passkey).");
ABSL_FLAG(std::string, trusted_device_max_age, "",
          "settings set: how long a remembered device counts, e.g. 30d, 720h (at most 400d).");
ABSL_FLAG(std::string, sms_countries, "",
          "settings set: country calling codes SMS may go to, e.g. 31,32; 'all' for every "
          "country.");
ABSL_FLAG(std::string, etag, "", "settings set: only update if the settings still have this etag.");

namespace tally::cli {
namespace {

namespace pb = ::tally::policy::v1;
using ::tally::common::v1::AuthMethod;

constexpr int kPolicyPort = 50051;

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

std::string TierName(pb::Tier tier) {
  std::string name = pb::Tier_Name(tier);
  if (name.rfind("TIER_", 0) == 0) name = name.substr(5);
  return absl::AsciiStrToLower(name);
}

std::string MethodName(AuthMethod method) {
  switch (method) {
    case ::tally::common::v1::AUTH_METHOD_PASSWORD: return "password";
    case ::tally::common::v1::AUTH_METHOD_SMS_OTP: return "sms";
    case ::tally::common::v1::AUTH_METHOD_EMAIL_OTP: return "email";
    case ::tally::common::v1::AUTH_METHOD_PASSKEY: return "passkey";
    case ::tally::common::v1::AUTH_METHOD_TOTP: return "totp";
    case ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE: return "recovery_code";
    case ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE: return "trusted_device";
    default: return absl::StrCat("method-", static_cast<int>(method));
  }
}

std::string PointsLine(const pb::AuthSettings& s) {
  std::vector<std::string> parts;
  for (const auto& mp : s.method_points()) {
    parts.push_back(absl::StrCat(MethodName(mp.method()), " ", mp.points(),
                                 mp.points() == 0 ? " (off)" : ""));
  }
  return absl::StrJoin(parts, ", ");
}

// "30d" for whole days, else as Abseil writes durations ("36h"); "30d (default)" when unset.
std::string MaxAgeText(const pb::AuthSettings& s) {
  if (!s.has_trusted_device_max_age()) return "30d (default)";
  const int64_t seconds = s.trusted_device_max_age().seconds();
  if (seconds > 0 && seconds % 86400 == 0) return absl::StrCat(seconds / 86400, "d");
  return absl::FormatDuration(absl::Seconds(seconds));
}

std::string CountriesText(const pb::AuthSettings& s) {
  if (s.sms_allowed_country_codes().empty()) return "all";
  return absl::StrJoin(s.sms_allowed_country_codes(), ", ");
}

// Everything a change may touch, on one line (settings set, settings audit).
std::string SettingsLine(const pb::AuthSettings& s) {
  return absl::StrCat("required level ", s.required_level(), "; ", PointsLine(s),
                      "; device max age ", MaxAgeText(s), "; sms countries ", CountriesText(s));
}

// --trusted_device_max_age: "30d" (days), or anything absl::ParseDuration takes ("720h").
absl::StatusOr<absl::Duration> ParseMaxAge(absl::string_view text) {
  int64_t days = 0;
  if (absl::ConsumeSuffix(&text, "d") && absl::SimpleAtoi(text, &days)) {
    return absl::Hours(24 * days);
  }
  absl::Duration duration;
  if (absl::ParseDuration(text, &duration)) return duration;
  return UsageError("settings set: --trusted_device_max_age takes a duration such as 30d or 720h");
}

// --sms_countries: "31,32" (a '+' and spaces are dropped: "+31, +32" works too); "all" clears.
std::vector<std::string> ParseCountries(absl::string_view text) {
  std::vector<std::string> codes;
  if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(text)) == "all") return codes;
  for (absl::string_view code : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    code = absl::StripAsciiWhitespace(code);
    absl::ConsumePrefix(&code, "+");
    codes.emplace_back(code);
  }
  return codes;
}

absl::Status DirectoryCreate(CommandContext& ctx) {
  const std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) return UsageError("--name is required");
  pb::Tier tier;
  if (!pb::Tier_Parse(absl::StrCat("TIER_", absl::AsciiStrToUpper(absl::GetFlag(FLAGS_tier))),
                      &tier) ||
      tier == pb::TIER_UNSPECIFIED) {
    return UsageError("--tier must be freemium, explorer, professional or enterprise");
  }
  auto stub = pb::DirectoryService::NewStub(ctx.Channel(kPolicyPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::CreateDirectoryRequest request;
  request.set_display_name(name);
  request.set_tier(tier);
  pb::CreateDirectoryResponse response;
  if (auto s = FromGrpcStatus(stub->CreateDirectory(&context, request, &response)); !s.ok()) {
    return s;
  }
  const pb::Directory& d = response.directory();
  if (ctx.options().json) {
    ctx.PrintJson(d);
  } else {
    ctx.out() << "created directory " << d.directory_id() << " (" << d.display_name() << ", "
              << TierName(d.tier()) << ")\n";
  }
  return absl::OkStatus();
}

absl::Status DirectoryGet(CommandContext& ctx) {
  auto stub = pb::DirectoryService::NewStub(ctx.Channel(kPolicyPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::GetDirectoryRequest request;
  request.set_directory_id(ctx.args()[0]);
  pb::GetDirectoryResponse response;
  if (auto s = FromGrpcStatus(stub->GetDirectory(&context, request, &response)); !s.ok()) return s;
  const pb::Directory& d = response.directory();
  if (ctx.options().json) {
    ctx.PrintJson(d);
  } else {
    ctx.out() << "directory  " << d.directory_id() << "\nname       " << d.display_name()
              << "\ntier       " << TierName(d.tier()) << "\ncreated    " << Time(d.create_time())
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status DirectoryList(CommandContext& ctx) {
  auto stub = pb::DirectoryService::NewStub(ctx.Channel(kPolicyPort));
  pb::ListDirectoriesRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  pb::ListDirectoriesResponse all;
  // Operators want the whole list: follow the pages.
  do {
    grpc::ClientContext context;
    ctx.Prepare(context);
    pb::ListDirectoriesResponse page;
    if (auto s = FromGrpcStatus(stub->ListDirectories(&context, request, &page)); !s.ok()) {
      return s;
    }
    for (auto& d : *page.mutable_directories()) *all.add_directories() = std::move(d);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (ctx.options().json) {
    ctx.PrintJson(all);
    return absl::OkStatus();
  }
  for (const auto& d : all.directories()) {
    ctx.out() << d.directory_id() << "  " << TierName(d.tier()) << "  " << d.display_name()
              << "\n";
  }
  ctx.out() << all.directories_size() << " director"
            << (all.directories_size() == 1 ? "y" : "ies") << "\n";
  return absl::OkStatus();
}

absl::StatusOr<pb::GetAuthSettingsResponse> ReadSettings(CommandContext& ctx,
                                                         pb::PolicyService::Stub& stub) {
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::GetAuthSettingsRequest request;
  request.set_directory_id(ctx.args()[0]);
  pb::GetAuthSettingsResponse response;
  absl::Status s = FromGrpcStatus(stub.GetAuthSettings(&context, request, &response));
  if (absl::IsPermissionDenied(s)) {
    // A user's own token is the likely mistake: say who may read settings (API.md).
    return absl::PermissionDeniedError(
        absl::StrCat(s.message(), "; a directory's settings are for its admins' tokens and the "
                                  "platform key (TALLY_PLATFORM_KEY)"));
  }
  if (!s.ok()) return s;
  return response;
}

absl::Status SettingsGet(CommandContext& ctx) {
  auto stub = pb::PolicyService::NewStub(ctx.Channel(kPolicyPort));
  absl::StatusOr<pb::GetAuthSettingsResponse> read = ReadSettings(ctx, *stub);
  if (!read.ok()) return read.status();
  const pb::AuthSettings* st = &read->settings();
  if (ctx.options().json) {
    ctx.PrintJson(*st);
  } else {
    ctx.out() << "directory       " << st->directory_id() << "\nrequired level  "
              << st->required_level() << "\npoints          " << PointsLine(*st)
              << "\ndevice max age  " << MaxAgeText(*st) << "\nsms countries   "
              << CountriesText(*st) << "\netag            " << st->etag()
              << "\nupdated         " << Time(st->update_time()) << " by " << st->updated_by()
              << "\ntier defaults   " << SettingsLine(read->tier_defaults()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status SettingsSet(CommandContext& ctx) {
  auto stub = pb::PolicyService::NewStub(ctx.Channel(kPolicyPort));
  absl::StatusOr<pb::GetAuthSettingsResponse> read = ReadSettings(ctx, *stub);
  if (!read.ok()) return read.status();
  const pb::AuthSettings* current = &read->settings();
  pb::UpdateAuthSettingsRequest request;
  *request.mutable_settings() = *current;
  // The etag just read, unless one was given: a concurrent change is refused, never overwritten.
  const std::string etag = absl::GetFlag(FLAGS_etag);
  request.set_etag(etag.empty() ? current->etag() : etag);
  pb::AuthSettings* next = request.mutable_settings();
  if (int level = absl::GetFlag(FLAGS_required_level); level >= 0) next->set_required_level(level);
  int email_points = -1;
  if (const std::string email = absl::GetFlag(FLAGS_email);
      !email.empty() && !absl::SimpleAtoi(email, &email_points)) {
    return UsageError("settings set: --email takes the points of an email code");
  }
  const std::pair<AuthMethod, int> changes[] = {
      {::tally::common::v1::AUTH_METHOD_PASSWORD, absl::GetFlag(FLAGS_password)},
      {::tally::common::v1::AUTH_METHOD_SMS_OTP, absl::GetFlag(FLAGS_sms)},
      {::tally::common::v1::AUTH_METHOD_EMAIL_OTP, email_points},
      {::tally::common::v1::AUTH_METHOD_PASSKEY, absl::GetFlag(FLAGS_passkey)},
      {::tally::common::v1::AUTH_METHOD_TOTP, absl::GetFlag(FLAGS_totp)},
      {::tally::common::v1::AUTH_METHOD_RECOVERY_CODE, absl::GetFlag(FLAGS_recovery_code)},
      {::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE, absl::GetFlag(FLAGS_trusted_device)}};
  for (auto [method, points] : changes) {
    if (points < 0) continue;
    bool found = false;
    for (auto& mp : *next->mutable_method_points()) {
      if (mp.method() == method) {
        mp.set_points(points);
        found = true;
      }
    }
    if (!found) {
      auto* mp = next->add_method_points();
      mp->set_method(method);
      mp->set_points(points);
    }
  }
  if (const std::string age = absl::GetFlag(FLAGS_trusted_device_max_age); !age.empty()) {
    absl::StatusOr<absl::Duration> max_age = ParseMaxAge(age);
    if (!max_age.ok()) return max_age.status();
    // Whole seconds, as the service keeps them; it checks the limits.
    next->mutable_trusted_device_max_age()->set_seconds(absl::ToInt64Seconds(*max_age));
    next->mutable_trusted_device_max_age()->set_nanos(0);
  }
  if (const std::string countries = absl::GetFlag(FLAGS_sms_countries); !countries.empty()) {
    next->clear_sms_allowed_country_codes();
    for (std::string& code : ParseCountries(countries)) {
      next->add_sms_allowed_country_codes(std::move(code));
    }
  }
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::UpdateAuthSettingsResponse response;
  if (auto s = FromGrpcStatus(stub->UpdateAuthSettings(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response.settings());
  } else {
    ctx.out() << "updated: " << SettingsLine(response.settings()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status SettingsAudit(CommandContext& ctx) {
  auto stub = pb::PolicyService::NewStub(ctx.Channel(kPolicyPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ListAuditEventsRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  pb::ListAuditEventsResponse response;
  if (auto s = FromGrpcStatus(stub->ListAuditEvents(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  for (const auto& e : response.events()) {
    ctx.out() << Time(e.time()) << "  " << e.actor() << "\n  before: "
              << (e.has_before() ? SettingsLine(e.before()) : std::string("(created)"))
              << "\n  after:  " << SettingsLine(e.after()) << "\n";
  }
  if (!response.next_page_token().empty()) ctx.out() << "(more: raise --page_size)\n";
  return absl::OkStatus();
}

absl::Status Jwks(CommandContext& ctx) {
  std::vector<Ed25519PublicKey> keys;
  for (const std::string& path : ctx.args()) {
    absl::StatusOr<std::string> pem = ReadFile(path);
    if (!pem.ok()) return pem.status();
    // A private key file works too: its public half is what gets published.
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(*pem);
    if (!key.ok()) {
      absl::StatusOr<Ed25519PrivateKey> private_key = Ed25519PrivateKey::FromPem(*pem);
      if (private_key.ok()) key = private_key->PublicKey();
    }
    OPENSSL_cleanse(pem->data(), pem->size());
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, " is not an Ed25519 PEM key"));
    }
    keys.push_back(*key);
  }
  // The issuer only matters for verifying, which this verifier never does.
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::FromKeys(keys, {.issuer = "tally"}, SystemClock::Get());
  if (!verifier.ok()) return verifier.status();
  ctx.out() << verifier->ToJwks() << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterPolicyCommands(CommandRegistry& registry) {
  registry.Add({"directory", "create",
                "directory create --name NAME --tier freemium|explorer|professional|enterprise",
                0, 0, DirectoryCreate});
  registry.Add({"directory", "get", "directory get DIRECTORY_ID", 1, 1, DirectoryGet});
  registry.Add({"directory", "list", "directory list [--page_size N]", 0, 0, DirectoryList});
  registry.Add({"settings", "get", "settings get DIRECTORY_ID", 1, 1, SettingsGet});
  registry.Add({"settings", "set",
                "settings set DIRECTORY_ID [--required_level N] [--password N] [--sms N] "
                "[--email N] [--passkey N] [--totp N] [--recovery_code N] [--trusted_device N] "
                "[--trusted_device_max_age 30d] [--sms_countries 31,32|all] [--etag ETAG]",
                1, 1, SettingsSet});
  registry.Add({"settings", "audit", "settings audit DIRECTORY_ID [--page_size N]", 1, 1,
                SettingsAudit});
  registry.Add({"jwks", "", "jwks KEY.pem...   (JWKS of Ed25519 public or private PEM keys)", 1,
                64, Jwks});
}

}  // namespace tally::cli
