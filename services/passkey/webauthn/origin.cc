#include "services/passkey/webauthn/origin.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tally::webauthn {
namespace {

// What Android's Credential Manager puts in clientDataJSON for a native app.
constexpr absl::string_view kAndroidPrefix = "android:apk-key-hash:";

absl::Status NotAnOrigin(absl::string_view origin, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", absl::CHexEscape(origin), "\" is not an origin: ", why, " (scheme://host[:port])"));
}

bool IsHostChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_'; }

bool IsIpv6Char(char c) { return absl::ascii_isxdigit(c) || c == ':' || c == '.'; }

}  // namespace

absl::StatusOr<std::string> NormalizeOrigin(absl::string_view origin) {
  if (absl::StartsWith(origin, kAndroidPrefix)) {
    const absl::string_view hash = origin.substr(kAndroidPrefix.size());
    const bool base64url = !hash.empty() && std::all_of(hash.begin(), hash.end(), [](char c) {
      return absl::ascii_isalnum(c) || c == '-' || c == '_';
    });
    if (!base64url) return NotAnOrigin(origin, "the APK key hash must be base64url");
    return std::string(origin);
  }
  const size_t separator = origin.find("://");
  if (separator == absl::string_view::npos) return NotAnOrigin(origin, "no scheme");
  const std::string scheme = absl::AsciiStrToLower(origin.substr(0, separator));
  if (scheme != "https" && scheme != "http") {
    return NotAnOrigin(origin, "the scheme must be https or http");
  }
  absl::string_view rest = origin.substr(separator + 3);
  if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  for (char c : rest) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return NotAnOrigin(origin, "the host must be ASCII without spaces (xn--... for others)");
    }
  }
  if (rest.find_first_of("/?#") != absl::string_view::npos) {
    return NotAnOrigin(origin, "a path, query or fragment is not part of an origin");
  }
  if (rest.find('@') != absl::string_view::npos) {
    return NotAnOrigin(origin, "user info is not part of an origin");
  }
  absl::string_view host = rest;
  absl::string_view port;
  bool has_port = false;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) return NotAnOrigin(origin, "unclosed IPv6 address");
    host = rest.substr(0, close + 1);
    const absl::string_view inside = host.substr(1, host.size() - 2);
    if (inside.empty() || !std::all_of(inside.begin(), inside.end(), IsIpv6Char)) {
      return NotAnOrigin(origin, "a bad IPv6 address");
    }
    const absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return NotAnOrigin(origin, "text after the IPv6 address");
      has_port = true;
      port = after.substr(1);
    }
  } else {
    if (const size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      has_port = true;
    }
    if (host.empty() || host[0] == '.' || host.find("..") != absl::string_view::npos ||
        !std::all_of(host.begin(), host.end(), IsHostChar)) {
      return NotAnOrigin(origin, "a bad host name");
    }
  }
  uint32_t port_number = 0;
  if (has_port &&
      (port.empty() || port.size() > 5 ||
       !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
       !absl::SimpleAtoi(port, &port_number) || port_number == 0 || port_number > 65535)) {
    return NotAnOrigin(origin, "the port must be a number from 1 to 65535");
  }
  std::string out = absl::StrCat(scheme, "://", absl::AsciiStrToLower(host));
  const uint32_t default_port = scheme == "https" ? 443 : 80;
  if (has_port && port_number != default_port) absl::StrAppend(&out, ":", port_number);
  return out;
}

absl::StatusOr<std::vector<std::string>> NormalizeOrigins(const std::vector<std::string>& origins) {
  std::vector<std::string> out;
  for (const std::string& origin : origins) {
    absl::StatusOr<std::string> normalized = NormalizeOrigin(origin);
    if (!normalized.ok()) return normalized.status();
    if (std::find(out.begin(), out.end(), *normalized) == out.end()) {
      out.push_back(*std::move(normalized));
    }
  }
  return out;
}

}  // namespace tally::webauthn
