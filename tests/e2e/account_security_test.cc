// Account security end to end (issues 19 and 20, credential side): the whole cluster as separate
// processes against the real Redis and PostgreSQL. A session token alone does not take an
// account over: sensitive changes need a fresh login, the user's own password change needs the
// current password (throttled), a new e-mail or phone counts only once the code the OTP service
// delivered to it comes back, and the old destination is told (both read from the sender's
// outbox). Password, role and deletion changes end the user's sessions in every service.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using ::grpc::StatusCode;
using testing::Cluster;

std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
  return testing::NewContext(token);
}

// TALLY_E2E_TLS (account_security_tls_test): mutual TLS on every hop, so the credential
// service's calls to policy and OTP present its certificate (API.md "Cluster callers").
#ifdef TALLY_E2E_TLS
constexpr bool kTls = true;
#else
constexpr bool kTls = false;
#endif

class AccountSecurityTest : public testing::ClusterTest<AccountSecurityTest> {
 public:
  static testing::ClusterOptions Options() {
    testing::ClusterOptions options;
    options.tls = kTls;
    return options;
  }

 protected:
  // A fresh session of `user` (password + SMS).
  std::string Login(const std::string& dir, const Cluster::User& user) {
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir, user);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }
  // A token of `user` whose login was proven `age` ago, signed with the cluster's key.
  std::string TokenProvenAgo(const std::string& dir, const std::string& user_id,
                             std::vector<std::string> roles, absl::Duration age) {
    return cluster().keys().Token({.directory_id = dir,
                                   .user_id = user_id,
                                   .roles = std::move(roles),
                                   .auth_time = absl::Now() - age});
  }

  grpc::Status SetPassword(const std::string& token, const std::string& user_id,
                           const std::string& new_password,
                           const std::string& current_password = "") {
    credpb::SetPasswordRequest request;
    request.set_user_id(user_id);
    request.set_new_password(new_password);
    request.set_current_password(current_password);
    credpb::SetPasswordResponse response;
    return cluster().users().SetPassword(Context(token).get(), request, &response);
  }
  grpc::Status UpdateContact(const std::string& token, const std::string& user_id,
                             const std::string& email, const std::string& phone,
                             credpb::UpdateContactResponse* response) {
    credpb::UpdateContactRequest request;
    request.set_user_id(user_id);
    request.set_email(email);
    request.set_phone_number(phone);
    return cluster().users().UpdateContact(Context(token).get(), request, response);
  }
  grpc::Status Confirm(const std::string& token, const std::string& change_id,
                       const std::string& code, credpb::ConfirmContactChangeResponse* response) {
    credpb::ConfirmContactChangeRequest request;
    request.set_change_id(change_id);
    request.set_code(code);
    return cluster().users().ConfirmContactChange(Context(token).get(), request, response);
  }
  grpc::Status SetRoles(const std::string& token, const std::string& user_id,
                        std::vector<std::string> roles) {
    credpb::SetRolesRequest request;
    request.set_user_id(user_id);
    for (std::string& role : roles) request.add_roles(std::move(role));
    credpb::SetRolesResponse response;
    return cluster().users().SetRoles(Context(token).get(), request, &response);
  }
  grpc::Status DeleteUser(const std::string& token, const std::string& user_id) {
    credpb::DeleteUserRequest request;
    request.set_user_id(user_id);
    credpb::DeleteUserResponse response;
    return cluster().users().DeleteUser(Context(token).get(), request, &response);
  }
  // The directory's settings as `token` reads them (policy), with their etag.
  grpc::Status GetSettings(const std::string& token, const std::string& dir,
                           polpb::AuthSettings* settings) {
    polpb::GetAuthSettingsRequest request;
    request.set_directory_id(dir);
    polpb::GetAuthSettingsResponse response;
    grpc::Status s = cluster().policies().GetAuthSettings(Context(token).get(), request, &response);
    *settings = response.settings();
    return s;
  }
  grpc::Status UpdateSettings(const std::string& token, const polpb::AuthSettings& settings) {
    polpb::UpdateAuthSettingsRequest request;
    *request.mutable_settings() = settings;
    request.set_etag(settings.etag());
    polpb::UpdateAuthSettingsResponse response;
    return cluster().policies().UpdateAuthSettings(Context(token).get(), request, &response);
  }
  // Every service that takes tokens, asked with `token` of `user_id`: the codes they answer
  // (policy GetAuthSettings, credential GetUser, passkey ListPasskeys, orchestrator
  // ValidateSession). The OTP service takes no tokens.
  std::vector<StatusCode> EveryService(const std::string& token, const std::string& dir,
                                       const std::string& user_id) {
    polpb::AuthSettings settings;
    credpb::GetUserRequest get;
    get.set_user_id(user_id);
    credpb::GetUserResponse got;
    pkpb::ListPasskeysRequest list;
    list.set_user_id(user_id);
    pkpb::ListPasskeysResponse listed;
    return {GetSettings(token, dir, &settings).error_code(),
            cluster().users().GetUser(Context(token).get(), get, &got).error_code(),
            cluster().passkeys().ListPasskeys(Context(token).get(), list, &listed).error_code(),
            testing::ValidateSession(cluster().sessions(), token).error_code()};
  }
};

