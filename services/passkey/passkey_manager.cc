#include "services/passkey/passkey_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"
#include "services/passkey/webauthn/crypto.h"
#include "services/passkey/webauthn/origin.h"

namespace tally::passkey {
namespace {

using json = nlohmann::json;
using Kind = PendingCeremony::Kind;

constexpr size_t kChallengeBytes = 32;
constexpr size_t kUserHandleBytes = 32;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxNicknameBytes = 64;
constexpr size_t kMaxCachedRps = 10000;
// Offered in this order of preference (pubKeyCredParams).
constexpr int kAlgorithms[] = {webauthn::kAlgEdDSA, webauthn::kAlgES256, webauthn::kAlgES384,
                               webauthn::kAlgES512, webauthn::kAlgRS256};

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (!IsValidId(std::string_view(id.data(), id.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 1 to 128 characters of letters, digits, '_' and '-'"));
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_bytes) {
  const std::string_view v(text.data(), text.size());
  if (text.size() > max_bytes || !IsValidUtf8(v) || HasControlCharacters(v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be printable UTF-8 of at most ", max_bytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string B64(absl::string_view raw) {
  return Base64UrlEncode(std::string_view(raw.data(), raw.size()));
}

webauthn::RelyingParty ToRelyingParty(const RpConfig& rp) {
  webauthn::RelyingParty out;
  out.rp_id = rp.rp_id;
  out.origins = rp.origins;
  out.allow_cross_origin = rp.allow_cross_origin;
  out.top_origins = rp.top_origins;
  out.require_user_verification = rp.user_verification == "required";
  return out;
}

// A directory's relying-party row with its origins written as browsers write them (the flags'
// are normalised at start-up). INTERNAL when one is not an origin: an operator's mistake that
// the caller cannot fix, and not a user without passkeys or a failed factor (which
// FAILED_PRECONDITION and UNAUTHENTICATED would tell the orchestrator).
absl::Status NormalizeRowOrigins(RpConfig& rp) {
  for (auto [column, origins] :
       {std::pair{"origins", &rp.origins}, std::pair{"top_origins", &rp.top_origins}}) {
    absl::StatusOr<std::vector<std::string>> normalized = webauthn::NormalizeOrigins(*origins);
    if (!normalized.ok()) {
      return absl::InternalError(absl::StrCat("the directory's relying_parties row is wrong: ",
                                              column, ": ", normalized.status().message()));
    }
    *origins = *std::move(normalized);
  }
  return absl::OkStatus();
}

json CredentialDescriptor(const PasskeyRecord& p) {
  json d = {{"type", "public-key"}, {"id", B64(p.credential_id)}};
  if (!p.transports.empty()) d["transports"] = p.transports;
  return d;
}

const char* KindName(Kind kind) {
  return kind == Kind::kRegistration ? "registration" : "authentication";
}

}  // namespace

pb::Passkey ToProto(const PasskeyRecord& r) {
  pb::Passkey p;
  p.set_credential_id(B64(r.credential_id));
  p.set_user_id(r.user_id);
  p.set_aaguid(r.aaguid);
  p.set_nickname(r.nickname);
  for (const std::string& t : r.transports) p.add_transports(t);
  p.set_backup_eligible(r.backup_eligible);
  p.set_backup_state(r.backup_state);
  *p.mutable_create_time() = ToProtoTime(r.create_time);
  if (r.last_use_time) *p.mutable_last_use_time() = ToProtoTime(*r.last_use_time);
  return p;
}

PasskeyManager::PasskeyManager(PasskeyStore& store, ChallengeStore& challenges,
                               RequiredLevelSource& levels, const Clock& clock,
                               RandomSource& random, PasskeyOptions options,
                               CeremonyObserver* observer)
    : store_(store),
      challenges_(challenges),
      levels_(levels),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      observer_(observer != nullptr ? observer : &default_observer_) {}

std::string PasskeyManager::RandomBytes(size_t n) {
  std::string out(n, '\0');
  random_.Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), n));
  return out;
}

absl::StatusOr<RpConfig> PasskeyManager::ResolveRp(absl::string_view directory_id) {
  const bool cache = options_.rp_cache_ttl > absl::ZeroDuration();
  const absl::Time now = clock_.Now();
  if (cache) {
    absl::MutexLock lock(&rp_mu_);
    auto it = rp_cache_.find(directory_id);
    if (it != rp_cache_.end() && now < it->second.expires) {
      return it->second.rp.has_value() ? *it->second.rp : options_.default_rp;
    }
  }
  absl::StatusOr<std::optional<RpConfig>> override_rp = store_.GetRpOverride(directory_id);
  if (!override_rp.ok()) return override_rp.status();  // errors are never cached
  if (override_rp->has_value()) {
    if (absl::Status s = NormalizeRowOrigins(**override_rp); !s.ok()) return s;
  }
  if (cache) {
    absl::MutexLock lock(&rp_mu_);
    // Bounded: directory ids come from requests, so a flood of made-up ones must not grow it.
    if (rp_cache_.size() >= kMaxCachedRps) rp_cache_.clear();
    rp_cache_[directory_id] = CachedRp{*override_rp, now + options_.rp_cache_ttl};
  }
  if (override_rp->has_value()) return **override_rp;
  return options_.default_rp;
}

absl::StatusOr<PendingCeremony> PasskeyManager::TakeChallenge(absl::string_view directory_id,
                                                              absl::string_view challenge_id,
                                                              Kind kind) {
  absl::StatusOr<PendingCeremony> pending = challenges_.Take(directory_id, challenge_id);
  if (absl::IsNotFound(pending.status())) {
    return absl::FailedPreconditionError(
        "unknown, used or expired challenge: start the ceremony again");
  }
  if (!pending.ok()) return pending.status();
  if (pending->kind != kind || pending->directory_id != directory_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the challenge was issued for ", KindName(pending->kind),
                     ", not for ", KindName(kind)));
  }
  return pending;
}

