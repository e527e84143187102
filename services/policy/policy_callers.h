#pragma once

#include "common/auth/cluster_callers.h"

namespace tally::policy {

// API.md "Cluster callers" for DirectoryService and PolicyService: who may call them as the
// cluster under mutual TLS. The one table of this service.
ClusterCallers PolicyCallers();

}  // namespace tally::policy