const std::vector<StatusCode> kAllOk(4, StatusCode::OK);
const std::vector<StatusCode> kAllDead(4, StatusCode::UNAUTHENTICATED);
// A plain user's live token: policy accepts it (a dead one is UNAUTHENTICATED there first) but
// shows the settings to admins only (API.md: GetAuthSettings "cluster, directory admin").
const std::vector<StatusCode> kUserOk = {StatusCode::PERMISSION_DENIED, StatusCode::OK,
                                         StatusCode::OK, StatusCode::OK};

// The OTP service's NOTICE_CONTACT_CHANGED text (no code in it).
bool IsChangeNotice(const std::string& text) {
  return absl::StrContains(text, "changed") && !absl::StrContains(text, "code is");
}

bool NeedsReauthentication(const grpc::Status& s) {
  return s.error_code() == StatusCode::FAILED_PRECONDITION &&
         ErrorReason(s) == reasons::kReauthenticationRequired;
}

TEST_F(AccountSecurityTest, AStaleTokenIsRefusedForEverySensitiveChangeAndAFreshOneAccepted) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ada = cluster().CreateUser(dir, "ada");
  const Cluster::User boss = cluster().CreateUser(dir, "boss", {"admin"});
  const std::string stale = TokenProvenAgo(dir, ada.id, {"user"}, absl::Minutes(10));
  const std::string stale_admin = TokenProvenAgo(dir, boss.id, {"admin"}, absl::Minutes(10));
  credpb::UpdateContactResponse updated;
  EXPECT_TRUE(NeedsReauthentication(
      SetPassword(stale, ada.id, "adas-new-password", testing::kClusterPassword)));
  EXPECT_TRUE(NeedsReauthentication(UpdateContact(stale, ada.id, "ada@new.example", ada.phone,
                                                  &updated)));
  EXPECT_TRUE(NeedsReauthentication(SetPassword(stale_admin, ada.id, "set-by-the-boss")));
  EXPECT_TRUE(NeedsReauthentication(
      UpdateContact(stale_admin, ada.id, "ada@boss.example", ada.phone, &updated)));
  EXPECT_TRUE(NeedsReauthentication(SetRoles(stale_admin, ada.id, {"admin"})));
  EXPECT_TRUE(NeedsReauthentication(DeleteUser(stale_admin, ada.id)));

  // ConfirmContactChange: asked with a fresh login, confirmed with a stale token.
  const std::string fresh = Login(dir, ada);
  const size_t mark = cluster().OutboxMark();
  const std::string new_email = absl::StrCat("ada-", testing::UniqueSuffix(), "@new.example");
  grpc::Status s = UpdateContact(fresh, ada.id, new_email, ada.phone, &updated);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  const std::string code = cluster().WaitForCode(mark, "email", new_email);
  ASSERT_FALSE(code.empty());
  credpb::ConfirmContactChangeResponse confirmed;
  EXPECT_TRUE(NeedsReauthentication(
      Confirm(stale, updated.pending_change_id(), code, &confirmed)));
  s = Confirm(fresh, updated.pending_change_id(), code, &confirmed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(confirmed.user().email(), new_email);
  s = SetPassword(fresh, ada.id, "adas-new-password", testing::kClusterPassword);
  EXPECT_TRUE(s.ok()) << testing::Describe(s);
}

