#pragma once

#include "common/auth/cluster_callers.h"

namespace tally::credential {

// API.md "Cluster callers" for CredentialService: who may call it as the cluster under mutual
// TLS. The one table of this service.
ClusterCallers CredentialCallers();

}  // namespace tally::credential
