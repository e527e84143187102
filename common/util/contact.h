#pragma once

// The contact rules of Tally, in one place: what an e-mail address and a phone number must look
// like. The credential service normalises what a user record holds with them, the OTP service
// checks where a code goes with them, so every stored contact is one a code can be sent to.
// Pure functions; no message ever quotes the input.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

inline constexpr size_t kMaxEmailBytes = 254;  // RFC 5321 path limit less the angle brackets
inline constexpr size_t kMaxEmailLocalPartBytes = 64;
inline constexpr int kMinE164Digits = 8;
inline constexpr int kMaxE164Digits = 15;  // ITU-T E.164: at most 15 digits with the country code

// OK when `email` is, exactly as given, one plain address local@domain: at most kMaxEmailBytes
// bytes; a local part of 1..kMaxEmailLocalPartBytes printable ASCII characters (RFC 5322 atext
// and dots: no spaces, quotes, brackets, commas, semicolons, colons or backslashes, no leading,
// trailing or doubled dots; internationalised mailboxes are refused, as the OTP service cannot
// deliver to them); a domain of at least two dot-separated labels of ASCII letters, digits and
// inner hyphens (1..63 bytes each, at most 253 in all, internationalised domains in their xn--
// form) whose last label is not all digits. Otherwise INVALID_ARGUMENT whose message is the
// reason ("no @", ...), for the caller to put its field's name in front of.
absl::Status CheckEmailAddress(absl::string_view email);

// An address as a person types it: surrounding ASCII whitespace dropped, then CheckEmailAddress,
// then the domain lower-cased (the local part is kept: mailbox names may be case-sensitive).
// Blank input gives "": whether a contact may be absent is the caller's decision.
absl::StatusOr<std::string> NormalizeEmailAddress(absl::string_view raw);

// True when `number` is an E.164 number as stored and sent: '+', a first digit 1-9, then more
// ASCII digits, kMinE164Digits..kMaxE164Digits digits in all.
bool IsE164(absl::string_view number);

// A number as a person types it: surrounding ASCII whitespace, inner spaces and dashes dropped,
// then IsE164 ("+31 6-1234 5678" gives "+31612345678"). Blank input gives ""; nullopt when the
// rest is not E.164.
std::optional<std::string> NormalizeE164(absl::string_view raw);

// The country calling code an E.164 number starts with (ITU-T E.164 assigned codes: 1 to 3
// digits, a prefix code, so at most one matches): 31 for "+31612345678", 1 for every number of
// the North American Numbering Plan, 882 for an international network. nullopt when `e164` is
// not IsE164 or starts with a spare or withdrawn code. For checks such as an SMS country
// allow-list (shared codes like 1 and 7 cover several countries).
std::optional<int> CountryCallingCode(absl::string_view e164);

// Whether `code` (31, 1, 882) is an assigned country calling code, as CountryCallingCode knows
// them: what a configured list of codes may hold.
bool IsCountryCallingCode(int code);

// Whether SMS may go to `e164` under a directory's `allowed_codes`
// (AuthSettings.sms_allowed_country_codes, decimal strings such as "31"): an empty list allows
// every number; otherwise the number's CountryCallingCode must be listed.
bool SmsCountryAllowed(const std::vector<std::string>& allowed_codes, absl::string_view e164);

}  // namespace tally
