#include "tools/tallyctl/tallyctl.h"

#include <fstream>
#include <sstream>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/jwt.h"
#include "common/status/grpc_status.h"
#include "common/util/clock.h"
#include "common/util/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::cli {
namespace {

namespace pb = ::tally::policy::v1;
using ::tally::common::v1::AuthMethod;

constexpr int kPolicyPort = 50051;

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

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

absl::Status Rpc(const grpc::Status& status) { return FromGrpcStatus(status); }

absl::Status Usage(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(why, " (see tallyctl --help)"));
}

}  // namespace

const char* Tallyctl::Usage() {
  return R"(tallyctl: operate a Tally cluster.

  tallyctl directory create --name NAME --tier freemium|explorer|professional|enterprise
  tallyctl directory get DIRECTORY_ID
  tallyctl directory list [--page_size N]
  tallyctl settings get DIRECTORY_ID
  tallyctl settings set DIRECTORY_ID [--required_level N] [--password N] [--sms N]
                                     [--email N] [--passkey N] [--etag ETAG]
  tallyctl settings audit DIRECTORY_ID [--page_size N]
  tallyctl jwks KEY.pem...     print the JWKS of Ed25519 keys (public or private PEM)

Common flags: --addr HOST:PORT, --platform-key KEY (or TALLY_PLATFORM_KEY),
--token SESSION_TOKEN (or TALLY_TOKEN), --json, --timeout 10s)";
}

Tallyctl::Tallyctl(CliOptions options, std::ostream& out)
    : options_(std::move(options)), out_(out) {}

std::shared_ptr<grpc::Channel> Tallyctl::Channel(int default_port) {
  const std::string addr =
      options_.addr.empty() ? absl::StrCat("127.0.0.1:", default_port) : options_.addr;
  return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
}

void Tallyctl::Authorize(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(options_.timeout));
  if (!options_.platform_key.empty()) {
    context.AddMetadata("x-tally-platform-key", options_.platform_key);
  }
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

