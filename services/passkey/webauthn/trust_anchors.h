#pragma once

// The CA certificates attestation certificate chains must lead to (the passkey service's
// --attestation_ca_file), kept apart from the ceremony checks that use them.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::webauthn {

class TrustAnchors {
 public:
  // Every certificate of a PEM bundle; INVALID_ARGUMENT when there is none or one is broken.
  static absl::StatusOr<std::shared_ptr<const TrustAnchors>> FromPem(absl::string_view pem);
  ~TrustAnchors();
  // Whether `chain` (leaf first, DER) leads to one of the anchors: UNAUTHENTICATED with
  // OpenSSL's reason when it does not.
  absl::Status Verify(const std::vector<std::string>& chain) const;

 private:
  struct Store;  // OpenSSL's X509_STORE, kept out of this header
  explicit TrustAnchors(std::unique_ptr<Store> store);
  std::unique_ptr<Store> store_;
};

}  // namespace tally::webauthn
