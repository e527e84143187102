#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

// Longest SendCodeRequest.client_ip accepted (an IPv6 address with a zone fits easily).
inline constexpr size_t kMaxClientIpBytes = 64;

// The end user's address a login client passes (StartLoginRequest.client_ip, and from the
// orchestrator SendCodeRequest.client_ip), as the throttles key it: the OTP service's per-address
// send budgets and the orchestrator's StartLogin rate limit.
//
// What a per-address throttle counts for `client_ip`: "" for an
// empty one (no per-address budget); an IPv4 address (also written IPv4-mapped, ::ffff:a.b.c.d)
// as itself; an IPv6 address as its /64, since one subscriber usually holds a whole /64 and
// could otherwise walk a budget for every address in it. INVALID_ARGUMENT for anything else,
// never quoting the input.
absl::StatusOr<std::string> ClientAddressKey(absl::string_view client_ip);

}  // namespace tally
