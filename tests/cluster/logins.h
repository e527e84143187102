#pragma once

// The login API as the end-to-end, fault and load tests drive it: one function per
// LoginService call that returns the gRPC status (so a test can assert on outages) and the
// login state, and whole logins and passkey registrations through a Cluster.

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/otp/v1/otp.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tests/cluster/cluster.h"

namespace tally::testing {

// A healthy-looking context deadline for single calls.
inline constexpr absl::Duration kCallTimeout = absl::Seconds(15);

// LoginService calls: the gRPC status; `state` receives the login state when given.
grpc::Status StartLogin(orchestrator::v1::LoginService::Stub& stub, const std::string& directory,
                        const std::string& username, orchestrator::v1::LoginState* state,
                        absl::Duration timeout = kCallTimeout);
grpc::Status SubmitPassword(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                            const std::string& password, orchestrator::v1::LoginState* state,
                            absl::Duration timeout = kCallTimeout);
grpc::Status SendOtp(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                     otp::v1::Channel channel, orchestrator::v1::LoginState* state,
                     absl::Duration timeout = kCallTimeout);
grpc::Status VerifyOtp(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                       const std::string& code, orchestrator::v1::LoginState* state,
                       absl::Duration timeout = kCallTimeout);
grpc::Status SubmitTotp(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                        const std::string& code, orchestrator::v1::LoginState* state,
                        absl::Duration timeout = kCallTimeout);
grpc::Status SubmitRecoveryCode(orchestrator::v1::LoginService::Stub& stub,
                                const std::string& login, const std::string& code,
                                orchestrator::v1::LoginState* state,
                                absl::Duration timeout = kCallTimeout);
grpc::Status GetLogin(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                      orchestrator::v1::LoginState* state, absl::Duration timeout = kCallTimeout);
grpc::Status StartPasskey(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                          std::string* options, absl::Duration timeout = kCallTimeout);
grpc::Status FinishPasskey(orchestrator::v1::LoginService::Stub& stub, const std::string& login,
                           const std::string& assertion, orchestrator::v1::LoginState* state,
                           absl::Duration timeout = kCallTimeout);
grpc::Status ValidateSession(orchestrator::v1::SessionService::Stub& stub,
                             const std::string& token,
                             orchestrator::v1::ValidateSessionResponse* claims = nullptr);

// A password + SMS login of `user` on orchestrator `replica`, codes from the outbox; the
// session token, or the first step's error (an UNAVAILABLE one is the caller's to retry).
absl::StatusOr<std::string> LoginWithPasswordAndSms(Cluster& cluster, const std::string& directory,
                                                    const Cluster::User& user, int replica = 0);

// Registers a passkey of `authenticator` for `user` with the user's session token; the
// registered passkey.
absl::StatusOr<passkey::v1::Passkey> RegisterPasskey(
    Cluster& cluster, const std::string& directory, const Cluster::User& user,
    const std::string& token, webauthn::testing::SoftAuthenticator& authenticator);

// A passkey login of a user known by `username` (empty: discoverable); the final state.
grpc::Status PasskeyLogin(orchestrator::v1::LoginService::Stub& stub, const std::string& directory,
                          const std::string& username,
                          webauthn::testing::SoftAuthenticator& authenticator,
                          orchestrator::v1::LoginState* state,
                          absl::Duration timeout = kCallTimeout);

// The gRPC status as "CODE: message" for test messages.
std::string Describe(const grpc::Status& status);

}  // namespace tally::testing
