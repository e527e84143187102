// libFuzzer: the request checks of the policy service beyond points
// (services/policy/request_checks.h, and the id, page and tier checks its RPCs run). The first
// byte picks the request the rest is parsed as, as protobuf takes it off the wire:
// CreateDirectoryRequest, UpdateAuthSettingsRequest, ListAuditEventsRequest; or raw text.
//
// Invariants: an accepted display name is 1..kMaxDisplayNameBytes of valid UTF-8 without
// control characters or surrounding whitespace, is part of the input and checks again to
// itself; an etag is accepted exactly when it is at most kMaxEtagBytes of valid UTF-8; a tier
// is accepted exactly when it is a known, specified one; errors are INVALID_ARGUMENT and quote
// no distinctive input.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/paging.h"
#include "common/util/text.h"
#include "services/policy/points.h"
#include "services/policy/request_checks.h"
#include "tally/policy/v1/policy.pb.h"

namespace {

using ::tally::fuzz::Check;
using ::tally::fuzz::Distinctive;
using ::tally::fuzz::CheckError;

namespace pol = ::tally::policy;
namespace pb = ::tally::policy::v1;

void CheckDisplayName(const std::string& raw) {
  absl::StatusOr<std::string> name = pol::CheckDisplayName(raw);
  if (!name.ok()) return CheckError(name.status(), raw);
  Check(!name->empty() && name->size() <= pol::kMaxDisplayNameBytes);
  Check(tally::IsValidUtf8(*name) && !tally::HasControlCharacters(*name));
  Check(!absl::ascii_isspace(static_cast<unsigned char>(name->front())) &&
        !absl::ascii_isspace(static_cast<unsigned char>(name->back())));
  Check(absl::StrContains(raw, *name));
  absl::StatusOr<std::string> again = pol::CheckDisplayName(*name);
  Check(again.ok() && *again == *name);
}

void CheckEtag(const std::string& etag) {
  const absl::Status status = pol::CheckEtag(etag);
  Check(status.ok() == (etag.size() <= pol::kMaxEtagBytes && tally::IsValidUtf8(etag)));
  if (!status.ok()) CheckError(status, etag);
}

void CheckDirectoryId(const std::string& id) {
  const absl::Status status = tally::CheckId("directory_id", id);
  Check(status.ok() == tally::IsValidId(id));
  if (!status.ok()) CheckError(status, id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      pb::CreateDirectoryRequest request;
      if (!request.ParseFromString(rest)) return 0;
      CheckDisplayName(request.display_name());
      absl::StatusOr<pol::AuthSettings> defaults = pol::DefaultSettingsForTier(request.tier());
      Check(defaults.ok() ==
            (pb::Tier_IsValid(request.tier()) && request.tier() != pb::TIER_UNSPECIFIED));
      if (!defaults.ok()) CheckError(defaults.status(), "");
      break;
    }
    case 1: {
      pb::UpdateAuthSettingsRequest request;
      if (!request.ParseFromString(rest)) return 0;
      CheckDirectoryId(request.settings().directory_id());
      CheckEtag(request.etag());
      break;
    }
    case 2: {
      pb::ListAuditEventsRequest request;
      if (!request.ParseFromString(rest)) return 0;
      CheckDirectoryId(request.directory_id());
      absl::StatusOr<int> page_size = tally::EffectivePageSize(request.page_size());
      Check(page_size.ok() == (request.page_size() >= 0));
      absl::StatusOr<int64_t> cursor = tally::DecodePageToken("audit", request.page_token());
      if (cursor.ok()) {
        Check(request.page_token().empty() ? *cursor == 0 : *cursor > 0);
      } else {
        CheckError(cursor.status(), request.page_token());
      }
      break;
    }
    case 3:
      CheckDisplayName(rest);
      CheckEtag(rest);
      CheckDirectoryId(rest);
      break;
  }
  return 0;
}
