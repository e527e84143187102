#pragma once

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/orchestrator/login_store.h"
#include "tally/credential/v1/credential.pb.h"
#include "tally/policy/v1/policy.pb.h"

namespace tally::orchestrator {

// One way of proving who one is: a password, a one-time code, a passkey. A factor's steps (its
// RPCs) are methods of its own class, built on LoginCore; this is what LoginCore asks of every
// factor, so that a new factor is a new file plus one LoginCore::AddFactor (and its RPCs on
// LoginManager), not edits throughout.
class Factor {
 public:
  virtual ~Factor() = default;

  // Whether this factor completes `method`.
  virtual bool Completes(AuthMethod method) const = 0;
  // Whether it can name the user without a username (a discoverable passkey): the only kind of
  // factor a passkey-first login offers before the user is known.
  virtual bool IdentifiesUser() const { return false; }
  // When the user is proven: notes in `caps` whether the user can use this factor. `accepted`:
  // this factor just proved the user. `login_complete`: nothing will be offered after this step,
  // so a costly question can wait for Usable.
  virtual void LearnCaps(const ::tally::credential::v1::User& user,
                         const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                         bool accepted, bool login_complete, UserCaps& caps) = 0;
  // Whether the proven user of `record` can use `method` (one this factor completes). May
  // complete `record.caps` (and store it) where LearnCaps left it open.
  virtual bool Usable(AuthMethod method, LoginRecord& record, absl::Time deadline) = 0;
  // When another factor's `accepted` method was just accepted for `user_id` (LoginCore::Accept):
  // a factor presented with the login rather than completed as a step (a remembered device) may
  // complete alongside it, in the same write, by adding to `update`.
  virtual void AlongWith(const LoginRecord& /*record*/, AuthMethod /*accepted*/,
                         absl::string_view /*user_id*/,
                         const ::tally::policy::v1::AuthSettings& /*settings*/,
                         absl::Time /*deadline*/, LoginUpdate& /*update*/) {}
};

}  // namespace tally::orchestrator
