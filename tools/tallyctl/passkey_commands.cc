#include "tools/tallyctl/passkey_commands.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status/grpc_status.h"
#include "common/util/file.h"
#include "common/util/proto_time.h"
#include "services/passkey/webauthn/vectors.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"

namespace tally::cli {
namespace {

namespace pb = ::tally::passkey::v1;

constexpr int kPasskeyPort = 50054;

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "never";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

// Runs every case of a vector file through the verifier library: no server involved.
absl::Status WebauthnCheck(CommandContext& ctx) {
  const std::string& path = ctx.args()[0];
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<webauthn::VectorCase>> cases = webauthn::ParseVectorFile(*text);
  if (!cases.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", cases.status().message()));
  }
  for (const webauthn::VectorCase& c : *cases) {
    absl::Status s = webauthn::RunVectorCase(c);
    if (s.ok()) {
      ctx.out() << c.name << " accept\n";
    } else {
      // One line per case, whatever the message holds.
      ctx.out() << c.name << " reject "
                << absl::StrReplaceAll(s.message(), {{"\n", " "}, {"\r", " "}}) << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status PasskeyList(CommandContext& ctx) {
  auto stub = pb::PasskeyService::NewStub(ctx.Channel(kPasskeyPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ListPasskeysRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::ListPasskeysResponse response;
  if (auto s = FromGrpcStatus(stub->ListPasskeys(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  for (const pb::Passkey& p : response.passkeys()) {
    ctx.out() << p.credential_id() << "  " << (p.nickname().empty() ? "-" : p.nickname())
              << "  aaguid " << p.aaguid() << "  transports "
              << (p.transports().empty() ? "-" : absl::StrJoin(p.transports(), ","))
              << (p.backup_eligible() ? "  synced" : "") << "  created "
              << Time(p.create_time()) << "  last used " << Time(p.last_use_time()) << "\n";
  }
  ctx.out() << response.passkeys_size() << " passkey" << (response.passkeys_size() == 1 ? "" : "s")
            << "\n";
  return absl::OkStatus();
}

absl::Status PasskeyDelete(CommandContext& ctx) {
  auto stub = pb::PasskeyService::NewStub(ctx.Channel(kPasskeyPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::DeletePasskeyRequest request;
  request.set_user_id(ctx.args()[0]);
  request.set_credential_id(ctx.args()[1]);
  pb::DeletePasskeyResponse response;
  if (auto s = FromGrpcStatus(stub->DeletePasskey(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "deleted passkey " << request.credential_id() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPasskeyCommands(CommandRegistry& registry) {
  registry.Add({"webauthn", "check",
                "webauthn check FILE.json   (runs WebAuthn vectors through the verifier, offline)",
                1, 1, WebauthnCheck});
  registry.Add({"passkey", "list", "passkey list USER_ID   (--token of the user or an admin)", 1,
                1, PasskeyList});
  registry.Add({"passkey", "delete",
                "passkey delete [--] USER_ID CREDENTIAL_ID   (--token of the user or an admin; "
                "-- first when the id starts with -)",
                2, 2,
                PasskeyDelete});
}

}  // namespace tally::cli
