#include "common/util/client_address.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tally {

absl::StatusOr<std::string> ClientAddressKey(absl::string_view client_ip) {
  if (client_ip.empty()) return std::string();
  const absl::Status invalid =
      absl::InvalidArgumentError("client_ip must be an IPv4 or IPv6 address");
  if (client_ip.size() > kMaxClientIpBytes) return invalid;
  const std::string text(client_ip);
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    return absl::StrCat(bytes[0], ".", bytes[1], ".", bytes[2], ".", bytes[3]);
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return invalid;
  static constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped.data(), kMapped.size()) == 0) {
    return absl::StrCat(bytes[12], ".", bytes[13], ".", bytes[14], ".", bytes[15]);
  }
  // The /64 in canonical text: the same network however the caller wrote it.
  std::array<unsigned char, 16> network{};
  std::memcpy(network.data(), bytes.data(), 8);
  char out[INET6_ADDRSTRLEN] = {0};
  if (inet_ntop(AF_INET6, network.data(), out, sizeof(out)) == nullptr) return invalid;
  return absl::StrCat(out, "/64");
}

}  // namespace tally
