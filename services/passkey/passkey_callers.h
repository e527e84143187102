#pragma once

#include "common/auth/cluster_callers.h"

namespace tally::passkey {

// API.md "Cluster callers" for PasskeyService: who may call it as the cluster under mutual
// TLS. The one table of this service.
ClusterCallers PasskeyCallers();

}  // namespace tally::passkey
