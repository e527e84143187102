#include "common/server/tls.h"

#include <fstream>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for mutual TLS (with --tls_key, --tls_ca).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle that peers' certificates must chain to.");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Seconds(60),
          "How often the TLS files are re-read, so rotated certificates apply without a restart.");

namespace tally {
namespace {

absl::Status Readable(const std::string& flag, const std::string& path) {
  if (!std::ifstream(path).good()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, " cannot be read"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> Provider(
    const TlsFiles& files) {
  const auto seconds = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh)));
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.ca, seconds);
}

}  // namespace

absl::StatusOr<TlsFiles> TlsFilesFromFlags() {
  TlsFiles files;
  files.cert = absl::GetFlag(FLAGS_tls_cert);
  files.key = absl::GetFlag(FLAGS_tls_key);
  files.ca = absl::GetFlag(FLAGS_tls_ca);
  files.refresh = absl::GetFlag(FLAGS_tls_refresh_interval);
  const int set = !files.cert.empty() + !files.key.empty() + !files.ca.empty();
  if (set == 0) return files;
  if (set != 3) {
    return absl::InvalidArgumentError("--tls_cert, --tls_key and --tls_ca go together");
  }
  if (files.refresh < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_refresh_interval must be at least 1s");
  }
  for (const auto& [flag, path] :
       {std::pair{"tls_cert", files.cert}, {"tls_key", files.key}, {"tls_ca", files.ca}}) {
    if (absl::Status s = Readable(flag, path); !s.ok()) return s;
  }
  return files;
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               spdlog::logger& logger) {
  if (!files.enabled()) {
    logger.warn("no --tls_cert/--tls_key/--tls_ca: serving PLAINTEXT; use mutual TLS in "
                "production");
    return grpc::InsecureServerCredentials();
  }
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace tally
