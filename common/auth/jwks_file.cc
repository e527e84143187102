#include "common/auth/jwks_file.h"

#include <utility>

#include "common/util/file.h"

namespace tally {

absl::StatusOr<std::shared_ptr<const JwksFileVerifier>> JwksFileVerifier::Load(
    std::string path, JwtVerifierOptions options, const Clock& clock, absl::Duration refresh,
    ReloadObserver observer) {
  if (refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the JWKS refresh interval must be positive");
  }
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<JwtVerifier> verifier = JwksFromFileText(*text, path, options, clock);
  if (!verifier.ok()) return verifier.status();
  return std::make_shared<const JwksFileVerifier>(
      std::move(path), std::move(options), clock, refresh, std::move(observer),
      *std::move(text), std::make_shared<const JwtVerifier>(*std::move(verifier)));
}

JwksFileVerifier::JwksFileVerifier(std::string path, JwtVerifierOptions options,
                                   const Clock& clock, absl::Duration refresh,
                                   ReloadObserver observer, std::string text,
                                   std::shared_ptr<const JwtVerifier> current)
    : path_(std::move(path)),
      options_(std::move(options)),
      clock_(clock),
      refresh_(refresh),
      observer_(std::move(observer)),
      text_(std::move(text)),
      current_(std::move(current)),
      next_look_(clock.Now() + refresh) {}

absl::StatusOr<SessionClaims> JwksFileVerifier::Verify(std::string_view token) const {
  return Current()->Verify(token);
}

std::vector<std::string> JwksFileVerifier::Kids() const {
  absl::MutexLock lock(&mu_);
  return current_->Kids();
}

std::shared_ptr<const JwtVerifier> JwksFileVerifier::Current() const {
  {
    absl::MutexLock lock(&mu_);
    if (clock_.Now() < next_look_) return current_;
    // This caller looks; the others go on with the keys in use meanwhile.
    next_look_ = clock_.Now() + refresh_;
  }
  Reload();
  absl::MutexLock lock(&mu_);
  return current_;
}

void JwksFileVerifier::Reload() const {
  auto report = [this](const absl::Status& status, const std::vector<std::string>& kids) {
    if (observer_) observer_(status, kids);
  };
  absl::StatusOr<std::string> text = ReadFile(path_);
  if (!text.ok()) {
    report(text.status(), {});
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (*text == text_) return;
  }
  absl::StatusOr<JwtVerifier> verifier = JwksFromFileText(*text, path_, options_, clock_);
  if (!verifier.ok()) {
    report(verifier.status(), {});
    return;
  }
  std::vector<std::string> kids = verifier->Kids();
  {
    absl::MutexLock lock(&mu_);
    current_ = std::make_shared<const JwtVerifier>(*std::move(verifier));
    text_ = *std::move(text);
  }
  report(absl::OkStatus(), kids);
}

}  // namespace tally
