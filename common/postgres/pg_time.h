#pragma once

#include <string>
#include <string_view>

namespace tally {

// Times cross the wire as microseconds since the Unix epoch (bigint), so no time zone ever gets
// involved in converting them.

// SQL for a timestamptz made from query parameter $`param` (bigint microseconds), e.g.
// "(timestamptz 'epoch' + $4::bigint * interval '1 microsecond')".
std::string PgTimeParam(int param);

// SQL reading timestamptz `column` as bigint microseconds since the epoch.
std::string PgMicros(std::string_view column);

}  // namespace tally