absl::StatusOr<pb::StartRegistrationResponse> PasskeyManager::StartRegistration(
    const Caller& caller, const pb::StartRegistrationRequest& request) {
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  if (request.username().empty()) return absl::InvalidArgumentError("username is required");
  if (absl::Status s = CheckText("username", request.username(), kMaxNameBytes); !s.ok()) return s;
  if (absl::Status s = CheckText("display_name", request.display_name(), kMaxNameBytes); !s.ok()) {
    return s;
  }
  // Only the user themself, with a session of this directory at its required level.
  if (caller.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("credentials required: the user's session token");
  }
  if (caller.kind != Caller::Kind::kUser || !caller.IsUser(request.user_id()) ||
      caller.claims.directory_id != request.directory_id()) {
    return absl::PermissionDeniedError("only the user may register a passkey for themself");
  }
  if (absl::Status s = RequireSessionLevel(caller, request.directory_id(), levels_,
                                           "registering a passkey");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<RpConfig> rp = ResolveRp(request.directory_id());
  if (!rp.ok()) return rp.status();
  absl::StatusOr<std::string> handle = store_.GetOrCreateUserHandle(
      request.directory_id(), request.user_id(), RandomBytes(kUserHandleBytes));
  if (!handle.ok()) return handle.status();
  absl::StatusOr<std::vector<PasskeyRecord>> existing =
      store_.ListPasskeys(request.directory_id(), request.user_id());
  if (!existing.ok()) return existing.status();

  PendingCeremony pending;
  pending.kind = Kind::kRegistration;
  pending.directory_id = request.directory_id();
  pending.user_id = request.user_id();
  pending.challenge = RandomBytes(kChallengeBytes);
  pending.user_handle = *handle;
  const std::string challenge_id = NewId(random_, "wa_");
  if (absl::Status s = challenges_.Put(challenge_id, pending, options_.challenge_ttl); !s.ok()) {
    return s;
  }

  json params = json::array();
  for (int alg : kAlgorithms) params.push_back({{"type", "public-key"}, {"alg", alg}});
  json exclude = json::array();
  for (const PasskeyRecord& p : *existing) exclude.push_back(CredentialDescriptor(p));
  json options = {
      {"rp", {{"id", rp->rp_id}, {"name", rp->rp_name}}},
      {"user",
       {{"id", B64(*handle)},
        {"name", request.username()},
        {"displayName",
         request.display_name().empty() ? request.username() : request.display_name()}}},
      {"challenge", B64(pending.challenge)},
      {"pubKeyCredParams", params},
      {"timeout", absl::ToInt64Milliseconds(options_.challenge_ttl)},
      {"excludeCredentials", exclude},
      {"authenticatorSelection",
       {{"residentKey", "preferred"},
        {"requireResidentKey", false},
        {"userVerification", rp->user_verification}}},
      {"attestation", options_.trust_anchors != nullptr ? "direct" : "none"},
      {"extensions", {{"credProps", true}}},
  };
  pb::StartRegistrationResponse response;
  response.set_challenge_id(challenge_id);
  response.set_creation_options_json(options.dump());
  return response;
}

absl::StatusOr<pb::FinishRegistrationResponse> PasskeyManager::FinishRegistration(
    const Caller& caller, const pb::FinishRegistrationRequest& request) {
  std::string reason;
  absl::StatusOr<pb::FinishRegistrationResponse> result =
      DoFinishRegistration(caller, request, &reason);
  if (result.ok()) {
    observer_->Ceremony("registration", "success", "");
  } else {
    observer_->Ceremony("registration", "failure", reason);
  }
  return result;
}

absl::StatusOr<pb::FinishRegistrationResponse> PasskeyManager::DoFinishRegistration(
    const Caller& caller, const pb::FinishRegistrationRequest& request, std::string* reason) {
  *reason = "request";
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("challenge_id", request.challenge_id()); !s.ok()) return s;
  if (request.registration_response_json().empty()) {
    return absl::InvalidArgumentError("registration_response_json is required");
  }
  if (absl::Status s = CheckText("nickname", request.nickname(), kMaxNicknameBytes); !s.ok()) {
    return s;
  }
  *reason = "permission";
  if (caller.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("credentials required: the user's session token");
  }
  if (caller.kind != Caller::Kind::kUser ||
      caller.claims.directory_id != request.directory_id()) {
    return absl::PermissionDeniedError("only the user who started the registration may finish it");
  }
  *reason = "challenge";
  absl::StatusOr<PendingCeremony> pending =
      TakeChallenge(request.directory_id(), request.challenge_id(), Kind::kRegistration);
  if (!pending.ok()) return pending.status();
  if (!caller.IsUser(pending->user_id)) {
    *reason = "permission";
    return absl::PermissionDeniedError("only the user who started the registration may finish it");
  }
  *reason = "store";
  absl::StatusOr<RpConfig> rp = ResolveRp(request.directory_id());
  if (!rp.ok()) return rp.status();

  webauthn::RegistrationExpectation expect;
  expect.rp = ToRelyingParty(*rp);
  expect.challenge = pending->challenge;
  expect.algorithms.assign(std::begin(kAlgorithms), std::end(kAlgorithms));
  expect.trust_anchors = options_.trust_anchors;
  expect.require_attestation = options_.require_attestation;
  expect.allowed_aaguids = options_.allowed_aaguids;
  absl::StatusOr<webauthn::RegisteredCredential> credential =
      webauthn::VerifyRegistration(request.registration_response_json(), expect);
  if (!credential.ok()) {
    *reason = webauthn::ReasonOf(credential.status());
    return credential.status();
  }

  PasskeyRecord record;
  record.credential_id = credential->credential_id;
  record.directory_id = request.directory_id();
  record.user_id = pending->user_id;
  record.public_key_cose = credential->public_key_cose;
  record.algorithm = credential->algorithm;
  record.sign_count = credential->sign_count;
  record.aaguid = webauthn::FormatAaguid(credential->aaguid);
  record.nickname = request.nickname();
  record.transports = credential->transports;
  record.backup_eligible = credential->backup_eligible;
  record.backup_state = credential->backup_state;
  record.attestation_format = credential->format;
  record.attestation_type = credential->attestation_type;
  record.create_time = clock_.Now();
  *reason = "store";
  if (absl::Status s = store_.CreatePasskey(record); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      *reason = webauthn::reason::kCredential;
      return absl::AlreadyExistsError("this credential is already registered");
    }
    return s;
  }
  pb::FinishRegistrationResponse response;
  *response.mutable_passkey() = ToProto(record);
  return response;
}

