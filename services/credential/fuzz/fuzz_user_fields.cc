// libFuzzer: the user-record checks of CreateUser, UpdateContact, SetRoles and FindUser
// (services/credential/user_fields.h), fed the request as it arrives: the input is parsed as a
// CreateUserRequest (what protobuf accepts off the wire), or, when it does not parse, split at
// NUL bytes into raw username, e-mail, phone and roles (what a future caller might pass).
//
// Invariants: an accepted username is 1..kMaxUsernameBytes of valid UTF-8 without control
// characters or surrounding whitespace, is part of the input, checks again to itself, and its
// key is UsernameKey of it; an accepted e-mail is "" or a single-@ address of at most
// kMaxEmailBytes of valid UTF-8 with a lower-case domain, normalises to itself, and passes the
// contact rules' exact check (common/util/contact.h), which is what the OTP service sends to; an
// accepted phone number is "" or E.164 (8..15 digits), normalises to itself and is IsE164 (an
// SMS destination of the OTP service); accepted roles
// are distinct known roles; errors are INVALID_ARGUMENT and quote no distinctive input.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/contact.h"
#include "common/util/text.h"
#include "services/credential/user_fields.h"
#include "tally/credential/v1/credential.pb.h"

namespace {

using ::tally::fuzz::Check;
using ::tally::fuzz::Distinctive;
using ::tally::fuzz::CheckError;

namespace cred = ::tally::credential;

void CheckUsername(const std::string& raw) {
  absl::StatusOr<cred::Username> name = cred::CheckUsername(raw);
  if (!name.ok()) return CheckError(name.status(), raw);
  const std::string& display = name->display;
  Check(!display.empty() && display.size() <= cred::kMaxUsernameBytes);
  Check(tally::IsValidUtf8(display) && !tally::HasControlCharacters(display));
  Check(!absl::ascii_isspace(static_cast<unsigned char>(display.front())) &&
        !absl::ascii_isspace(static_cast<unsigned char>(display.back())));
  Check(absl::StrContains(raw, display));
  Check(name->key == cred::UsernameKey(display));
  Check(name->key.size() == display.size());
  for (char c : name->key) Check(!absl::ascii_isupper(static_cast<unsigned char>(c)));
  absl::StatusOr<cred::Username> again = cred::CheckUsername(display);
  Check(again.ok() && again->display == display && again->key == name->key);
}

void CheckEmail(const std::string& raw) {
  absl::StatusOr<std::string> email = cred::NormalizeEmail(raw);
  if (!email.ok()) return CheckError(email.status(), raw);
  if (email->empty()) {
    Check(absl::StripAsciiWhitespace(raw).empty());
    return;
  }
  Check(email->size() <= tally::kMaxEmailBytes && tally::IsValidUtf8(*email));
  Check(!tally::HasControlCharacters(*email));
  const size_t at = email->find('@');
  Check(at != std::string::npos && at > 0 && email->find('@', at + 1) == std::string::npos);
  for (size_t i = at + 1; i < email->size(); ++i) {
    Check(!absl::ascii_isupper(static_cast<unsigned char>((*email)[i])));
  }
  absl::StatusOr<std::string> again = cred::NormalizeEmail(*email);
  Check(again.ok() && *again == *email);
  // A stored address the OTP service refuses would make e-mail codes impossible for the user.
  Check(tally::CheckEmailAddress(*email).ok());
}

void CheckPhone(const std::string& raw) {
  absl::StatusOr<std::string> phone = cred::NormalizePhoneNumber(raw);
  if (!phone.ok()) return CheckError(phone.status(), raw);
  if (phone->empty()) return;
  Check(phone->size() >= 9 && phone->size() <= 16 && (*phone)[0] == '+' && (*phone)[1] != '0');
  for (size_t i = 1; i < phone->size(); ++i) {
    Check(absl::ascii_isdigit(static_cast<unsigned char>((*phone)[i])));
  }
  absl::StatusOr<std::string> again = cred::NormalizePhoneNumber(*phone);
  Check(again.ok() && *again == *phone);
  Check(tally::IsE164(*phone));
}

void CheckRoles(const google::protobuf::RepeatedPtrField<std::string>& roles) {
  absl::StatusOr<std::vector<std::string>> checked = cred::CheckRoles(roles);
  if (!checked.ok()) {
    Check(checked.status().code() == absl::StatusCode::kInvalidArgument);
    // Only a short printable role name may be quoted.
    Check(checked.status().message().size() <= 128);
    return;
  }
  const std::set<std::string> given(roles.begin(), roles.end());
  const std::set<std::string> out(checked->begin(), checked->end());
  Check(out.size() == checked->size() && out == given);
  for (const std::string& role : *checked) Check(role == "admin" || role == "user");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally::credential::v1::CreateUserRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    request.Clear();
    const std::vector<std::string> parts = absl::StrSplit(
        absl::string_view(reinterpret_cast<const char*>(data), size), absl::ByChar('\0'));
    request.set_username(parts[0]);
    if (parts.size() > 1) request.set_email(parts[1]);
    if (parts.size() > 2) request.set_phone_number(parts[2]);
    for (size_t i = 3; i < parts.size(); ++i) request.add_roles(parts[i]);
  }
  CheckUsername(request.username());
  CheckEmail(request.email());
  CheckPhone(request.phone_number());
  CheckRoles(request.roles());
  return 0;
}
