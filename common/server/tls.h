#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "spdlog/logger.h"

namespace tally {

// Certificate files for mutual TLS between services (a Kubernetes Secret that cert-manager
// rotates). Either all three are set or none: then the transport is plaintext.
struct TlsFiles {
  std::string cert;  // PEM certificate chain of this process
  std::string key;   // its PEM private key
  std::string ca;    // PEM bundle that peers' certificates must chain to
  absl::Duration refresh = absl::Seconds(60);  // how often the files are re-read

  bool enabled() const { return !cert.empty(); }
};

// From --tls_cert, --tls_key, --tls_ca and --tls_refresh_interval (TALLY_TLS_*). INVALID_ARGUMENT
// when only some are set or a file cannot be read.
absl::StatusOr<TlsFiles> TlsFilesFromFlags();

// Server side: with files, TLS that requires and verifies a client certificate from `ca`, the
// files re-read every `refresh` so rotated certificates apply without a restart; without files,
// plaintext and a warning in the log.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               spdlog::logger& logger);

// Client side of the same: presents `cert`, verifies the server against `ca`.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files);

}  // namespace tally
