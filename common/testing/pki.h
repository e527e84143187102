#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

// Throwaway key material for tests, made with the openssl CLI (the same tool operators use), so
// tests exercise real PEM files rather than in-memory keys: a certificate authority and
// certificates for mutual TLS, and Ed25519 session-token signing keys.
namespace tally::testing {

class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  // A self-signed CA `name`: <dir>/<name>.pem and .key.
  absl::Status MakeCa(const std::string& name);
  // A certificate `name` for localhost / 127.0.0.1, usable as server and client, signed by CA
  // `ca`: <dir>/<name>.pem and .key. Calling it again rotates the certificate in place.
  // `sans` adds subject alternative names in openssl's form: "URI:spiffe://tally/orchestrator"
  // (a Tally service's, as the deploy overlays issue them; ServiceSan), "DNS:tally-policy".
  absl::Status MakeCert(const std::string& name, const std::string& ca,
                        const std::vector<std::string>& sans = {});
  // The SAN of Tally service `service`'s certificate: "URI:spiffe://tally/<service>".
  static std::string ServiceSan(const std::string& service);
  // An Ed25519 private key `name` (PKCS#8 PEM, what --signing_key_files reads): <dir>/<name>.key.
  absl::Status MakeSigningKey(const std::string& name);

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  std::string Read(const std::string& file) const;

 private:
  absl::Status Run(std::vector<std::string> args);
  std::string dir_;
};

}  // namespace tally::testing
