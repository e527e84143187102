#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tally {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view text);

// True when `text` has a C0/C1 control character or DEL (names must print cleanly).
bool HasControlCharacters(std::string_view text);

// An opaque id of ours or a caller's: 1..128 bytes of [A-Za-z0-9_-].
bool IsValidId(std::string_view id);
// The same as a request check: INVALID_ARGUMENT "<field> is required" for an empty id, and
// "<field> must be 1 to 128 characters of letters, digits, '_' and '-'" for a malformed one.
absl::Status CheckId(std::string_view field, std::string_view id);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// base64url without padding (RFC 4648 §5), as JWT and WebAuthn use.
std::string Base64UrlEncode(std::string_view data);
// Accepts input with or without padding; false on any other character.
bool Base64UrlDecode(std::string_view text, std::string* out);

// base32 (RFC 4648 §6: A-Z and 2-7) without padding, as authenticator apps take TOTP secrets.
std::string Base32Encode(std::string_view data);
// Case-insensitive; `=` padding, spaces and dashes are skipped (secrets typed by hand); false on
// any other character or on trailing bits that are not zero.
bool Base32Decode(std::string_view text, std::string* out);

}  // namespace tally
