// libFuzzer: the request checks every List RPC and every id field goes through: page sizes,
// page tokens (common/util/paging.h) and opaque ids (CheckId in common/util/text.h).
//
// Input: 4 bytes of page_size, 1 byte choosing the list kind, then the page token / id text.
// Invariants: an accepted page size is 1..kMaxPageSize and only a negative one is refused; an
// accepted token decodes to a positive cursor, was at most 64 bytes, re-encodes to a token
// that decodes to the same cursor and is refused by every other list; a token we encode is
// always accepted; CheckId accepts exactly what IsValidId accepts, which is 1..128 bytes of
// [A-Za-z0-9_-]; no error message quotes the input.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/paging.h"
#include "common/util/text.h"

namespace {

using ::tally::fuzz::Check;

// The kinds the services page through (and one that is a prefix of another).
constexpr const char* kKinds[] = {"directories", "users", "audit", "dir", "d"};

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Error messages are fixed texts: input holding a byte they never contain (non-ASCII or one
// of these symbols) can only show up in them if it was echoed.
void CheckNoEcho(const absl::Status& status, const std::string& input) {
  if (input.size() < 8) return;
  for (unsigned char c : input) {
    if (c >= 0x80 || absl::string_view("#$%&*/<=>?^`{|}~").find(c) != absl::string_view::npos) {
      Check(!absl::StrContains(status.message(), input));
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  int32_t page_size;
  std::memcpy(&page_size, data, sizeof(page_size));
  const char* kind = kKinds[data[4] % (sizeof(kKinds) / sizeof(kKinds[0]))];
  const std::string text(reinterpret_cast<const char*>(data) + 5, size - 5);

  absl::StatusOr<int> effective = tally::EffectivePageSize(page_size);
  Check(effective.ok() == (page_size >= 0));
  if (effective.ok()) {
    Check(*effective >= 1 && *effective <= tally::kMaxPageSize);
    Check(page_size == 0 ? *effective == tally::kDefaultPageSize
                         : *effective == std::min(page_size, int32_t{tally::kMaxPageSize}));
  }

  absl::StatusOr<int64_t> cursor = tally::DecodePageToken(kind, text);
  if (cursor.ok()) {
    Check(text.empty() ? *cursor == 0 : *cursor > 0);
    Check(text.size() <= 64);
    if (*cursor > 0) {
      const std::string again = tally::EncodePageToken(kind, *cursor);
      absl::StatusOr<int64_t> round = tally::DecodePageToken(kind, again);
      Check(round.ok() && *round == *cursor);
      for (const char* other : kKinds) {
        if (std::strcmp(other, kind) != 0) Check(!tally::DecodePageToken(other, text).ok());
      }
    }
  } else {
    Check(cursor.status().code() == absl::StatusCode::kInvalidArgument);
    CheckNoEcho(cursor.status(), text);
  }
  // Whatever we hand out comes back: any positive cursor, e.g. the one the page size spells.
  if (page_size > 0) {
    absl::StatusOr<int64_t> mine =
        tally::DecodePageToken(kind, tally::EncodePageToken(kind, page_size));
    Check(mine.ok() && *mine == page_size);
  }

  const bool valid_id = tally::IsValidId(text);
  absl::Status id = tally::CheckId("user_id", text);
  Check(id.ok() == valid_id);
  if (valid_id) {
    Check(!text.empty() && text.size() <= 128);
    for (char c : text) Check(IsIdChar(c));
  } else {
    Check(id.code() == absl::StatusCode::kInvalidArgument);
    CheckNoEcho(id, text);
  }
  return 0;
}
