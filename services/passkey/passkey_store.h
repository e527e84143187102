#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/policy/directory_source.h"

namespace tally::passkey {

// A stored passkey. Binary values (credential id, COSE key) are raw bytes here.
struct PasskeyRecord {
  std::string credential_id;
  std::string directory_id;
  std::string user_id;
  std::string public_key_cose;
  int algorithm = 0;
  uint32_t sign_count = 0;
  std::string aaguid;  // UUID string
  std::string nickname;
  std::vector<std::string> transports;
  bool backup_eligible = false;
  bool backup_state = false;
  std::string attestation_format;
  std::string attestation_type;
  absl::Time create_time;
  std::optional<absl::Time> last_use_time;
  // The owner's WebAuthn user handle; set by GetPasskey only (empty when the owner has none).
  std::optional<std::string> owner_user_handle;
};

// The relying party a directory's ceremonies use. Origins are compared with what the browser
// sent exactly, so they are kept as browsers write them (webauthn/origin.h).
struct RpConfig {
  std::string rp_id;
  std::string rp_name;
  std::vector<std::string> origins;
  std::string user_verification = "required";  // required | preferred | discouraged
  bool allow_cross_origin = false;
  std::vector<std::string> top_origins;
};

// Where passkeys, user handles and per-directory relying-party overrides live. Every method is
// one atomic step; store failures are UNAVAILABLE.
class PasskeyStore {
 public:
  virtual ~PasskeyStore() = default;

  // The user's WebAuthn user handle, created from `candidate` on first use (two racing first
  // uses agree on one).
  virtual absl::StatusOr<std::string> GetOrCreateUserHandle(absl::string_view directory_id,
                                                            absl::string_view user_id,
                                                            absl::string_view candidate) = 0;

  // ALREADY_EXISTS when the credential id is registered (to anyone).
  virtual absl::Status CreatePasskey(const PasskeyRecord& record) = 0;
  // NOT_FOUND when unknown. Fills `owner_user_handle` in the same read: an assertion's user
  // handle is checked against it.
  virtual absl::StatusOr<PasskeyRecord> GetPasskey(absl::string_view credential_id) = 0;
  // Oldest first.
  virtual absl::StatusOr<std::vector<PasskeyRecord>> ListPasskeys(absl::string_view directory_id,
                                                                  absl::string_view user_id) = 0;
  // Compare-and-swap after an authentication: only when the stored counter still is
  // `expected_count`; ABORTED when another use won.
  virtual absl::Status RecordUse(absl::string_view credential_id, uint32_t expected_count,
                                 uint32_t new_count, bool backup_state, absl::Time when) = 0;
  // NOT_FOUND when the user has no such passkey.
  virtual absl::Status DeletePasskey(absl::string_view directory_id, absl::string_view user_id,
                                     absl::string_view credential_id) = 0;

  // The directory's relying-party override, if an operator set one.
  virtual absl::StatusOr<std::optional<RpConfig>> GetRpOverride(absl::string_view directory_id) = 0;

  virtual absl::Status Ping() = 0;
};

// A pending ceremony, bound to its directory, user and kind.
struct PendingCeremony {
  enum class Kind { kRegistration, kAuthentication };
  Kind kind = Kind::kRegistration;
  std::string directory_id;
  std::string user_id;      // empty: discoverable authentication
  std::string challenge;    // 32 raw bytes
  std::string user_handle;  // registration: the handle put in the options
};

// Challenges of pending ceremonies (Redis, DESIGN.md §3: `{dir}:wa:<id>`).
class ChallengeStore {
 public:
  virtual ~ChallengeStore() = default;
  virtual absl::Status Put(absl::string_view challenge_id, const PendingCeremony& ceremony,
                           absl::Duration ttl) = 0;
  // Removes and returns it in one atomic step; NOT_FOUND when unknown, used or expired.
  virtual absl::StatusOr<PendingCeremony> Take(absl::string_view directory_id,
                                               absl::string_view challenge_id) = 0;
  virtual absl::Status Ping() = 0;
};

// The level a session must reach to register a passkey (DESIGN.md §1 rule 8), from
// common/policy (shared with the credential service's authenticator apps).
using ::tally::RequiredLevelSource;

}  // namespace tally::passkey
