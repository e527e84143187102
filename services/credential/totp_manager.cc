#include "services/credential/totp_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/qr/qr_code.h"
#include "common/util/crypto.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"

namespace tally::credential {
namespace {

constexpr absl::string_view kMethod = "totp";
// One answer for every refused code: wrong, replayed, malformed or no app at all.
constexpr char kBadCode[] = "invalid code";

// The additional data of a sealed secret: whose it is.
std::string Aad(absl::string_view directory_id, absl::string_view user_id) {
  return absl::StrCat("tally-totp-v1;", directory_id.size(), ":", directory_id, ";", user_id.size(),
                      ":", user_id);
}

}  // namespace

TotpManager::TotpManager(FactorGuard& guard, FactorStore& store, CredentialStore& users,
                         DirectoryNameSource& names, RandomSource& random, TotpOptions options)
    : guard_(guard),
      store_(store),
      users_(users),
      names_(names),
      random_(random),
      options_(std::move(options)) {}

std::string TotpManager::Seal(const std::string& secret, const std::string& directory_id,
                              const std::string& user_id) {
  return absl::StrCat(
      std::string(1, static_cast<char>(options_.key_id)),
      SealAesGcm(options_.encryption_key, secret, Aad(directory_id, user_id), random_));
}

absl::StatusOr<std::string> TotpManager::Open(const TotpSecret& sealed) const {
  const std::string& bytes = sealed.sealed_secret;
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != options_.key_id) {
    return absl::DataLossError("sealed under an unknown key id");
  }
  return OpenAesGcm(options_.encryption_key, absl::string_view(bytes).substr(1),
                    Aad(sealed.directory_id, sealed.user_id));
}

std::optional<int64_t> TotpManager::Match(const std::string& secret,
                                          const std::string& code) const {
  // Apps show "123 456"; anything but digits of the right length cannot match.
  std::string digits;
  for (char c : code) {
    if (c != ' ') digits.push_back(c);
  }
  if (digits.size() != static_cast<size_t>(options_.params.digits)) return std::nullopt;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return MatchTotp(options_.params, secret, digits, guard_.clock().Now());
}

absl::StatusOr<pb::User> TotpManager::CurrentUser(const std::string& user_id) {
  absl::StatusOr<StoredUser> user = users_.GetUser(user_id);
  if (!user.ok()) return user.status();
  return std::move(user->user);
}

absl::StatusOr<pb::StartTotpEnrollmentResponse> TotpManager::StartTotpEnrollment(
    const Caller& caller, const pb::StartTotpEnrollmentRequest& request) {
  absl::StatusOr<StoredUser> user =
      guard_.RequireEnrollingUser(caller, request.user_id(), "enrolling an authenticator app");
  if (!user.ok()) return user.status();
  const std::string& directory_id = user->user.directory_id();
  absl::StatusOr<std::string> issuer = names_.DisplayName(directory_id);
  if (!issuer.ok()) return issuer.status();

  std::string secret(static_cast<size_t>(options_.secret_bytes), '\0');
  random_.Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(secret.data()), secret.size()));
  TotpEnrollment enrollment;
  enrollment.enrollment_id = NewId(random_, "totp_");
  enrollment.secret = {directory_id, request.user_id(),
                       Seal(secret, directory_id, request.user_id())};
  // PostgreSQL keeps microseconds: the answer must equal what the row says.
  enrollment.expire_time =
      absl::FromUnixMicros(absl::ToUnixMicros(guard_.clock().Now() + options_.enrollment_ttl));

  pb::StartTotpEnrollmentResponse response;
  response.set_otpauth_uri(OtpauthUri(*issuer, user->user.username(), secret, options_.params));
  absl::StatusOr<QrCode> qr = QrCode::Encode(response.otpauth_uri());
  if (!qr.ok()) {
    // Only a display name and username of kilobytes could do this.
    return absl::InvalidArgumentError(
        "the directory's name and the username are too long for a QR code");
  }
  if (absl::Status s = store_.PutTotpEnrollment(enrollment); !s.ok()) return s;
  response.set_enrollment_id(enrollment.enrollment_id);
  response.set_secret_base32(Base32Encode(secret));
  response.set_qr_svg(qr->ToSvg());
  *response.mutable_expire_time() = ToProtoTime(enrollment.expire_time);
  GetLogger("credential")
      ->info("{} started enrolling an authenticator app for user {}", caller.Actor(),
             request.user_id());
  return response;
}

