#pragma once

// The client address rule lives in common/util/client_address.h (the orchestrator's StartLogin
// rate limit keys addresses the same way).
#include "common/util/client_address.h"

namespace tally::otp {

using ::tally::ClientAddressKey;
using ::tally::kMaxClientIpBytes;

}  // namespace tally::otp
