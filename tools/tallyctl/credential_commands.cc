#include "tools/tallyctl/credential_commands.h"

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/auth/jwt.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/util/clock.h"
#include "common/util/proto_time.h"
#include "common/util/random.h"
#include "tally/credential/v1/credential.grpc.pb.h"

ABSL_FLAG(std::string, phone, "", "user create|set-contact: phone number (E.164).");
ABSL_FLAG(std::string, roles, "",
          "user create, dev-token: comma-separated roles (admin, user); create's default: user.");
ABSL_FLAG(bool, password_stdin, false,
          "user create|set-password: read the password from the first line of standard input "
          "(otherwise from $TALLY_NEW_PASSWORD; never from the command line).");
ABSL_FLAG(absl::Duration, ttl, absl::Hours(1), "dev-token: how long the token is valid.");
ABSL_FLAG(int, level, 0,
          "dev-token: the points the session's login reached (acr), e.g. the directory's required "
          "level for enrolling an authenticator app.");
// Defined in policy_commands.cc.
ABSL_DECLARE_FLAG(int, page_size);
ABSL_DECLARE_FLAG(std::string, email);

namespace tally::cli {
namespace {

namespace pb = ::tally::credential::v1;

constexpr char kPasswordEnv[] = "TALLY_NEW_PASSWORD";
// set-password by the user themself: the current password (else asked for).
constexpr char kCurrentPasswordEnv[] = "TALLY_CURRENT_PASSWORD";
// set-contact: the value that clears a field (an empty flag means "leave it").
constexpr char kNone[] = "none";

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::vector<std::string> RolesFlag() {
  return absl::StrSplit(absl::GetFlag(FLAGS_roles), ',', absl::SkipWhitespace());
}

// The password for create / set-password: stdin with --password_stdin, else the environment,
// else none. Passwords on the command line would end up in shell history and `ps`.
absl::StatusOr<std::string> NewPassword() {
  if (absl::GetFlag(FLAGS_password_stdin)) {
    std::string line;
    if (!std::getline(std::cin, line)) {
      return UsageError("--password_stdin: nothing to read on standard input");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  const char* env = std::getenv(kPasswordEnv);
  return std::string(env == nullptr ? "" : env);
}

void PrintUser(CommandContext& ctx, const pb::User& u) {
  if (ctx.options().json) {
    ctx.PrintJson(u);
    return;
  }
  ctx.out() << "user       " << u.user_id() << "\ndirectory  " << u.directory_id()
            << "\nusername   " << u.username() << "\nemail      " << OrDash(u.email())
            << "\nphone      " << OrDash(u.phone_number()) << "\nroles      "
            << OrDash(absl::StrJoin(u.roles(), ", ")) << "\npassword   "
            << (u.has_password() ? "set" : "none") << "\ntotp       "
            << (u.has_totp() ? "enrolled" : "none") << "\nrecovery   "
            << absl::StrCat(u.recovery_codes_left(), " codes left") << "\ncreated    "
            << Time(u.create_time())
            << "\n";
}

absl::Status UserCreate(CommandContext& ctx) {
  pb::CreateUserRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_username(ctx.args()[1]);
  request.set_email(absl::GetFlag(FLAGS_email));
  request.set_phone_number(absl::GetFlag(FLAGS_phone));
  for (const std::string& role : RolesFlag()) request.add_roles(role);
  absl::StatusOr<std::string> password = NewPassword();
  if (!password.ok()) return password.status();
  request.set_password(*password);
  pb::CreateUserResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::CreateUser, request, &response); !s.ok()) {
    return s;
  }
  if (!ctx.options().json) ctx.out() << "created\n";
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

absl::Status UserGet(CommandContext& ctx) {
  pb::GetUserRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::GetUserResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::GetUser, request, &response); !s.ok()) {
    return s;
  }
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

absl::Status UserFind(CommandContext& ctx) {
  pb::FindUserRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_username(ctx.args()[1]);
  pb::FindUserResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::FindUser, request, &response); !s.ok()) {
    return s;
  }
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

absl::Status UserList(CommandContext& ctx) {
  pb::ListUsersRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  pb::ListUsersResponse all;
  // Operators want the whole list: follow the pages.
  do {
    pb::ListUsersResponse page;
    if (auto s = Call(ctx, &pb::CredentialService::Stub::ListUsers, request, &page); !s.ok()) {
      return s;
    }
    for (auto& u : *page.mutable_users()) *all.add_users() = std::move(u);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (ctx.options().json) {
    ctx.PrintJson(all);
    return absl::OkStatus();
  }
  for (const pb::User& u : all.users()) {
    ctx.out() << u.user_id() << "  " << u.username() << "  "
              << OrDash(absl::StrJoin(u.roles(), ",")) << "\n";
  }
  ctx.out() << all.users_size() << " user" << (all.users_size() == 1 ? "" : "s") << "\n";
  return absl::OkStatus();
}

absl::Status UserSetContact(CommandContext& ctx) {
  const std::string email = absl::GetFlag(FLAGS_email);
  const std::string phone = absl::GetFlag(FLAGS_phone);
  if (email.empty() && phone.empty()) {
    return UsageError("user set-contact: give --email and/or --phone (\"none\" clears one)");
  }
  // UpdateContact replaces both fields: start from the stored ones so an omitted flag keeps its
  // field.
  pb::GetUserRequest get;
  get.set_user_id(ctx.args()[0]);
  pb::GetUserResponse current;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::GetUser, get, &current); !s.ok()) return s;
  // An empty flag keeps the stored value, "none" clears it.
  auto pick = [](const std::string& flag, const std::string& stored) {
    if (flag.empty()) return stored;
    return flag == kNone ? std::string() : flag;
  };
  pb::UpdateContactRequest request;
  request.set_user_id(ctx.args()[0]);
  request.set_email(pick(email, current.user().email()));
  request.set_phone_number(pick(phone, current.user().phone_number()));
  pb::UpdateContactResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::UpdateContact, request, &response);
      !s.ok()) {
    return s;
  }
  if (!response.pending_change_id().empty()) {
    if (ctx.options().json) {
      ctx.PrintJson(response);
      return absl::OkStatus();
    }
    // A user's own change: nothing stored until the code sent to the new destination is back.
    ctx.out() << "pending    " << response.pending_change_id()
              << "\na code was sent to the new destination; confirm with:\n  tallyctl user "
                 "confirm-contact "
              << response.pending_change_id() << " CODE\n";
    return absl::OkStatus();
  }
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

