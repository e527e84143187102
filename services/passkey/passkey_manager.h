#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/passkey/passkey_metrics.h"
#include "services/passkey/passkey_store.h"
#include "services/passkey/webauthn/webauthn.h"
#include "tally/passkey/v1/passkey.pb.h"

namespace tally::passkey {

namespace pb = ::tally::passkey::v1;

struct PasskeyOptions {
  // The relying party of every directory without an override in the store.
  RpConfig default_rp;
  absl::Duration challenge_ttl = absl::Minutes(5);
  // How long a directory's relying-party override (or its absence) read from the store is
  // reused: every ceremony needs it, and it changes only when an operator edits the table.
  // Zero reads it at every ceremony.
  absl::Duration rp_cache_ttl = absl::ZeroDuration();
  // When set, x5c attestation chains must lead to these CAs.
  std::shared_ptr<const webauthn::TrustAnchors> trust_anchors;
  // A registration counts only with an attestation chain to `trust_anchors` and an AAGUID in
  // `allowed_aaguids` (16 raw bytes each); none and self attestation never do.
  bool require_attestation = false;
  std::vector<std::string> allowed_aaguids;
};

// The passkey service's logic: who may do what, the ceremonies (options out, responses in as
// the browser's WebAuthn JSON), challenges and stored passkeys. Free of gRPC; tested with fakes.
//
// Errors: INVALID_ARGUMENT malformed request or response; UNAUTHENTICATED a response that fails
// verification (or no credentials where they are needed); PERMISSION_DENIED wrong caller or a
// session below the directory's level; FAILED_PRECONDITION unknown, used or expired challenge,
// or a user without passkeys; ALREADY_EXISTS credential registered before; UNAVAILABLE stores or
// the policy service down. Nothing is stored when a ceremony fails.
class PasskeyManager {
 public:
  PasskeyManager(PasskeyStore& store, ChallengeStore& challenges, RequiredLevelSource& levels,
                 const Clock& clock, RandomSource& random, PasskeyOptions options,
                 CeremonyObserver* observer = nullptr);

  absl::StatusOr<pb::StartRegistrationResponse> StartRegistration(
      const Caller& caller, const pb::StartRegistrationRequest& request);
  absl::StatusOr<pb::FinishRegistrationResponse> FinishRegistration(
      const Caller& caller, const pb::FinishRegistrationRequest& request);
  absl::StatusOr<pb::StartAuthenticationResponse> StartAuthentication(
      const Caller& caller, const pb::StartAuthenticationRequest& request);
  absl::StatusOr<pb::FinishAuthenticationResponse> FinishAuthentication(
      const Caller& caller, const pb::FinishAuthenticationRequest& request);
  absl::StatusOr<pb::ListPasskeysResponse> ListPasskeys(const Caller& caller,
                                                        const pb::ListPasskeysRequest& request);
  absl::StatusOr<pb::DeletePasskeyResponse> DeletePasskey(
      const Caller& caller, const pb::DeletePasskeyRequest& request);

 private:
  absl::StatusOr<RpConfig> ResolveRp(absl::string_view directory_id);
  absl::StatusOr<PendingCeremony> TakeChallenge(absl::string_view directory_id,
                                                absl::string_view challenge_id,
                                                PendingCeremony::Kind kind);
  absl::StatusOr<pb::FinishRegistrationResponse> DoFinishRegistration(
      const Caller& caller, const pb::FinishRegistrationRequest& request, std::string* reason);
  absl::StatusOr<pb::FinishAuthenticationResponse> DoFinishAuthentication(
      const pb::FinishAuthenticationRequest& request, std::string* reason);
  std::string RandomBytes(size_t n);

  struct CachedRp {
    std::optional<RpConfig> rp;
    absl::Time expires;
  };

  PasskeyStore& store_;
  ChallengeStore& challenges_;
  RequiredLevelSource& levels_;
  const Clock& clock_;
  RandomSource& random_;
  const PasskeyOptions options_;
  CeremonyObserver default_observer_;
  CeremonyObserver* observer_;
  absl::Mutex rp_mu_;
  absl::flat_hash_map<std::string, CachedRp> rp_cache_ ABSL_GUARDED_BY(rp_mu_);
};

// The stored record as the API shows it.
pb::Passkey ToProto(const PasskeyRecord& record);

}  // namespace tally::passkey
