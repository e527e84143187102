#pragma once

#include <memory>

#include <grpcpp/server_context.h>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"

ABSL_DECLARE_FLAG(std::string, platform_key);

namespace tally {

// Who is calling, from the call's `x-tally-platform-key` and `authorization` metadata.
absl::StatusOr<Caller> AuthenticateCall(const Authenticator& authenticator,
                                        const grpc::ServerContext& context);

// The Authenticator every service builds from the shared flags --platform_key, --jwks_file and
// --jwt_issuer (TALLY_PLATFORM_KEY, TALLY_JWKS_FILE, TALLY_JWT_ISSUER). Bad configuration
// (unreadable JWKS, a platform key too short to resist guessing) is INVALID_ARGUMENT.
absl::StatusOr<std::shared_ptr<const Authenticator>> AuthenticatorFromFlags(const Clock& clock);

}  // namespace tally