absl::Status UserConfirmContact(CommandContext& ctx) {
  pb::ConfirmContactChangeRequest request;
  request.set_change_id(ctx.args()[0]);
  request.set_code(ctx.args()[1]);
  pb::ConfirmContactChangeResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::ConfirmContactChange, request, &response);
      !s.ok()) {
    return s;
  }
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

// Whether the service asked for the caller's current password (the user changing their own).
bool NeedsCurrentPassword(const absl::Status& status) {
  if (!absl::IsPermissionDenied(status)) return false;
  for (const auto& violation : FieldViolationsOf(status)) {
    if (violation.field() == "current_password") return true;
  }
  return false;
}

absl::Status UserSetPassword(CommandContext& ctx) {
  absl::StatusOr<std::string> password = NewPassword();
  if (!password.ok()) return password.status();
  if (password->empty()) {
    return UsageError(absl::StrCat("user set-password: pass the password on standard input with "
                                   "--password_stdin, or in $",
                                   kPasswordEnv));
  }
  pb::SetPasswordRequest request;
  request.set_user_id(ctx.args()[0]);
  request.set_new_password(*password);
  if (const char* current = std::getenv(kCurrentPasswordEnv); current != nullptr) {
    request.set_current_password(current);
  }
  pb::SetPasswordResponse response;
  absl::Status s = Call(ctx, &pb::CredentialService::Stub::SetPassword, request, &response);
  // The user changing their own password: the service wants the current one; ask (the next
  // line of standard input without a terminal), never from the command line.
  if (NeedsCurrentPassword(s) && request.current_password().empty()) {
    absl::StatusOr<std::string> current = Ask("current password: ", /*secret=*/true);
    if (!current.ok()) return s;
    request.set_current_password(*current);
    s = Call(ctx, &pb::CredentialService::Stub::SetPassword, request, &response);
  }
  if (!s.ok()) return s;
  if (ctx.options().json) {
    ctx.PrintJson(response.user());
  } else {
    ctx.out() << "password set for " << response.user().user_id() << "\n";
  }
  return absl::OkStatus();
}

