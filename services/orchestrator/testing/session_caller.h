#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/testing/test_claims.h"

namespace tally::orchestrator::testing {

// The caller of a session of `user` in `dir` issued at `now`, logged in `ago` before it (fresh
// as the Authenticator finds it with the default --reauth_max_age), for the SessionService's
// logic classes (UserSessions, UserDevices).
inline Caller SessionCaller(absl::Time now, const std::string& dir, const std::string& user,
                            absl::Duration ago = {}, std::vector<std::string> roles = {"user"}) {
  Caller caller = Caller::User(::tally::testing::TestClaims({.directory_id = dir,
                                                             .user_id = user,
                                                             .roles = std::move(roles),
                                                             .auth_time = now - ago,
                                                             .session_id = "ses_" + user},
                                                            now));
  caller.fresh = ago <= kDefaultReauthMaxAge;
  return caller;
}

}  // namespace tally::orchestrator::testing
