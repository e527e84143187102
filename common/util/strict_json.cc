#include "common/util/strict_json.h"

#include <exception>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tally {

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, int max_depth) {
  using Json = nlohmann::json;
  bool duplicate = false;
  bool too_deep = false;
  // The member names seen in each open object; arrays hold a scope without names.
  std::vector<std::optional<std::set<std::string>>> scopes;
  Json::parser_callback_t callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > max_depth) too_deep = true;
    switch (event) {
      case Json::parse_event_t::object_start:
        scopes.emplace_back(std::set<std::string>());
        break;
      case Json::parse_event_t::array_start:
        scopes.emplace_back(std::nullopt);
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!scopes.empty()) scopes.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!scopes.empty() && scopes.back().has_value() && parsed.is_string() &&
            !scopes.back()->insert(parsed.get_ref<const std::string&>()).second) {
          duplicate = true;
        }
        break;
      case Json::parse_event_t::value:
        break;
    }
    return !too_deep;
  };
  Json out;
  try {
    out = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    // Not expected with allow_exceptions=false; a parse that fails in any way is a syntax error.
    return absl::InvalidArgumentError("syntax error");
  }
  if (too_deep) return absl::InvalidArgumentError("nested too deeply");
  if (out.is_discarded()) return absl::InvalidArgumentError("syntax error");
  if (duplicate) return absl::InvalidArgumentError("duplicate object key");
  return out;
}

}  // namespace tally