absl::StatusOr<pb::ConfirmTotpEnrollmentResponse> TotpManager::ConfirmTotpEnrollment(
    const Caller& caller, const pb::ConfirmTotpEnrollmentRequest& request) {
  if (caller.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("credentials required: the user's session token");
  }
  if (caller.kind != Caller::Kind::kUser) {
    return absl::PermissionDeniedError("only the user who started the enrolment may confirm it");
  }
  if (absl::Status s = CheckId("enrollment_id", request.enrollment_id()); !s.ok()) return s;
  absl::StatusOr<TotpEnrollment> enrollment =
      store_.GetTotpEnrollment(request.enrollment_id(), guard_.clock().Now());
  if (!enrollment.ok()) return enrollment.status();
  const TotpSecret& sealed = enrollment->secret;
  if (!caller.IsUser(sealed.user_id) || caller.claims.directory_id != sealed.directory_id) {
    return absl::PermissionDeniedError("only the user who started the enrolment may confirm it");
  }
  if (absl::Status s = guard_.RequireFresh(caller); !s.ok()) return s;
  if (absl::Status s = guard_.TakeAttempt(sealed.user_id, kMethod); !s.ok()) return s;
  absl::StatusOr<std::string> secret = Open(sealed);
  if (!secret.ok()) {
    GetLogger("credential")
        ->error("the enrolment secret of user {} does not open: {}", sealed.user_id,
                secret.status());
    return absl::InternalError("the enrolment cannot be read");
  }
  const std::optional<int64_t> step = Match(*secret, request.code());
  if (!step.has_value()) return absl::UnauthenticatedError(kBadCode);
  // The confirming code's step counts as used: it cannot log in a second time.
  if (absl::Status s =
          store_.ConfirmTotpEnrollment(request.enrollment_id(), *step, guard_.clock().Now());
      !s.ok()) {
    return s;
  }
  guard_.ForgiveAttempts(sealed.user_id, kMethod);
  GetLogger("credential")
      ->info("{} confirmed an authenticator app for user {}", caller.Actor(), sealed.user_id);
  absl::StatusOr<pb::User> user = CurrentUser(sealed.user_id);
  if (!user.ok()) return user.status();
  pb::ConfirmTotpEnrollmentResponse response;
  *response.mutable_user() = *std::move(user);
  return response;
}

absl::StatusOr<pb::DeleteTotpResponse> TotpManager::DeleteTotp(
    const Caller& caller, const pb::DeleteTotpRequest& request) {
  absl::StatusOr<StoredUser> user = guard_.RequireFreshSelfOrAdmin(caller, request.user_id());
  if (!user.ok()) return user.status();
  absl::StatusOr<bool> deleted = store_.DeleteTotp(request.user_id());
  if (!deleted.ok()) return deleted.status();
  if (*deleted) {
    GetLogger("credential")
        ->info("{} removed the authenticator app of user {}", caller.Actor(), request.user_id());
  }
  absl::StatusOr<pb::User> current = CurrentUser(request.user_id());
  if (!current.ok()) return current.status();
  pb::DeleteTotpResponse response;
  *response.mutable_user() = *std::move(current);
  return response;
}

absl::StatusOr<pb::VerifyTotpResponse> TotpManager::VerifyTotp(
    const Caller& /*cluster: orchestrator*/, const pb::VerifyTotpRequest& request) {
  absl::StatusOr<StoredUser> user = guard_.LoadUser(request.directory_id(), request.user_id());
  if (!user.ok()) return user.status();
  if (absl::Status s = guard_.TakeAttempt(request.user_id(), kMethod); !s.ok()) return s;
  absl::StatusOr<TotpAuthenticator> app = store_.GetTotp(request.user_id());
  if (absl::IsNotFound(app.status())) return absl::UnauthenticatedError(kBadCode);
  if (!app.ok()) return app.status();
  absl::StatusOr<std::string> secret = Open(app->secret);
  if (!secret.ok()) {
    GetLogger("credential")
        ->error("the TOTP secret of user {} does not open: {}", request.user_id(), secret.status());
    return absl::InternalError("the authenticator app cannot be read");
  }
  const std::optional<int64_t> step = Match(*secret, request.code());
  if (!step.has_value()) return absl::UnauthenticatedError(kBadCode);
  // The conditional UPDATE decides: a step at or before the last used one is a replay, and of
  // racing verifies of one code only one moves it.
  absl::StatusOr<bool> advanced = store_.AdvanceTotpStep(request.user_id(), *step);
  if (!advanced.ok()) return advanced.status();
  if (!*advanced) return absl::UnauthenticatedError(kBadCode);
  guard_.ForgiveAttempts(request.user_id(), kMethod);
  return pb::VerifyTotpResponse();
}

}  // namespace tally::credential
