#include "services/passkey/webauthn/trust_anchors.h"

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "absl/strings/str_cat.h"
#include "common/util/openssl_ptr.h"
#include "services/passkey/webauthn/crypto.h"

namespace tally::webauthn {

struct TrustAnchors::Store {
  X509StorePtr store;
};

TrustAnchors::TrustAnchors(std::unique_ptr<Store> store) : store_(std::move(store)) {}
TrustAnchors::~TrustAnchors() = default;

absl::StatusOr<std::shared_ptr<const TrustAnchors>> TrustAnchors::FromPem(absl::string_view pem) {
  OpenSslErrorGuard guard;
  auto store = std::make_unique<Store>();
  store->store.reset(X509_STORE_new());
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (store->store == nullptr || bio == nullptr) {
    return absl::InternalError("OpenSSL allocation failed");
  }
  int count = 0;
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    // The store takes its own reference.
    if (X509_STORE_add_cert(store->store.get(), cert.get()) != 1) {
      return absl::InvalidArgumentError("a CA certificate could not be added");
    }
    ++count;
  }
  if (count == 0) return absl::InvalidArgumentError("no PEM certificate in the CA bundle");
  return std::shared_ptr<const TrustAnchors>(new TrustAnchors(std::move(store)));
}

absl::Status TrustAnchors::Verify(const std::vector<std::string>& chain) const {
  OpenSslErrorGuard guard;
  if (chain.empty()) return absl::UnauthenticatedError("no attestation certificate");
  std::vector<X509Ptr> certs;
  for (const std::string& der : chain) {
    absl::StatusOr<X509Ptr> cert = ParseCertificate(der);
    if (!cert.ok()) return cert.status();
    certs.push_back(*std::move(cert));
  }
  // The intermediates; the stack borrows them from `certs`.
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted.get(), certs[i].get());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  const int ok = ctx != nullptr && X509_STORE_CTX_init(ctx.get(), store_->store.get(),
                                                       certs[0].get(), untrusted.get()) == 1
                     ? X509_verify_cert(ctx.get())
                     : 0;
  if (ok != 1) {
    const std::string why =
        ctx == nullptr ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    return absl::UnauthenticatedError(
        absl::StrCat("attestation certificate chain does not lead to a trusted CA: ", why));
  }
  return absl::OkStatus();
}

}  // namespace tally::webauthn
