#include "common/redis/redis_config.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {

absl::StatusOr<RedisOptions> ServiceRedisOptions(absl::string_view url,
                                                 absl::string_view client_name,
                                                 std::optional<int> pool_size) {
  if (url.empty()) return absl::InvalidArgumentError("--redis_url is required");
  absl::StatusOr<RedisOptions> options = ParseRedisUrl(std::string_view(url.data(), url.size()));
  if (!options.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--redis_url: ", options.status().message()));
  }
  options->client_name = std::string(client_name);
  if (pool_size.has_value()) {
    if (*pool_size < 1) return absl::InvalidArgumentError("--redis_pool_size must be >= 1");
    options->pool_size = *pool_size;
  }
  return options;
}

}  // namespace tally
