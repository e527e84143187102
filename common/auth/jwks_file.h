#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/jwt.h"
#include "common/util/clock.h"

namespace tally {

// Session tokens verified against a JWKS file that may change: the orchestrator's public keys as
// every other service gets them (a ConfigMap in Kubernetes, `--jwks_file`). The file is looked at
// again once `refresh` has passed since the last look (on the next Verify, by the injected
// clock), and when its bytes changed its keys replace the old ones: a key added is accepted and a
// key removed (a compromised one) is refused from then on, without a restart. A file that cannot
// be read or holds no valid JWK Set keeps the keys in use (a half-written update must not lock
// every caller out) and is tried again after the next `refresh`.
class JwksFileVerifier final : public TokenVerifier {
 public:
  // What a look at the file found: OK with the new kids after a change, or why the file was
  // not taken (the old keys stay). Not called when the file is unchanged. The server layer logs
  // it; the callback must not call back into the verifier.
  using ReloadObserver =
      std::function<void(const absl::Status& status, const std::vector<std::string>& kids)>;

  // Reads and checks the file now (LoadJwksFile's errors). `clock` must outlive the verifier;
  // `refresh` must be positive.
  static absl::StatusOr<std::shared_ptr<const JwksFileVerifier>> Load(
      std::string path, JwtVerifierOptions options, const Clock& clock, absl::Duration refresh,
      ReloadObserver observer = nullptr);

  absl::StatusOr<SessionClaims> Verify(std::string_view token) const override;

  // The kids accepted right now (without looking at the file).
  std::vector<std::string> Kids() const;

  // Use Load().
  JwksFileVerifier(std::string path, JwtVerifierOptions options, const Clock& clock,
                   absl::Duration refresh, ReloadObserver observer, std::string text,
                   std::shared_ptr<const JwtVerifier> current);

 private:
  // The verifier to use now, after looking at the file when a look is due.
  std::shared_ptr<const JwtVerifier> Current() const;
  void Reload() const;

  const std::string path_;
  const JwtVerifierOptions options_;
  const Clock& clock_;
  const absl::Duration refresh_;
  const ReloadObserver observer_;

  mutable absl::Mutex mu_;
  // The bytes the current keys came from, so an unchanged file is not parsed again.
  mutable std::string text_ ABSL_GUARDED_BY(mu_);
  mutable std::shared_ptr<const JwtVerifier> current_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time next_look_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally
