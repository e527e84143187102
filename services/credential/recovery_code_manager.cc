#include "services/credential/recovery_code_manager.h"

#include <optional>

#include "common/logging/logging.h"
#include "services/credential/recovery_codes.h"

namespace tally::credential {
namespace {

constexpr absl::string_view kMethod = "recovery_code";
// One answer for every refused code: wrong, used, voided or malformed.
constexpr char kBadCode[] = "invalid recovery code";

}  // namespace

RecoveryCodeManager::RecoveryCodeManager(FactorGuard& guard, FactorStore& store,
                                         RandomSource& random, std::string hmac_key)
    : guard_(guard), store_(store), random_(random), hmac_key_(std::move(hmac_key)) {}

absl::StatusOr<pb::GenerateRecoveryCodesResponse> RecoveryCodeManager::GenerateRecoveryCodes(
    const Caller& caller, const pb::GenerateRecoveryCodesRequest& request) {
  absl::StatusOr<StoredUser> user =
      guard_.RequireEnrollingUser(caller, request.user_id(), "generating recovery codes");
  if (!user.ok()) return user.status();
  const std::string& directory_id = user->user.directory_id();
  pb::GenerateRecoveryCodesResponse response;
  std::vector<std::string> macs;
  while (response.codes_size() < kRecoveryCodesPerSet) {
    std::string code = GenerateRecoveryCode(random_);
    const std::string mac =
        RecoveryCodeMac(hmac_key_, directory_id, request.user_id(), *NormalizeRecoveryCode(code));
    // 64 bits each: a repeat within a set never happens, but must not become one stored row.
    if (std::find(macs.begin(), macs.end(), mac) != macs.end()) continue;
    macs.push_back(mac);
    response.add_codes(std::move(code));
  }
  if (absl::Status s =
          store_.ReplaceRecoveryCodes(directory_id, request.user_id(), macs, guard_.clock().Now());
      !s.ok()) {
    return s;
  }
  GetLogger("credential")
      ->info("{} generated a new set of recovery codes for user {}", caller.Actor(),
             request.user_id());
  return response;
}

absl::StatusOr<pb::VerifyRecoveryCodeResponse> RecoveryCodeManager::VerifyRecoveryCode(
    const Caller& /*cluster: orchestrator*/, const pb::VerifyRecoveryCodeRequest& request) {
  absl::StatusOr<StoredUser> user = guard_.LoadUser(request.directory_id(), request.user_id());
  if (!user.ok()) return user.status();
  if (absl::Status s = guard_.TakeAttempt(request.user_id(), kMethod); !s.ok()) return s;
  const std::optional<std::string> code = NormalizeRecoveryCode(request.code());
  if (!code.has_value()) return absl::UnauthenticatedError(kBadCode);
  absl::StatusOr<int> left = store_.UseRecoveryCode(
      request.directory_id(), request.user_id(),
      RecoveryCodeMac(hmac_key_, request.directory_id(), request.user_id(), *code),
      guard_.clock().Now());
  if (absl::IsNotFound(left.status())) return absl::UnauthenticatedError(kBadCode);
  if (!left.ok()) return left.status();
  guard_.ForgiveAttempts(request.user_id(), kMethod);
  GetLogger("credential")->info("user {} used a recovery code; {} left", request.user_id(), *left);
  pb::VerifyRecoveryCodeResponse response;
  response.set_codes_left(*left);
  return response;
}

}  // namespace tally::credential