absl::Status UserSetRoles(CommandContext& ctx) {
  pb::SetRolesRequest request;
  request.set_user_id(ctx.args()[0]);
  for (size_t i = 1; i < ctx.args().size(); ++i) request.add_roles(ctx.args()[i]);
  pb::SetRolesResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::SetRoles, request, &response); !s.ok()) {
    return s;
  }
  PrintUser(ctx, response.user());
  return absl::OkStatus();
}

absl::Status UserDelete(CommandContext& ctx) {
  pb::DeleteUserRequest request;
  request.set_user_id(ctx.args()[0]);
  pb::DeleteUserResponse response;
  if (auto s = Call(ctx, &pb::CredentialService::Stub::DeleteUser, request, &response); !s.ok()) {
    return s;
  }
  if (!ctx.options().json) ctx.out() << "deleted " << ctx.args()[0] << "\n";
  return absl::OkStatus();
}

absl::Status DevToken(CommandContext& ctx) {
  absl::StatusOr<JwtSigner> signer = JwtSigner::FromPemFile(ctx.args()[0]);
  if (!signer.ok()) return signer.status();
  SessionClaims claims;
  claims.issuer = "tally";
  claims.directory_id = ctx.args()[1];
  claims.subject = ctx.args()[2];
  claims.session_id = NewId(CsprngRandom::Get(), "ses_dev_");
  const int level = absl::GetFlag(FLAGS_level);
  if (level < 0) return absl::InvalidArgumentError("--level must not be negative");
  claims.acr = absl::StrCat(level);
  claims.roles = RolesFlag();
  claims.issued_at = claims.auth_time = SystemClock::Get().Now();
  claims.expires_at = claims.issued_at + absl::GetFlag(FLAGS_ttl);
  absl::StatusOr<std::string> token = signer->Sign(claims);
  if (!token.ok()) return token.status();
  ctx.out() << *token << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterCredentialCommands(CommandRegistry& registry) {
  registry.Add({"user", "create",
                "user create DIRECTORY_ID USERNAME [--email ADDRESS] [--phone E164] "
                "[--roles admin,user] [--password_stdin | $TALLY_NEW_PASSWORD]",
                2, 2, UserCreate});
  registry.Add({"user", "get", "user get USER_ID", 1, 1, UserGet});
  registry.Add({"user", "find", "user find DIRECTORY_ID USERNAME", 2, 2, UserFind});
  registry.Add({"user", "list", "user list DIRECTORY_ID [--page_size N]", 1, 1, UserList});
  registry.Add({"user", "set-contact",
                "user set-contact USER_ID [--email ADDRESS|none] [--phone E164|none]", 1, 1,
                UserSetContact});
  registry.Add({"user", "confirm-contact",
                "user confirm-contact CHANGE_ID CODE   (the code sent to the new destination)", 2,
                2, UserConfirmContact});
  registry.Add({"user", "set-password",
                "user set-password USER_ID (--password_stdin | $TALLY_NEW_PASSWORD) "
                "[$TALLY_CURRENT_PASSWORD, else asked when changing your own]",
                1, 1,
                UserSetPassword});
  registry.Add({"user", "set-roles", "user set-roles USER_ID ROLE...   (admin, user)", 2, 3,
                UserSetRoles});
  registry.Add({"user", "delete", "user delete USER_ID", 1, 1, UserDelete});
  registry.Add({"dev-token", "",
                "dev-token SIGNING_KEY.pem DIRECTORY_ID USER_ID [--roles admin] [--level N] [--ttl 1h]   "
                "(a session token for local clusters)",
                3, 3, DevToken});
}

}  // namespace tally::cli