absl::StatusOr<pb::StartAuthenticationResponse> PasskeyManager::StartAuthentication(
    const Caller& /*caller: the cluster*/, const pb::StartAuthenticationRequest& request) {
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  if (!request.user_id().empty()) {
    if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  }
  absl::StatusOr<RpConfig> rp = ResolveRp(request.directory_id());
  if (!rp.ok()) return rp.status();
  json allow = json::array();
  if (!request.user_id().empty()) {
    absl::StatusOr<std::vector<PasskeyRecord>> passkeys =
        store_.ListPasskeys(request.directory_id(), request.user_id());
    if (!passkeys.ok()) return passkeys.status();
    if (passkeys->empty()) return absl::FailedPreconditionError("the user has no passkey");
    for (const PasskeyRecord& p : *passkeys) allow.push_back(CredentialDescriptor(p));
  }
  PendingCeremony pending;
  pending.kind = Kind::kAuthentication;
  pending.directory_id = request.directory_id();
  pending.user_id = request.user_id();
  pending.challenge = RandomBytes(kChallengeBytes);
  const std::string challenge_id = NewId(random_, "wa_");
  if (absl::Status s = challenges_.Put(challenge_id, pending, options_.challenge_ttl); !s.ok()) {
    return s;
  }
  json options = {
      {"challenge", B64(pending.challenge)},
      {"timeout", absl::ToInt64Milliseconds(options_.challenge_ttl)},
      {"rpId", rp->rp_id},
      {"allowCredentials", allow},
      {"userVerification", rp->user_verification},
  };
  pb::StartAuthenticationResponse response;
  response.set_challenge_id(challenge_id);
  response.set_request_options_json(options.dump());
  return response;
}

