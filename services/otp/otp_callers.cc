#include "services/otp/otp_callers.h"

#include <string>

namespace tally::otp {

ClusterCallers OtpCallers() {
  // Logins send and check codes; the credential service does for contact changes, and tells
  // the old destination (notices).
  const std::vector<std::string> senders = {std::string(kOrchestratorService),
                                            std::string(kCredentialService)};
  return ClusterCallers("tally.otp.v1", {
                                            {"OtpService.SendCode", ClusterOnly(senders)},
                                            {"OtpService.VerifyCode", ClusterOnly(senders)},
                                            {"OtpService.ListDeadLetters", CredentialsOnly()},
                                            {"OtpService.SendNotice", ClusterOnly(senders)},
                                        });
}

}  // namespace tally::otp
