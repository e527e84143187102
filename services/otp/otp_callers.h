#pragma once

#include "common/auth/cluster_callers.h"

namespace tally::otp {

// API.md "Cluster callers" for OtpService: who may call it as the cluster under mutual TLS.
// The one table of this service.
ClusterCallers OtpCallers();

}  // namespace tally::otp