TEST_F(AccountSecurityTest, TheUsersPasswordChangeNeedsTheCurrentPasswordAndGuessesAreThrottled) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User bea = cluster().CreateUser(dir, "bea");
  const std::string token = Login(dir, bea);
  EXPECT_EQ(SetPassword(token, bea.id, "beas-new-password").error_code(),
            StatusCode::PERMISSION_DENIED);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(SetPassword(token, bea.id, "beas-new-password", absl::StrCat("guess-", i))
                  .error_code(),
              StatusCode::PERMISSION_DENIED);
  }
  // The budget is spent: even the right password waits, and says for how long.
  grpc::Status throttled = SetPassword(token, bea.id, "beas-new-password",
                                       testing::kClusterPassword);
  EXPECT_EQ(throttled.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  const absl::Status details = FromGrpcStatus(throttled);
  ASSERT_TRUE(RetryDelayOf(details).has_value()) << testing::Describe(throttled);
  EXPECT_GT(*RetryDelayOf(details), absl::ZeroDuration());
  // Nothing changed: the old password still logs in.
  EXPECT_FALSE(Login(dir, bea).empty());
}

TEST_F(AccountSecurityTest, AContactChangeWaitsForTheCodeFromTheNewDestinationAndTellsTheOldOne) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User cy = cluster().CreateUser(dir, "cy");
  const std::string token = Login(dir, cy);
  credpb::UpdateContactResponse updated;
  // Two destinations in one call: refused, nothing sent.
  EXPECT_EQ(UpdateContact(token, cy.id, "cy@two.example", "+31600000001", &updated).error_code(),
            StatusCode::INVALID_ARGUMENT);

  const size_t mark = cluster().OutboxMark();
  const std::string new_email = absl::StrCat("cy-", testing::UniqueSuffix(), "@new.example");
  grpc::Status s = UpdateContact(token, cy.id, new_email, cy.phone, &updated);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  ASSERT_FALSE(updated.pending_change_id().empty());
  EXPECT_EQ(updated.user().email(), cy.email) << "nothing stored until the code comes back";
  const std::string code = cluster().WaitForCode(mark, "email", new_email);
  ASSERT_FALSE(code.empty()) << "no code reached the new destination";
  credpb::ConfirmContactChangeResponse confirmed;
  EXPECT_EQ(Confirm(token, updated.pending_change_id(), code == "000000" ? "111111" : "000000",
                    &confirmed)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  credpb::GetUserRequest get;
  get.set_user_id(cy.id);
  credpb::GetUserResponse got;
  ASSERT_TRUE(cluster().users().GetUser(Context(token).get(), get, &got).ok());
  EXPECT_EQ(got.user().email(), cy.email);
  s = Confirm(token, updated.pending_change_id(), code, &confirmed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(confirmed.user().email(), new_email);
  // The old address hears of it, through the OTP service's pipeline.
  const std::string notice = cluster().WaitForMessage(
      mark, "email", cy.email, [](const std::string& text) { return IsChangeNotice(text); });
  EXPECT_FALSE(notice.empty()) << "the old e-mail address was not told";
  EXPECT_EQ(Confirm(token, updated.pending_change_id(), code, &confirmed).error_code(),
            StatusCode::NOT_FOUND)
      << "single use";

  // A phone change: the code by SMS to the new number, the notice to the old one.
  const size_t phone_mark = cluster().OutboxMark();
  // Another Dutch mobile number (the same country as the cluster's users).
  const std::string new_phone = absl::StrCat(cy.phone[4] == '9' ? "+3168" : "+3169",
                                             cy.phone.substr(cy.phone.size() - 7));
  s = UpdateContact(token, cy.id, new_email, new_phone, &updated);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  const std::string sms_code = cluster().WaitForCode(phone_mark, "sms", new_phone);
  ASSERT_FALSE(sms_code.empty());
  s = Confirm(token, updated.pending_change_id(), sms_code, &confirmed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(confirmed.user().phone_number(), new_phone);
  EXPECT_FALSE(cluster()
                   .WaitForMessage(phone_mark, "sms", cy.phone,
                                   [](const std::string& text) { return IsChangeNotice(text); })
                   .empty())
      << "the old phone was not told";
}

TEST_F(AccountSecurityTest, PhonesOutsideTheDirectorysSmsCountriesAreRefused) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User dee = cluster().CreateUser(dir, "dee", {"admin"});
  const std::string token = Login(dir, dee);
  polpb::AuthSettings settings;
  ASSERT_TRUE(GetSettings(token, dir, &settings).ok());
  settings.clear_sms_allowed_country_codes();
  settings.add_sms_allowed_country_codes("31");
  grpc::Status s = UpdateSettings(token, settings);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  const Cluster::User eve = cluster().CreateUser(dir, "eve");
  credpb::UpdateContactResponse updated;
  // By an admin and by the user.
  EXPECT_EQ(UpdateContact(token, eve.id, eve.email, "+447700900123", &updated).error_code(),
            StatusCode::INVALID_ARGUMENT);
  const std::string eves = Login(dir, eve);
  EXPECT_EQ(UpdateContact(eves, eve.id, eve.email, "+447700900123", &updated).error_code(),
            StatusCode::INVALID_ARGUMENT);
  s = UpdateContact(token, eve.id, eve.email, "+31687654321", &updated);
  EXPECT_TRUE(s.ok()) << testing::Describe(s);
}

TEST_F(AccountSecurityTest, CreateUserInAnUnknownDirectoryIsNotFound) {
  credpb::CreateUserRequest request;
  request.set_directory_id("dir_nosuchdirectory");
  request.set_username("nobody");
  credpb::CreateUserResponse response;
  EXPECT_EQ(cluster()
                .users()
                .CreateUser(testing::NewContext("", cluster().platform_key()).get(), request,
                            &response)
                .error_code(),
            StatusCode::NOT_FOUND);
}

TEST_F(AccountSecurityTest, ADemotedAdminsOldTokenChangesNothingAnywhere) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User root = cluster().CreateUser(dir, "root", {"admin"});
  const Cluster::User fay = cluster().CreateUser(dir, "fay", {"admin"});
  const std::string roots = Login(dir, root);
  const std::string fays = Login(dir, fay);
  polpb::AuthSettings settings;
  ASSERT_TRUE(GetSettings(fays, dir, &settings).ok());
  grpc::Status s = SetRoles(roots, fay.id, {"user"});
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(UpdateSettings(fays, settings).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(SetRoles(fays, root.id, {"user"}).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(EveryService(fays, dir, fay.id), kAllDead);
  // A new login carries the new roles: a user, no longer an admin.
  const std::string again = Login(dir, fay);
  EXPECT_EQ(EveryService(again, dir, fay.id), kUserOk);
  EXPECT_EQ(SetRoles(again, root.id, {"user"}).error_code(), StatusCode::PERMISSION_DENIED);
}

TEST_F(AccountSecurityTest, APasswordChangeAndADeletionEndEveryTokenOfTheUserEverywhere) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User root = cluster().CreateUser(dir, "root", {"admin"});
  const Cluster::User gus = cluster().CreateUser(dir, "gus");
  const std::string roots = Login(dir, root);
  const std::string first = Login(dir, gus);
  const std::string second = Login(dir, gus);
  ASSERT_EQ(EveryService(first, dir, gus.id), kUserOk);
  grpc::Status s = SetPassword(second, gus.id, "guss-new-password", testing::kClusterPassword);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(EveryService(first, dir, gus.id), kAllDead);
  EXPECT_EQ(EveryService(second, dir, gus.id), kAllDead) << "the changing session too";
  EXPECT_EQ(EveryService(roots, dir, root.id), kAllOk) << "only the user's sessions end";

  // An admin's password reset too; then the deletion.
  Cluster::User renewed = gus;
  const std::string third = [&] {
    // The new password logs in (the cluster's login helper uses kClusterPassword: reset to it).
    EXPECT_TRUE(SetPassword(roots, gus.id, testing::kClusterPassword).ok());
    return Login(dir, renewed);
  }();
  ASSERT_EQ(EveryService(third, dir, gus.id), kUserOk);
  s = DeleteUser(roots, gus.id);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(EveryService(third, dir, gus.id), kAllDead);
  EXPECT_EQ(EveryService(roots, dir, root.id), kAllOk);
}

}  // namespace
}  // namespace tally