absl::StatusOr<pb::FinishAuthenticationResponse> PasskeyManager::FinishAuthentication(
    const Caller& /*caller: the cluster*/, const pb::FinishAuthenticationRequest& request) {
  std::string reason;
  absl::StatusOr<pb::FinishAuthenticationResponse> result =
      DoFinishAuthentication(request, &reason);
  if (result.ok()) {
    observer_->Ceremony("authentication", "success", "");
  } else {
    observer_->Ceremony("authentication", "failure", reason);
    if (reason == webauthn::reason::kCounter) observer_->CounterRegression();
  }
  return result;
}

absl::StatusOr<pb::FinishAuthenticationResponse> PasskeyManager::DoFinishAuthentication(
    const pb::FinishAuthenticationRequest& request, std::string* reason) {
  *reason = "request";
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("challenge_id", request.challenge_id()); !s.ok()) return s;
  if (request.authentication_response_json().empty()) {
    return absl::InvalidArgumentError("authentication_response_json is required");
  }
  *reason = "challenge";
  absl::StatusOr<PendingCeremony> pending =
      TakeChallenge(request.directory_id(), request.challenge_id(), Kind::kAuthentication);
  if (!pending.ok()) return pending.status();

  absl::StatusOr<webauthn::AssertionResponse> response =
      webauthn::ParseAssertionResponse(request.authentication_response_json());
  if (!response.ok()) {
    *reason = webauthn::ReasonOf(response.status());
    return response.status();
  }
  *reason = webauthn::reason::kCredential;
  absl::StatusOr<PasskeyRecord> record = store_.GetPasskey(response->credential_id);
  if (absl::IsNotFound(record.status()) ||
      (record.ok() && record->directory_id != request.directory_id())) {
    return absl::UnauthenticatedError(
        "unknown credential: not registered in this directory, or deleted");
  }
  if (!record.ok()) {
    *reason = "store";
    return record.status();
  }
  if (!pending->user_id.empty() && record->user_id != pending->user_id) {
    return absl::UnauthenticatedError("the passkey belongs to another user");
  }
  // The user handle, when returned, must be the owner's; a discoverable login needs it, as it
  // is what names the user.
  if (response->user_handle.has_value() || pending->user_id.empty()) {
    if (!response->user_handle.has_value()) {
      return absl::UnauthenticatedError("userHandle is required for a discoverable login");
    }
    if (!record->owner_user_handle.has_value() ||
        !ConstantTimeEquals(*record->owner_user_handle, *response->user_handle)) {
      return absl::UnauthenticatedError("userHandle does not match the passkey's owner");
    }
  }
  absl::StatusOr<RpConfig> rp = ResolveRp(request.directory_id());
  if (!rp.ok()) {
    *reason = "store";
    return rp.status();
  }
  webauthn::AuthenticationExpectation expect;
  expect.rp = ToRelyingParty(*rp);
  expect.challenge = pending->challenge;
  webauthn::StoredCredential stored;
  stored.public_key_cose = record->public_key_cose;
  stored.sign_count = record->sign_count;
  stored.backup_eligible = record->backup_eligible;
  absl::StatusOr<webauthn::VerifiedAssertion> verified =
      webauthn::VerifyAssertion(*response, expect, stored);
  if (!verified.ok()) {
    *reason = webauthn::ReasonOf(verified.status());
    return verified.status();
  }
  *reason = "store";
  absl::Status s = store_.RecordUse(record->credential_id, record->sign_count,
                                    verified->sign_count, verified->backup_state, clock_.Now());
  if (absl::IsAborted(s)) {
    // Another assertion of this passkey was accepted since we read it: this one is stale.
    *reason = webauthn::reason::kCounter;
    return absl::UnauthenticatedError(
        "the passkey was used concurrently (its counter moved on): start again");
  }
  if (!s.ok()) return s;
  pb::FinishAuthenticationResponse out;
  out.set_user_id(record->user_id);
  out.set_credential_id(B64(record->credential_id));
  out.set_user_verified(verified->user_verified);
  out.set_backup_state(verified->backup_state);
  return out;
}