absl::Status Tallyctl::Run(const std::vector<std::string>& args, const std::string& name,
                           const std::string& tier, int page_size, const SettingsChange& change) {
  if (args.empty()) return cli::Usage("no command");
  const std::string& group = args[0];
  const std::string verb = args.size() > 1 ? args[1] : "";
  auto need = [&](size_t n) -> absl::Status {
    if (args.size() != n) {
      return cli::Usage(absl::StrCat("'", group, " ", verb, "' takes ", n - 2, " argument",
                                     n - 2 == 1 ? "" : "s"));
    }
    return absl::OkStatus();
  };
  if (group == "jwks") {
    return Jwks(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (group == "directory") {
    if (verb == "create") {
      if (absl::Status s = need(2); !s.ok()) return s;
      return DirectoryCreate(name, tier);
    }
    if (verb == "get") {
      if (absl::Status s = need(3); !s.ok()) return s;
      return DirectoryGet(args[2]);
    }
    if (verb == "list") {
      if (absl::Status s = need(2); !s.ok()) return s;
      return DirectoryList(page_size);
    }
  }
  if (group == "settings") {
    if (absl::Status s = need(3); !s.ok()) return s;
    if (verb == "get") return SettingsGet(args[2]);
    if (verb == "set") return SettingsSet(args[2], change);
    if (verb == "audit") return SettingsAudit(args[2], page_size);
  }
  return cli::Usage(absl::StrCat("unknown command '", absl::StrJoin(args, " "), "'"));
}

absl::Status Tallyctl::DirectoryCreate(const std::string& name, const std::string& tier) {
  if (name.empty()) return cli::Usage("--name is required");
  pb::Tier parsed;
  if (!pb::Tier_Parse(absl::StrCat("TIER_", absl::AsciiStrToUpper(tier)), &parsed) ||
      parsed == pb::TIER_UNSPECIFIED) {
    return cli::Usage("--tier must be freemium, explorer, professional or enterprise");
  }
  auto stub = pb::DirectoryService::NewStub(Channel(kPolicyPort));
  grpc::ClientContext context;
  Authorize(context);
  pb::CreateDirectoryRequest request;
  request.set_display_name(name);
  request.set_tier(parsed);
  pb::CreateDirectoryResponse response;
  if (absl::Status s = Rpc(stub->CreateDirectory(&context, request, &response)); !s.ok()) return s;
  if (options_.json) {
    out_ << Json(response.directory());
  } else {
    out_ << "created directory " << response.directory().directory_id() << " ("
         << response.directory().display_name() << ", " << TierName(response.directory().tier())
         << ")\n";
  }
  return absl::OkStatus();
}

absl::Status Tallyctl::DirectoryGet(const std::string& id) {
  auto stub = pb::DirectoryService::NewStub(Channel(kPolicyPort));
  grpc::ClientContext context;
  Authorize(context);
  pb::GetDirectoryRequest request;
  request.set_directory_id(id);
  pb::GetDirectoryResponse response;
  if (absl::Status s = Rpc(stub->GetDirectory(&context, request, &response)); !s.ok()) return s;
  const pb::Directory& d = response.directory();
  if (options_.json) {
    out_ << Json(d);
  } else {
    out_ << "directory  " << d.directory_id() << "\nname       " << d.display_name()
         << "\ntier       " << TierName(d.tier()) << "\ncreated    " << Time(d.create_time())
         << "\n";
  }
  return absl::OkStatus();
}

absl::Status Tallyctl::DirectoryList(int page_size) {
  auto stub = pb::DirectoryService::NewStub(Channel(kPolicyPort));
  pb::ListDirectoriesRequest request;
  request.set_page_size(page_size);
  pb::ListDirectoriesResponse all;
  // Operators want the whole list: follow the pages.
  do {
    grpc::ClientContext context;
    Authorize(context);
    pb::ListDirectoriesResponse page;
    if (absl::Status s = Rpc(stub->ListDirectories(&context, request, &page)); !s.ok()) return s;
    for (auto& d : *page.mutable_directories()) *all.add_directories() = std::move(d);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (options_.json) {
    out_ << Json(all);
    return absl::OkStatus();
  }
  for (const auto& d : all.directories()) {
    out_ << d.directory_id() << "  " << TierName(d.tier()) << "  " << d.display_name() << "\n";
  }
  out_ << all.directories_size() << " director" << (all.directories_size() == 1 ? "y" : "ies")
       << "\n";
  return absl::OkStatus();
}

absl::Status Tallyctl::SettingsGet(const std::string& directory_id) {
  auto stub = pb::PolicyService::NewStub(Channel(kPolicyPort));
  grpc::ClientContext context;
  Authorize(context);
  pb::GetAuthSettingsRequest request;
  request.set_directory_id(directory_id);
  pb::GetAuthSettingsResponse response;
  if (absl::Status s = Rpc(stub->GetAuthSettings(&context, request, &response)); !s.ok()) {
    return s;
  }
  const pb::AuthSettings& st = response.settings();
  if (options_.json) {
    out_ << Json(st);
  } else {
    out_ << "directory       " << st.directory_id() << "\nrequired level  "
         << st.required_level() << "\npoints          " << PointsLine(st) << "\netag            "
         << st.etag() << "\nupdated         " << Time(st.update_time()) << " by "
         << st.updated_by() << "\n";
  }
  return absl::OkStatus();
}

absl::Status Tallyctl::SettingsSet(const std::string& directory_id, const SettingsChange& change) {
  auto stub = pb::PolicyService::NewStub(Channel(kPolicyPort));
  pb::GetAuthSettingsResponse current;
  {
    grpc::ClientContext context;
    Authorize(context);
    pb::GetAuthSettingsRequest request;
    request.set_directory_id(directory_id);
    if (absl::Status s = Rpc(stub->GetAuthSettings(&context, request, &current)); !s.ok()) {
      return s;
    }
  }
  pb::UpdateAuthSettingsRequest request;
  *request.mutable_settings() = current.settings();
  request.set_etag(change.etag.empty() ? current.settings().etag() : change.etag);
  pb::AuthSettings* next = request.mutable_settings();
  if (change.required_level >= 0) next->set_required_level(change.required_level);
  const std::pair<AuthMethod, int> changes[] = {
      {::tally::common::v1::AUTH_METHOD_PASSWORD, change.password},
      {::tally::common::v1::AUTH_METHOD_SMS_OTP, change.sms},
      {::tally::common::v1::AUTH_METHOD_EMAIL_OTP, change.email},
      {::tally::common::v1::AUTH_METHOD_PASSKEY, change.passkey}};
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
  grpc::ClientContext context;
  Authorize(context);
  pb::UpdateAuthSettingsResponse response;
  if (absl::Status s = Rpc(stub->UpdateAuthSettings(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (options_.json) {
    out_ << Json(response.settings());
  } else {
    out_ << "updated: required level " << response.settings().required_level() << "; "
         << PointsLine(response.settings()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status Tallyctl::SettingsAudit(const std::string& directory_id, int page_size) {
  auto stub = pb::PolicyService::NewStub(Channel(kPolicyPort));
  grpc::ClientContext context;
  Authorize(context);
  pb::ListAuditEventsRequest request;
  request.set_directory_id(directory_id);
  request.set_page_size(page_size);
  pb::ListAuditEventsResponse response;
  if (absl::Status s = Rpc(stub->ListAuditEvents(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (options_.json) {
    out_ << Json(response);
    return absl::OkStatus();
  }
  for (const auto& e : response.events()) {
    out_ << Time(e.time()) << "  " << e.actor() << "\n  before: "
         << (e.has_before() ? absl::StrCat("level ", e.before().required_level(), "; ",
                                           PointsLine(e.before()))
                            : std::string("(created)"))
         << "\n  after:  level " << e.after().required_level() << "; " << PointsLine(e.after())
         << "\n";
  }
  if (!response.next_page_token().empty()) out_ << "(more: raise --page_size)\n";
  return absl::OkStatus();
}

absl::Status Tallyctl::Jwks(const std::vector<std::string>& pem_files) {
  if (pem_files.empty()) return cli::Usage("jwks needs at least one PEM file");
  std::vector<Ed25519PublicKey> keys;
  for (const std::string& path : pem_files) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    std::stringstream pem;
    pem << in.rdbuf();
    // A private key file works too: its public half is what gets published.
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(pem.str());
    if (!key.ok()) {
      absl::StatusOr<Ed25519PrivateKey> private_key = Ed25519PrivateKey::FromPem(pem.str());
      if (!private_key.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(path, " is not an Ed25519 PEM key"));
      }
      key = private_key->PublicKey();
    }
    keys.push_back(*key);
  }
  // The issuer only matters for verifying, which this verifier never does.
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::FromKeys(keys, {.issuer = "tally"}, SystemClock::Get());
  if (!verifier.ok()) return verifier.status();
  out_ << verifier->ToJwks() << "\n";
  return absl::OkStatus();
}

}  // namespace tally::cli
