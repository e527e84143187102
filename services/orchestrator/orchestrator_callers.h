#pragma once

#include "common/auth/cluster_callers.h"

namespace tally::orchestrator {

// API.md "Cluster callers" for LoginService and SessionService: who may call them as the
// cluster under mutual TLS. The one table of this service.
ClusterCallers OrchestratorCallers();

}  // namespace tally::orchestrator