absl::StatusOr<pb::ListPasskeysResponse> PasskeyManager::ListPasskeys(
    const Caller& caller, const pb::ListPasskeysRequest& request) {
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  // The directory is the caller's: a user or that directory's admin.
  if (absl::Status s = RequireSelfOrAdmin(caller, caller.claims.directory_id, request.user_id());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<PasskeyRecord>> passkeys =
      store_.ListPasskeys(caller.claims.directory_id, request.user_id());
  if (!passkeys.ok()) return passkeys.status();
  pb::ListPasskeysResponse response;
  for (const PasskeyRecord& p : *passkeys) *response.add_passkeys() = ToProto(p);
  return response;
}

absl::StatusOr<pb::DeletePasskeyResponse> PasskeyManager::DeletePasskey(
    const Caller& caller, const pb::DeletePasskeyRequest& request) {
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  std::string credential_id;
  if (request.credential_id().empty() ||
      request.credential_id().find('=') != std::string::npos ||
      !Base64UrlDecode(request.credential_id(), &credential_id) || credential_id.empty() ||
      credential_id.size() > webauthn::kMaxCredentialIdBytes) {
    return absl::InvalidArgumentError("credential_id must be a base64url credential id");
  }
  if (absl::Status s = RequireSelfOrAdmin(caller, caller.claims.directory_id, request.user_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          store_.DeletePasskey(caller.claims.directory_id, request.user_id(), credential_id);
      !s.ok()) {
    return s;
  }
  return pb::DeletePasskeyResponse();
}

}  // namespace tally::passkey
