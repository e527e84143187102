#pragma once

// FactorStore in memory with PgFactorStore's documented semantics (enrolments replaced per
// user, single-use recovery codes, fixed attempt windows), for the credential service's unit
// tests.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/credential/factor_store.h"

namespace tally::credential {

class FakeFactorStore final : public FactorStore {
 public:
  absl::Status PutTotpEnrollment(const TotpEnrollment& e) override {
    absl::MutexLock lock(&mu_);
    for (auto it = enrollments_.begin(); it != enrollments_.end();) {
      it = it->second.secret.user_id == e.secret.user_id ? enrollments_.erase(it) : ++it;
    }
    enrollments_[e.enrollment_id] = e;
    return absl::OkStatus();
  }
  absl::StatusOr<TotpEnrollment> GetTotpEnrollment(absl::string_view id, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    auto it = enrollments_.find(std::string(id));
    if (it == enrollments_.end() || it->second.expire_time <= now) {
      return absl::NotFoundError("unknown or expired enrolment");
    }
    return it->second;
  }
  absl::Status ConfirmTotpEnrollment(absl::string_view id, int64_t step, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    auto it = enrollments_.find(std::string(id));
    if (it == enrollments_.end() || it->second.expire_time <= now) {
      return absl::NotFoundError("unknown or expired enrolment");
    }
    apps_[it->second.secret.user_id] = {it->second.secret, step};
    enrollments_.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<TotpAuthenticator> GetTotp(absl::string_view user_id) override {
    absl::MutexLock lock(&mu_);
    auto it = apps_.find(std::string(user_id));
    if (it == apps_.end()) return absl::NotFoundError("no authenticator app");
    return it->second;
  }
  absl::StatusOr<bool> AdvanceTotpStep(absl::string_view user_id, int64_t step) override {
    absl::MutexLock lock(&mu_);
    auto it = apps_.find(std::string(user_id));
    if (it == apps_.end() || it->second.last_step >= step) return false;
    it->second.last_step = step;
    return true;
  }
  absl::StatusOr<bool> DeleteTotp(absl::string_view user_id) override {
    absl::MutexLock lock(&mu_);
    return apps_.erase(std::string(user_id)) > 0;
  }
  absl::Status ReplaceRecoveryCodes(absl::string_view, absl::string_view user_id,
                                    const std::vector<std::string>& macs, absl::Time) override {
    absl::MutexLock lock(&mu_);
    auto& codes = codes_[std::string(user_id)];
    codes.clear();
    for (const std::string& mac : macs) codes[mac] = false;
    return absl::OkStatus();
  }
  absl::StatusOr<int> UseRecoveryCode(absl::string_view, absl::string_view user_id,
                                      absl::string_view mac, absl::Time) override {
    absl::MutexLock lock(&mu_);
    auto& codes = codes_[std::string(user_id)];
    auto it = codes.find(std::string(mac));
    if (it == codes.end() || it->second) return absl::NotFoundError("no such unused code");
    it->second = true;
    int left = 0;
    for (const auto& [m, used] : codes) left += used ? 0 : 1;
    return left;
  }
  absl::StatusOr<AttemptWindow> CountAttempt(absl::string_view user_id, absl::string_view method,
                                             absl::Duration window, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    AttemptWindow& w = attempts_[absl::StrCat(user_id, "/", method)];
    if (w.attempts == 0 || w.start <= now - window) w = {0, now};
    ++w.attempts;
    return w;
  }
  absl::Status ClearAttempts(absl::string_view user_id, absl::string_view method) override {
    absl::MutexLock lock(&mu_);
    attempts_.erase(absl::StrCat(user_id, "/", method));
    return absl::OkStatus();
  }

  std::string StoredSecretOf(const std::string& user_id) {
    absl::MutexLock lock(&mu_);
    return apps_.at(user_id).secret.sealed_secret;
  }
  void SetSealedSecret(const std::string& user_id, const TotpSecret& secret) {
    absl::MutexLock lock(&mu_);
    apps_[user_id] = {secret, -1};
  }
  std::set<std::string> MacsOf(const std::string& user_id) {
    absl::MutexLock lock(&mu_);
    std::set<std::string> macs;
    for (const auto& [mac, used] : codes_[user_id]) macs.insert(mac);
    return macs;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, TotpEnrollment> enrollments_;
  std::map<std::string, TotpAuthenticator> apps_;
  std::map<std::string, std::map<std::string, bool>> codes_;
  std::map<std::string, AttemptWindow> attempts_;
};

}  // namespace tally::credential
