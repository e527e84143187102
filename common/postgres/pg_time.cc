#include "common/postgres/pg_time.h"

#include "absl/strings/str_cat.h"

namespace tally {

std::string PgTimeParam(int param) {
  return absl::StrCat("(timestamptz 'epoch' + $", param, "::bigint * interval '1 microsecond')");
}

std::string PgMicros(std::string_view column) {
  return absl::StrCat("(extract(epoch from ", absl::string_view(column.data(), column.size()),
                      ") * 1000000)::bigint");
}

}  // namespace tally
