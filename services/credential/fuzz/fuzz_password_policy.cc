// libFuzzer: the password checks of CreateUser, SetPassword and VerifyPassword
// (services/credential/password_policy.h). The first byte picks the shape of the input: a
// SetPasswordRequest, a VerifyPasswordRequest (both parsed as protobuf does off the wire), raw
// password and username split at the first NUL, or a blocklist file followed by a password.
//
// Invariants: CheckPasswordShape accepts exactly the non-empty valid UTF-8 passwords of at
// most kMaxPasswordBytes (so nothing larger is ever hashed); the policy accepts only passwords
// of at least min_length code points that are not the username (ASCII case-insensitively)
// and not on the blocklist; the blocklist matches ASCII case-insensitively and contains every
// listed line; every error is INVALID_ARGUMENT and quotes no distinctive password.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/text.h"
#include "services/credential/password_policy.h"
#include "services/credential/user_fields.h"
#include "tally/credential/v1/credential.pb.h"

namespace {

using ::tally::fuzz::Check;
using ::tally::fuzz::Distinctive;

namespace cred = ::tally::credential;

int CodePoints(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

void CheckPassword(const cred::PasswordPolicy& policy, const cred::PasswordBlocklist& blocklist,
                   const std::string& password, const std::string& username) {
  const absl::Status shape = cred::CheckPasswordShape(password, "new_password");
  const bool well_formed = !password.empty() && password.size() <= cred::kMaxPasswordBytes &&
                           tally::IsValidUtf8(password);
  Check(shape.ok() == well_formed);
  if (!shape.ok()) {
    Check(shape.code() == absl::StatusCode::kInvalidArgument);
    if (Distinctive(password)) Check(!absl::StrContains(shape.message(), password));
    return;
  }
  const absl::Status rules = policy.Check(password, username);
  if (rules.ok()) {
    Check(CodePoints(password) >= policy.rules().min_length);
    Check(absl::AsciiStrToLower(password) != absl::AsciiStrToLower(username));
    Check(!blocklist.Contains(password));
  } else {
    Check(rules.code() == absl::StatusCode::kInvalidArgument);
    if (Distinctive(password)) Check(!absl::StrContains(rules.message(), password));
  }
  Check(blocklist.Contains(password) == blocklist.Contains(absl::AsciiStrToUpper(password)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  cred::PasswordBlocklist blocklist =
      cred::PasswordBlocklist::FromLines("# the most common\npassword\n123456\n  Qwerty123  \n");
  std::string password, username;
  switch (data[0] % 4) {
    case 0: {
      tally::credential::v1::SetPasswordRequest request;
      if (!request.ParseFromString(rest)) return 0;
      password = request.new_password();
      username = request.user_id();
      break;
    }
    case 1: {
      tally::credential::v1::VerifyPasswordRequest request;
      if (!request.ParseFromString(rest)) return 0;
      password = request.password();
      username = request.username();
      break;
    }
    case 2: {
      const size_t nul = rest.find('\0');
      password = rest.substr(0, nul);
      username = nul == std::string::npos ? "" : rest.substr(nul + 1);
      break;
    }
    case 3: {
      // A blocklist file, then the password after the last NUL.
      const size_t nul = rest.rfind('\0');
      const std::string file = nul == std::string::npos ? rest : rest.substr(0, nul);
      password = nul == std::string::npos ? "" : rest.substr(nul + 1);
      blocklist = cred::PasswordBlocklist::FromLines(file);
      for (absl::string_view line : absl::StrSplit(file, '\n')) {
        const absl::string_view entry = absl::StripAsciiWhitespace(line);
        if (entry.empty() || entry.front() == '#') continue;
        Check(blocklist.Contains(std::string(entry)));
        Check(blocklist.Contains(absl::AsciiStrToUpper(entry)));
      }
      break;
    }
  }
  cred::PasswordPolicy policy(cred::PasswordRules{}, blocklist);
  CheckPassword(policy, blocklist, password, username);
  return 0;
}
