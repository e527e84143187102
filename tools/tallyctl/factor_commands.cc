#include "tools/tallyctl/factor_commands.h"

#include <iostream>
#include <string>

#include "common/qr/qr_code.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tools/tallyctl/credential_commands.h"

namespace tally::cli {
namespace {

namespace pb = ::tally::credential::v1;

// Shows the QR code (half blocks on stderr, beside the prompts) and the secret for typing, asks
// for the app's first code and confirms. Up to three codes: a mistyped one can be retried.
absl::Status TotpEnroll(CommandContext& ctx) {
  pb::StartTotpEnrollmentRequest start;
  start.set_user_id(ctx.args()[0]);
  pb::StartTotpEnrollmentResponse started;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::StartTotpEnrollment, start, &started);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<QrCode> qr = QrCode::Encode(started.otpauth_uri());
  if (!qr.ok()) return qr.status();
  std::cerr << "Scan this with your authenticator app:\n\n"
            << qr->ToHalfBlocks() << "\nor enter this key by hand: " << started.secret_base32()
            << "\n\n";
  pb::ConfirmTotpEnrollmentRequest confirm;
  confirm.set_enrollment_id(started.enrollment_id());
  absl::Status confirmed;
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<std::string> code = Ask("code from the app: ", false);
    if (!code.ok()) return code.status();
    confirm.set_code(*code);
    pb::ConfirmTotpEnrollmentResponse response;
    confirmed = Call(ctx, &pb::CredentialService::Stub::ConfirmTotpEnrollment, confirm, &response);
    if (confirmed.ok()) {
      if (ctx.options().json) {
        ctx.PrintJson(response.user());
      } else {
        ctx.out() << "authenticator app enrolled for " << response.user().username() << "\n";
      }
      return absl::OkStatus();
    }
    if (!absl::IsUnauthenticated(confirmed)) return confirmed;
    std::cerr << "that code is not right; try the next one\n";
  }
  return confirmed;
}

absl::Status TotpDelete(CommandContext& ctx) {
  pb::DeleteTotpRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::DeleteTotpResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::DeleteTotp, request, &response); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response.user());
  } else {
    ctx.out() << "authenticator app removed\n";
  }
  return absl::OkStatus();
}

absl::Status RecoveryCodesGenerate(CommandContext& ctx) {
  pb::GenerateRecoveryCodesRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::GenerateRecoveryCodesResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::GenerateRecoveryCodes, request, &response);
      !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  std::cerr << "Recovery codes: each works once. Store them somewhere safe now (a password "
               "manager, or on paper): they are not shown again, and any earlier codes no longer "
               "work.\n\n";
  for (const std::string& code : response.codes()) ctx.out() << "  " << code << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterFactorCommands(CommandRegistry& registry) {
  registry.Add({"totp", "enroll",
                "totp enroll USER_ID   (the user's fresh token: shows a QR code, asks for a code)",
                1, 1, TotpEnroll});
  registry.Add({"totp", "delete", "totp delete USER_ID", 1, 1, TotpDelete});
  registry.Add({"recovery-codes", "generate",
                "recovery-codes generate USER_ID   (prints 10 new codes once)", 1, 1,
                RecoveryCodesGenerate});
}

}  // namespace tally::cli
