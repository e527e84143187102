#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace tally {

// The one place where domain statuses become wire statuses and back. The canonical codes share
// their numbers, so the mapping is exact in both directions.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tally
