// The real tally-policy binary against the real PostgreSQL of `tools/dev test`: every RPC through
// gRPC, who may call what, health, metrics, the drain on SIGTERM, and tallyctl.

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/postgres/migrations.h"
#include "common/postgres/pg_pool.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/policy/pg_policy_store.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace pb = ::tally::policy::v1;
using ::grpc::health::v1::HealthCheckResponse;
using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TOTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// tally-policy on free ports with its own schema and keys; the settings gauges are counted often
// so that a test sees a change soon.
testing::ServiceOptions PolicyServer(
    std::string postgres_url,
    const std::string& schema = absl::StrCat("policy_it_", testing::UniqueSuffix())) {
  return {.binary = "tally-policy",
          .flags = {absl::StrCat("--postgres_schema=", schema),
                    "--settings_metrics_interval=100ms"},
          .postgres_url = std::move(postgres_url),
          // Where revoked sessions are checked: required wherever tokens are taken.
          .redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL"),
          .drain_timeout = absl::Seconds(5)};
}

std::unique_ptr<grpc::ClientContext> Anonymous() { return testing::NewContext(); }

class PolicyServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started;
    directories_ = pb::DirectoryService::NewStub(server_.channel());
    policy_ = pb::PolicyService::NewStub(server_.channel());
  }

  std::unique_ptr<grpc::ClientContext> AsPlatform() {
    return testing::NewContext("", server_.keys().platform_key());
  }
  std::string Token(const std::string& directory, const std::string& user,
                    std::vector<std::string> roles) {
    return server_.keys().Token(
        {.directory_id = directory, .user_id = user, .roles = std::move(roles)});
  }

  std::string CreateDirectory(pb::Tier tier) {
    pb::CreateDirectoryRequest request;
    request.set_display_name("Acme Integration");
    request.set_tier(tier);
    pb::CreateDirectoryResponse response;
    const grpc::Status status = directories_->CreateDirectory(AsPlatform().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.directory().directory_id();
  }

  pb::AuthSettings Settings(const std::string& dir) {
    pb::GetAuthSettingsRequest request;
    request.set_directory_id(dir);
    pb::GetAuthSettingsResponse response;
    EXPECT_TRUE(policy_->GetAuthSettings(Anonymous().get(), request, &response).ok());
    return response.settings();
  }

  static pb::UpdateAuthSettingsRequest Update(const std::string& dir, int required, int pwd,
                                              int sms, int email, int passkey) {
    pb::UpdateAuthSettingsRequest request;
    request.mutable_settings()->set_directory_id(dir);
    request.mutable_settings()->set_required_level(required);
    const std::pair<common::v1::AuthMethod, int> points[] = {{AUTH_METHOD_PASSWORD, pwd},
                                                             {AUTH_METHOD_SMS_OTP, sms},
                                                             {AUTH_METHOD_EMAIL_OTP, email},
                                                             {AUTH_METHOD_PASSKEY, passkey}};
    for (auto [method, p] : points) {
      auto* mp = request.mutable_settings()->add_method_points();
      mp->set_method(method);
      mp->set_points(p);
    }
    return request;
  }

  testing::ServiceProcess server_{
      PolicyServer(testing::RequiredEnv("TALLY_TEST_POSTGRES_URL"))};
  std::unique_ptr<pb::DirectoryService::Stub> directories_;
  std::unique_ptr<pb::PolicyService::Stub> policy_;
};

TEST_F(PolicyServerTest, DirectoryLifecycleThroughGrpc) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  ASSERT_FALSE(dir.empty());
  pb::GetDirectoryRequest get;
  get.set_directory_id(dir);
  pb::GetDirectoryResponse got;
  ASSERT_TRUE(directories_->GetDirectory(Anonymous().get(), get, &got).ok());
  EXPECT_EQ(got.directory().display_name(), "Acme Integration");
  EXPECT_EQ(got.directory().tier(), pb::TIER_FREEMIUM);
  EXPECT_GT(got.directory().create_time().seconds(), 0);

  const pb::AuthSettings settings = Settings(dir);
  EXPECT_EQ(settings.required_level(), 30);
  ASSERT_EQ(settings.method_points_size(), 7);  // every method, TOTP and the others included
  EXPECT_EQ(settings.method_points(0).points(), 20);

  pb::ListDirectoriesRequest list;
  list.set_page_size(500);
  pb::ListDirectoriesResponse listed;
  ASSERT_TRUE(directories_->ListDirectories(AsPlatform().get(), list, &listed).ok());
  EXPECT_THAT(listed.directories(), ::testing::Contains(::testing::Property(
                                        &pb::Directory::directory_id, dir)));

  get.set_directory_id("dir_doesnotexist");
  EXPECT_EQ(directories_->GetDirectory(Anonymous().get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(PolicyServerTest, WhoMayCall) {
  const std::string dir = CreateDirectory(pb::TIER_PROFESSIONAL);
  const std::string other = CreateDirectory(pb::TIER_PROFESSIONAL);
  pb::CreateDirectoryRequest create;
  create.set_display_name("x");
  create.set_tier(pb::TIER_FREEMIUM);
  pb::CreateDirectoryResponse created;
  EXPECT_EQ(directories_->CreateDirectory(Anonymous().get(), create, &created).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto wrong_key = Anonymous();
  wrong_key->AddMetadata("x-tally-platform-key", "not-the-platform-key");
  EXPECT_EQ(directories_->CreateDirectory(wrong_key.get(), create, &created).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  const auto request = Update(dir, 30, 20, 10, 10, 30);
  pb::UpdateAuthSettingsResponse updated;
  EXPECT_EQ(policy_->UpdateAuthSettings(Anonymous().get(), request, &updated).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(policy_
                ->UpdateAuthSettings(testing::NewContext("not.a.token").get(), request, &updated)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(policy_
                ->UpdateAuthSettings(
                    testing::NewContext(Token(other, "usr_a", {"admin"})).get(), request, &updated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(policy_
                ->UpdateAuthSettings(testing::NewContext(Token(dir, "usr_b", {"user"})).get(),
                                     request, &updated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status ok = policy_->UpdateAuthSettings(
      testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(), request, &updated);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(updated.settings().updated_by(), "user:usr_admin");
}

TEST_F(PolicyServerTest, EtagConcurrencyAndAuditTrail) {
  const std::string dir = CreateDirectory(pb::TIER_ENTERPRISE);
  const std::string etag = Settings(dir).etag();
  auto first = Update(dir, 30, 20, 10, 10, 30);
  first.set_etag(etag);
  pb::UpdateAuthSettingsResponse response;
  ASSERT_TRUE(policy_->UpdateAuthSettings(AsPlatform().get(), first, &response).ok());
  auto second = Update(dir, 25, 20, 5, 5, 0);
  second.set_etag(etag);  // stale now
  const grpc::Status stale = policy_->UpdateAuthSettings(AsPlatform().get(), second, &response);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Settings(dir).required_level(), 30);

  auto unsatisfiable = Update(dir, 90, 20, 10, 10, 30);
  EXPECT_EQ(policy_->UpdateAuthSettings(AsPlatform().get(), unsatisfiable, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  auto negative = Update(dir, 30, -1, 10, 10, 30);
  EXPECT_EQ(policy_->UpdateAuthSettings(AsPlatform().get(), negative, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  pb::ListAuditEventsRequest audit;
  audit.set_directory_id(dir);
  pb::ListAuditEventsResponse events;
  ASSERT_TRUE(policy_
                  ->ListAuditEvents(testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(),
                                    audit, &events)
                  .ok());
  ASSERT_EQ(events.events_size(), 2);  // creation and one update: failed updates left no trace
  EXPECT_EQ(events.events(0).actor(), "platform");
  EXPECT_EQ(events.events(0).before().required_level(), 20);
  EXPECT_EQ(events.events(0).after().required_level(), 30);
  EXPECT_EQ(events.events(0).before().etag(), etag);
  EXPECT_FALSE(events.events(1).has_before());

  audit.set_page_size(1);
  ASSERT_TRUE(policy_->ListAuditEvents(AsPlatform().get(), audit, &events).ok());
  ASSERT_EQ(events.events_size(), 1);
  ASSERT_FALSE(events.next_page_token().empty());
  audit.set_page_token(events.next_page_token());
  ASSERT_TRUE(policy_->ListAuditEvents(AsPlatform().get(), audit, &events).ok());
  ASSERT_EQ(events.events_size(), 1);
  EXPECT_FALSE(events.events(0).has_before());
  EXPECT_TRUE(events.next_page_token().empty());
}

TEST_F(PolicyServerTest, UnsatisfiableSettingsCarryTheReasonAndTheField) {
  // API.md "Errors carry details": a settings page shows the refusal by its reason and field.
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  pb::UpdateAuthSettingsResponse response;
  for (const pb::UpdateAuthSettingsRequest& request :
       {Update(dir, 90, 20, 10, 10, 30), Update(dir, 0, 20, 10, 10, 30)}) {
    const grpc::Status refused =
        policy_->UpdateAuthSettings(AsPlatform().get(), request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(ErrorReason(refused), "SETTINGS_UNSATISFIABLE");
    const auto violations = FieldViolationsOf(FromGrpcStatus(refused));
    ASSERT_EQ(violations.size(), 1u);
    EXPECT_EQ(violations[0].field(), "settings.required_level");
    EXPECT_EQ(violations[0].description(), refused.error_message());
  }
  // Malformed settings are INVALID_ARGUMENT without that reason.
  const grpc::Status negative =
      policy_->UpdateAuthSettings(AsPlatform().get(), Update(dir, 30, -1, 10, 10, 30), &response);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorReason(negative), "");

  // tallyctl shows the reason and the field.
  auto refused = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", server_.address()),
       "settings", "set", dir, "--required-level=500"},
      {{"TALLY_PLATFORM_KEY", server_.keys().platform_key()}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output,
              HasSubstr("(reason SETTINGS_UNSATISFIABLE, field settings.required_level)"));
}

TEST_F(PolicyServerTest, EvaluateFollowsTheCurrentSettings) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  pb::EvaluateRequest evaluate;
  evaluate.set_directory_id(dir);
  evaluate.add_completed_methods(AUTH_METHOD_SMS_OTP);
  evaluate.add_completed_methods(AUTH_METHOD_EMAIL_OTP);
  pb::EvaluateResponse result;
  ASSERT_TRUE(policy_->Evaluate(Anonymous().get(), evaluate, &result).ok());
  EXPECT_EQ(result.score(), 20);
  EXPECT_FALSE(result.satisfied());
  evaluate.add_completed_methods(AUTH_METHOD_PASSWORD);
  ASSERT_TRUE(policy_->Evaluate(Anonymous().get(), evaluate, &result).ok());
  EXPECT_EQ(result.score(), 40);
  EXPECT_TRUE(result.satisfied());
  // What is left of the Freemium defaults; a remembered device is never offered.
  ASSERT_EQ(result.offered_methods_size(), 3);
  EXPECT_EQ(result.offered_methods(0).method(), AUTH_METHOD_PASSKEY);
  EXPECT_EQ(result.offered_methods(1).method(), AUTH_METHOD_TOTP);
  EXPECT_EQ(result.offered_methods(2).method(), AUTH_METHOD_RECOVERY_CODE);

  evaluate.add_completed_methods(static_cast<common::v1::AuthMethod>(12345));
  EXPECT_EQ(policy_->Evaluate(Anonymous().get(), evaluate, &result).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PolicyServerTest, MetricsCountRpcsByMethodAndCode) {
  CreateDirectory(pb::TIER_FREEMIUM);
  pb::GetDirectoryRequest get;
  get.set_directory_id("dir_missing");
  pb::GetDirectoryResponse got;
  directories_->GetDirectory(Anonymous().get(), get, &got);
  auto body = testing::HttpGet(server_.metrics_port(), "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"/"
                               "tally.policy.v1.DirectoryService/CreateDirectory\"} 1"));
  EXPECT_THAT(*body, HasSubstr("grpc_server_handled_total{grpc_code=\"NOT_FOUND\",grpc_method="
                               "\"/tally.policy.v1.DirectoryService/GetDirectory\"} 1"));
  EXPECT_THAT(*body, HasSubstr("grpc_server_handling_seconds_bucket"));
  EXPECT_THAT(*body, HasSubstr("tally_store_up{store=\"postgres\"} 1"));
}

TEST_F(PolicyServerTest, ServesReflection) {
  namespace reflection = ::grpc::reflection::v1alpha;
  auto stub = reflection::ServerReflection::NewStub(server_.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  reflection::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"tally.policy.v1.DirectoryService",
                                              "tally.policy.v1.PolicyService",
                                              "grpc.health.v1.Health"}));
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(PolicyServerTest, ServesHealthAndDrainsOnSigterm) {
  EXPECT_EQ(server_.Health(), HealthCheckResponse::SERVING);
  server_.process().Signal(SIGTERM);
  auto code = server_.process().Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << "did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << server_.process().Output();
  EXPECT_THAT(server_.process().Output(), HasSubstr("draining"));
}

TEST_F(PolicyServerTest, TallyctlCreatesADirectoryAndShowsItsSettings) {
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::map<std::string, std::string> env = {{"TALLY_PLATFORM_KEY", server_.keys().platform_key()}};
  const std::string addr = absl::StrCat("--addr=", server_.address());
  auto created = testing::RunCommand(
      {tallyctl, addr, "--json", "directory", "create", "--name", "Ctl Corp", "--tier",
       "explorer"},
      env);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const size_t at = created.output.find("\"directory_id\": \"");
  ASSERT_NE(at, std::string::npos) << created.output;
  const size_t start = at + std::string("\"directory_id\": \"").size();
  const std::string dir = created.output.substr(start, created.output.find('"', start) - start);

  auto shown = testing::RunCommand({tallyctl, addr, "settings", "get", dir}, env);
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("required level  30"));
  EXPECT_THAT(shown.output, HasSubstr("password 20, sms 10, email 10, passkey 30"));

  auto set = testing::RunCommand({tallyctl, addr, "settings", "set", dir, "--required-level=25",
                                  "--sms=5", "--email=5", "--passkey=0"},
                                 env);
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("required level 25"));
  auto audit = testing::RunCommand({tallyctl, addr, "settings", "audit", dir}, env);
  ASSERT_EQ(audit.exit_code, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("platform"));

  auto denied = testing::RunCommand({tallyctl, addr, "directory", "list"}, {});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.output, HasSubstr("UNAUTHENTICATED"));

  // A plain user's token reads no settings (API.md: "cluster, directory admin"); the error says
  // who may. The directory's admin reads them.
  auto user = testing::RunCommand({tallyctl, addr, "settings", "get", dir},
                                  {{"TALLY_TOKEN", Token(dir, "usr_alice", {"user"})}});
  EXPECT_EQ(user.exit_code, 1) << user.output;
  EXPECT_THAT(user.output, HasSubstr("tallyctl: PERMISSION_DENIED: caller is not an admin of directory"));
  EXPECT_THAT(user.output, HasSubstr("for its admins' tokens and the platform key"));
  auto admin = testing::RunCommand({tallyctl, addr, "settings", "get", dir},
                                   {{"TALLY_TOKEN", Token(dir, "usr_admin", {"admin"})}});
  EXPECT_EQ(admin.exit_code, 0) << admin.output;
  EXPECT_THAT(admin.output, HasSubstr("required level  25"));
  auto bad = testing::RunCommand({tallyctl, addr, "directory", "frobnicate"}, env);
  EXPECT_EQ(bad.exit_code, 2);
}

// ---- The points model of the v1 additions (issues 20-22) through the real binary.

std::vector<std::string> Codes(const pb::AuthSettings& settings) {
  return {settings.sms_allowed_country_codes().begin(), settings.sms_allowed_country_codes().end()};
}

void AddPoints(pb::UpdateAuthSettingsRequest& request, common::v1::AuthMethod method, int points) {
  auto* mp = request.mutable_settings()->add_method_points();
  mp->set_method(method);
  mp->set_points(points);
}

int Points(const pb::AuthSettings& settings, common::v1::AuthMethod method) {
  for (const auto& mp : settings.method_points()) {
    if (mp.method() == method) return mp.points();
  }
  return -1;  // absent: responses list every method
}

TEST_F(PolicyServerTest, NewMethodsTakeTheTierDefaultsAndGetAuthSettingsShowsThem) {
  struct Row {
    pb::Tier tier;
    int level, password, sms, email, passkey, totp, recovery, device;
  };
  for (const Row& row : {Row{pb::TIER_EXPLORER, 30, 20, 10, 10, 30, 10, 10, 10},
                         Row{pb::TIER_ENTERPRISE, 20, 20, 0, 0, 30, 0, 0, 0}}) {
    const std::string dir = CreateDirectory(row.tier);
    pb::GetAuthSettingsRequest get;
    get.set_directory_id(dir);
    pb::GetAuthSettingsResponse got;
    ASSERT_TRUE(
        policy_->GetAuthSettings(testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(), get,
                                 &got)
            .ok());
    for (const pb::AuthSettings* s : {&got.settings(), &got.tier_defaults()}) {
      EXPECT_EQ(s->required_level(), row.level);
      EXPECT_EQ(Points(*s, AUTH_METHOD_PASSWORD), row.password);
      EXPECT_EQ(Points(*s, AUTH_METHOD_SMS_OTP), row.sms);
      EXPECT_EQ(Points(*s, AUTH_METHOD_EMAIL_OTP), row.email);
      EXPECT_EQ(Points(*s, AUTH_METHOD_PASSKEY), row.passkey);
      EXPECT_EQ(Points(*s, AUTH_METHOD_TOTP), row.totp);
      EXPECT_EQ(Points(*s, AUTH_METHOD_RECOVERY_CODE), row.recovery);
      EXPECT_EQ(Points(*s, AUTH_METHOD_TRUSTED_DEVICE), row.device);
      EXPECT_EQ(s->trusted_device_max_age().seconds(), 30 * 24 * 3600);
      EXPECT_TRUE(s->sms_allowed_country_codes().empty());
    }
    EXPECT_TRUE(got.tier_defaults().etag().empty());
    // The defaults stay the tier's whatever the settings become.
    auto update = Update(dir, 40, 20, 10, 10, 30);
    update.set_etag(got.settings().etag());
    pb::UpdateAuthSettingsResponse updated;
    ASSERT_TRUE(policy_->UpdateAuthSettings(AsPlatform().get(), update, &updated).ok());
    ASSERT_TRUE(policy_->GetAuthSettings(Anonymous().get(), get, &got).ok());
    EXPECT_EQ(got.settings().required_level(), 40);
    EXPECT_EQ(got.tier_defaults().required_level(), row.level);
  }
}

TEST_F(PolicyServerTest, EachRuleRefusesWithItsReasonAndField) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  const std::string etag = Settings(dir).etag();
  auto unsatisfiable = Update(dir, 40, 0, 10, 10, 0);  // the device cannot count without an anchor
  AddPoints(unsatisfiable, AUTH_METHOD_TOTP, 10);
  AddPoints(unsatisfiable, AUTH_METHOD_TRUSTED_DEVICE, 10);
  auto new_user = Update(dir, 30, 20, 0, 0, 30);  // TOTP as the only second factor
  AddPoints(new_user, AUTH_METHOD_TOTP, 10);
  auto device_alone = Update(dir, 20, 20, 10, 10, 30);
  AddPoints(device_alone, AUTH_METHOD_TRUSTED_DEVICE, 25);  // listed fifth: index 4
  struct Case {
    pb::UpdateAuthSettingsRequest request;
    std::string reason, field;
  };
  for (const Case& c :
       {Case{unsatisfiable, "SETTINGS_UNSATISFIABLE", "settings.required_level"},
        Case{new_user, "SETTINGS_NEW_USER_LOCKED_OUT", "settings.required_level"},
        Case{device_alone, "SETTINGS_DEVICE_ALONE", "settings.method_points[4].points"}}) {
    pb::UpdateAuthSettingsResponse response;
    const grpc::Status refused = policy_->UpdateAuthSettings(
        testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(), c.request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << c.reason;
    EXPECT_EQ(ErrorReason(refused), c.reason) << refused.error_message();
    const auto violations = FieldViolationsOf(FromGrpcStatus(refused));
    ASSERT_EQ(violations.size(), 1u) << c.reason;
    EXPECT_EQ(violations[0].field(), c.field);
  }
  // With the password on, the device counts beside it (rule 4) and new users reach 40 (4b).
  auto fine = Update(dir, 40, 20, 10, 10, 0);
  AddPoints(fine, AUTH_METHOD_TOTP, 10);
  AddPoints(fine, AUTH_METHOD_TRUSTED_DEVICE, 10);
  EXPECT_EQ(Settings(dir).etag(), etag);  // nothing refused was stored
  pb::UpdateAuthSettingsResponse response;
  const grpc::Status ok = policy_->UpdateAuthSettings(AsPlatform().get(), fine, &response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // tallyctl prints the reason and the field of a refusal.
  auto refused = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", server_.address()),
       "settings", "set", dir, "--required_level=20", "--trusted_device=20"},
      {{"TALLY_PLATFORM_KEY", server_.keys().platform_key()}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("(reason SETTINGS_DEVICE_ALONE, field "
                                        "settings.method_points[6].points)"));
}

TEST_F(PolicyServerTest, TrustedDeviceMaxAgeIsStoredAuditedAndLimited) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  pb::UpdateAuthSettingsResponse response;
  auto at_limit = Update(dir, 30, 20, 10, 10, 30);
  at_limit.mutable_settings()->mutable_trusted_device_max_age()->set_seconds(400 * 24 * 3600);
  ASSERT_TRUE(policy_->UpdateAuthSettings(AsPlatform().get(), at_limit, &response).ok());
  EXPECT_EQ(response.settings().trusted_device_max_age().seconds(), 400 * 24 * 3600);
  EXPECT_EQ(Settings(dir).trusted_device_max_age().seconds(), 400 * 24 * 3600);

  for (int64_t seconds : {int64_t{400} * 24 * 3600 + 1, int64_t{0}, int64_t{-60}}) {
    auto bad = Update(dir, 30, 20, 10, 10, 30);
    bad.mutable_settings()->mutable_trusted_device_max_age()->set_seconds(seconds);
    const grpc::Status refused = policy_->UpdateAuthSettings(AsPlatform().get(), bad, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << seconds;
    const auto violations = FieldViolationsOf(FromGrpcStatus(refused));
    ASSERT_EQ(violations.size(), 1u) << seconds;
    EXPECT_EQ(violations[0].field(), "settings.trusted_device_max_age");
  }
  // Unset: the default again (replace semantics), and the audit holds both.
  ASSERT_TRUE(policy_->UpdateAuthSettings(AsPlatform().get(), Update(dir, 30, 20, 10, 10, 30),
                                          &response)
                  .ok());
  EXPECT_EQ(Settings(dir).trusted_device_max_age().seconds(), 30 * 24 * 3600);
  pb::ListAuditEventsRequest audit;
  audit.set_directory_id(dir);
  pb::ListAuditEventsResponse events;
  ASSERT_TRUE(policy_->ListAuditEvents(AsPlatform().get(), audit, &events).ok());
  ASSERT_EQ(events.events_size(), 3);
  EXPECT_EQ(events.events(0).before().trusted_device_max_age().seconds(), 400 * 24 * 3600);
  EXPECT_EQ(events.events(0).after().trusted_device_max_age().seconds(), 30 * 24 * 3600);
  EXPECT_EQ(events.events(1).after().trusted_device_max_age().seconds(), 400 * 24 * 3600);

  // tallyctl takes days and shows them.
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", server_.address());
  const std::map<std::string, std::string> env = {{"TALLY_PLATFORM_KEY", server_.keys().platform_key()}};
  auto set = testing::RunCommand(
      {tallyctl, addr, "settings", "set", dir, "--trusted_device_max_age=90d"}, env);
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("device max age 90d"));
  auto shown = testing::RunCommand({tallyctl, addr, "settings", "get", dir}, env);
  EXPECT_THAT(shown.output, HasSubstr("device max age  90d"));
  auto too_long = testing::RunCommand(
      {tallyctl, addr, "settings", "set", dir, "--trusted_device_max_age=401d"}, env);
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_THAT(too_long.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(too_long.output, HasSubstr("field settings.trusted_device_max_age"));
}

TEST_F(PolicyServerTest, SmsCountryCodesAreCheckedStoredAuditedAndReplaced) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  pb::GetAuthSettingsResponse current;
  ASSERT_TRUE(policy_->GetAuthSettings(Anonymous().get(), get, &current).ok());

  // Read, modify, write with the etag.
  pb::UpdateAuthSettingsRequest update;
  *update.mutable_settings() = current.settings();
  update.mutable_settings()->add_sms_allowed_country_codes("31");
  update.mutable_settings()->add_sms_allowed_country_codes("1");
  update.set_etag(current.settings().etag());
  pb::UpdateAuthSettingsResponse response;
  const grpc::Status ok = policy_->UpdateAuthSettings(
      testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(), update, &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_THAT(Codes(response.settings()), ElementsAre("31", "1"));
  EXPECT_THAT(Codes(Settings(dir)), ElementsAre("31", "1"));
  // The earlier read's etag is stale now: a concurrent editor cannot drop the list unseen.
  pb::UpdateAuthSettingsRequest stale = update;
  stale.mutable_settings()->clear_sms_allowed_country_codes();
  EXPECT_EQ(policy_->UpdateAuthSettings(AsPlatform().get(), stale, &response).error_code(),
            grpc::StatusCode::ABORTED);

  for (const char* bad : {"+31", "031", "999", "1234", "", "3x"}) {
    pb::UpdateAuthSettingsRequest refused_update = update;
    refused_update.clear_etag();
    refused_update.mutable_settings()->add_sms_allowed_country_codes(bad);
    const grpc::Status refused =
        policy_->UpdateAuthSettings(AsPlatform().get(), refused_update, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    const auto violations = FieldViolationsOf(FromGrpcStatus(refused));
    ASSERT_EQ(violations.size(), 1u) << bad;
    EXPECT_EQ(violations[0].field(), "settings.sms_allowed_country_codes[2]");
  }
  EXPECT_THAT(Codes(Settings(dir)), ElementsAre("31", "1"));

  pb::ListAuditEventsRequest audit;
  audit.set_directory_id(dir);
  pb::ListAuditEventsResponse events;
  ASSERT_TRUE(policy_->ListAuditEvents(AsPlatform().get(), audit, &events).ok());
  ASSERT_EQ(events.events_size(), 2);
  EXPECT_TRUE(events.events(0).before().sms_allowed_country_codes().empty());
  EXPECT_THAT(Codes(events.events(0).after()), ElementsAre("31", "1"));

  // tallyctl: shown, replaced, and "all" empties the list.
  const std::string tallyctl = absl::StrCat(testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", server_.address());
  const std::map<std::string, std::string> env = {{"TALLY_PLATFORM_KEY", server_.keys().platform_key()}};
  auto shown = testing::RunCommand({tallyctl, addr, "settings", "get", dir}, env);
  EXPECT_THAT(shown.output, HasSubstr("sms countries   31, 1"));
  EXPECT_THAT(shown.output, HasSubstr("tier defaults   required level 30; password 20, sms 10, "
                                      "email 10, passkey 30, totp 10, recovery_code 10, "
                                      "trusted_device 10; device max age 30d; sms countries all"));
  auto set = testing::RunCommand(
      {tallyctl, addr, "settings", "set", dir, "--sms_countries=+32, 49"}, env);
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(Codes(Settings(dir)), ElementsAre("32", "49"));
  set = testing::RunCommand({tallyctl, addr, "settings", "set", dir, "--sms_countries=all"}, env);
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("sms countries all"));
  EXPECT_TRUE(Settings(dir).sms_allowed_country_codes().empty());
}

TEST_F(PolicyServerTest, GetDirectoryForItsOwnAdmins) {
  const std::string dir = CreateDirectory(pb::TIER_EXPLORER);
  const std::string other = CreateDirectory(pb::TIER_EXPLORER);
  pb::GetDirectoryRequest get;
  get.set_directory_id(dir);
  pb::GetDirectoryResponse got;
  const grpc::Status own =
      directories_->GetDirectory(testing::NewContext(Token(dir, "usr_admin", {"admin"})).get(),
                                 get, &got);
  ASSERT_TRUE(own.ok()) << own.error_message();
  EXPECT_EQ(got.directory().directory_id(), dir);
  EXPECT_EQ(got.directory().tier(), pb::TIER_EXPLORER);
  ASSERT_TRUE(directories_->GetDirectory(AsPlatform().get(), get, &got).ok());
  EXPECT_EQ(directories_
                ->GetDirectory(testing::NewContext(Token(other, "usr_boss", {"admin"})).get(), get,
                               &got)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(directories_
                ->GetDirectory(testing::NewContext(Token(dir, "usr_alice", {"user"})).get(), get,
                               &got)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// The gauge an alert on SMS pumping uses: directories whose SMS may go to every country.
TEST_F(PolicyServerTest, MetricCountsDirectoriesThatLetSmsGoEverywhere) {
  const auto gauge = [this](const std::string& sms) -> std::string {
    auto body = testing::HttpGet(server_.metrics_port(), "/metrics");
    if (!body.ok()) return "";
    const std::string name =
        absl::StrCat("tally_policy_sms_countries_unrestricted{sms=\"", sms, "\"} ");
    const size_t at = body->find(name);
    if (at == std::string::npos) return "";
    return body->substr(at + name.size(), body->find('\n', at) - at - name.size());
  };
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);  // SMS on, every country
  CreateDirectory(pb::TIER_PROFESSIONAL);                       // SMS off, every country
  // Both at once: a count taken between the two creations shows enabled 1 and disabled 0.
  EXPECT_TRUE(testing::WaitFor(
      [&] { return gauge("enabled") == "1" && gauge("disabled") == "1"; }, absl::Seconds(10)))
      << gauge("enabled") << " " << gauge("disabled");

  auto update = Update(dir, 30, 20, 10, 10, 30);
  update.mutable_settings()->add_sms_allowed_country_codes("31");
  pb::UpdateAuthSettingsResponse response;
  ASSERT_TRUE(policy_->UpdateAuthSettings(AsPlatform().get(), update, &response).ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] { return gauge("enabled") == "0" && gauge("disabled") == "1"; }, absl::Seconds(10)))
      << gauge("enabled") << " " << gauge("disabled");
}

// A production upgrade: a directory stored before migration 2 reads the new methods as off, so
// nobody's login changes (a remembered device worth 10 would let password + device in without
// the code these settings demand); the tier's defaults show what a new directory gets.
TEST(PolicyServerUpgradeTest, DirectoriesStoredBeforeTheNewMethodsReadThemAsOff) {
  const std::string url = testing::RequiredEnv("TALLY_TEST_POSTGRES_URL");
  const std::string schema = absl::StrCat("policy_up_", testing::UniqueSuffix());
  {
    PgOptions options;
    options.url = url;
    options.pool_size = 1;
    PgPool pool(options);
    // The schema as the binary before the new methods left it: migration 1 and a row of it.
    const Migration first = policy::PgPolicyStore::Migrations().front();
    ASSERT_EQ(first.version, 1);
    ASSERT_TRUE(Migrate(pool, schema, {first}).ok());
    const absl::Status stored = pool.Transact([&](pqxx::work& tx) -> absl::Status {
      tx.exec0(absl::StrCat("INSERT INTO \"", schema,
                            "\".directories (directory_id, display_name, tier, create_time) "
                            "VALUES ('dir_old', 'Old', 1, now())"));
      tx.exec0(absl::StrCat("INSERT INTO \"", schema,
                            "\".auth_settings (directory_id, required_level, password_points, "
                            "sms_points, email_points, passkey_points, etag, updated_by, "
                            "update_time) VALUES ('dir_old', 30, 20, 10, 10, 30, 'etag_old', "
                            "'platform', now())"));
      return absl::OkStatus();
    });
    ASSERT_TRUE(stored.ok()) << stored;
  }

  testing::ServiceProcess server(PolicyServer(url, schema));
  const absl::Status up = server.Start();
  ASSERT_TRUE(up.ok()) << up;
  auto policy = pb::PolicyService::NewStub(server.channel());
  pb::GetAuthSettingsRequest get;
  get.set_directory_id("dir_old");
  pb::GetAuthSettingsResponse got;
  const grpc::Status read = policy->GetAuthSettings(Anonymous().get(), get, &got);
  ASSERT_TRUE(read.ok()) << read.error_message() << server.process().Output();
  const pb::AuthSettings& settings = got.settings();
  EXPECT_EQ(settings.etag(), "etag_old");
  EXPECT_EQ(settings.required_level(), 30);
  EXPECT_EQ(Points(settings, AUTH_METHOD_PASSWORD), 20);
  EXPECT_EQ(Points(settings, AUTH_METHOD_SMS_OTP), 10);
  EXPECT_EQ(Points(settings, AUTH_METHOD_TOTP), 0);
  EXPECT_EQ(Points(settings, AUTH_METHOD_RECOVERY_CODE), 0);
  EXPECT_EQ(Points(settings, AUTH_METHOD_TRUSTED_DEVICE), 0);
  EXPECT_EQ(settings.trusted_device_max_age().seconds(), 30 * 24 * 3600);
  EXPECT_TRUE(settings.sms_allowed_country_codes().empty());
  EXPECT_EQ(Points(got.tier_defaults(), AUTH_METHOD_TRUSTED_DEVICE), 10);

  pb::EvaluateRequest evaluate;
  evaluate.set_directory_id("dir_old");
  evaluate.add_completed_methods(AUTH_METHOD_PASSWORD);
  evaluate.add_completed_methods(AUTH_METHOD_TRUSTED_DEVICE);
  pb::EvaluateResponse result;
  ASSERT_TRUE(policy->Evaluate(Anonymous().get(), evaluate, &result).ok());
  EXPECT_EQ(result.score(), 20);
  EXPECT_FALSE(result.satisfied());
}

TEST(PolicyServerConfigTest, BadConfigurationExitsWithCodeTwoAndOneLine) {
  const std::string binary = absl::StrCat(testing::BinDir(), "/tally-policy");
  auto no_db = testing::RunCommand(
      {binary, absl::StrCat("--listen=127.0.0.1:", testing::FreePort())}, {{"TALLY_POSTGRES_URL", ""}});
  EXPECT_EQ(no_db.exit_code, 2);
  EXPECT_THAT(no_db.output, HasSubstr("invalid configuration: --postgres_url is required"));
  auto bad_flag = testing::RunCommand({binary, "--no_such_flag=1"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_EQ(std::count(bad_flag.output.begin(), bad_flag.output.end(), '\n'), 1)
      << bad_flag.output;
  auto bad_value = testing::RunCommand({binary, "--drain_timeout=soon"});
  EXPECT_EQ(bad_value.exit_code, 2);
  auto short_key = testing::RunCommand(
      {binary, "--postgres_url=postgresql://x@127.0.0.1:1/x", "--platform_key=short"});
  EXPECT_EQ(short_key.exit_code, 2);
  EXPECT_THAT(short_key.output, ::testing::Not(HasSubstr("short\n")));
}

// Health follows PostgreSQL: a private PostgreSQL is stopped and started under a running server.
TEST(PolicyServerHealthTest, NotServingWhilePostgresIsDownAndServingWhenItReturns) {
  testing::TempDir dir;
  const std::string dev = absl::StrCat(testing::SourceDir(), "/tools/dev");
  const std::string pg_dir = absl::StrCat(dir.path(), "/pg");
  const int pg_port = testing::FreePort();
  auto started = testing::RunCommand({"/bin/bash", dev, "pg-start", pg_dir, std::to_string(pg_port)});
  ASSERT_EQ(started.exit_code, 0) << started.output;
  struct StopPg {
    std::string dev, dir;
    ~StopPg() { testing::RunCommand({"/bin/bash", dev, "pg-stop", dir}); }
  } stop_pg{dev, pg_dir};

  testing::ServiceProcess server(
      PolicyServer(absl::StrCat("postgresql://postgres@127.0.0.1:", pg_port, "/postgres")));
  const absl::Status up = server.Start();
  ASSERT_TRUE(up.ok()) << up;
  auto directories = pb::DirectoryService::NewStub(server.channel());
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server.Health() == HealthCheckResponse::SERVING; }, absl::Seconds(10)));

  ASSERT_EQ(testing::RunCommand({"/bin/bash", dev, "pg-stop", pg_dir}).exit_code, 0);
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server.Health() == HealthCheckResponse::NOT_SERVING; },
      absl::Seconds(15)));
  pb::CreateDirectoryRequest create;
  create.set_display_name("During outage");
  create.set_tier(pb::TIER_FREEMIUM);
  pb::CreateDirectoryResponse created;
  EXPECT_EQ(directories->CreateDirectory(testing::NewContext("", server.keys().platform_key()).get(),
                                        create, &created)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);

  auto restarted = testing::RunCommand({"/bin/bash", dev, "pg-start", pg_dir, std::to_string(pg_port)});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
  EXPECT_TRUE(testing::WaitFor(
      [&] { return server.Health() == HealthCheckResponse::SERVING; }, absl::Seconds(15)));
  EXPECT_TRUE(
      directories
          ->CreateDirectory(testing::NewContext("", server.keys().platform_key()).get(), create,
                            &created)
          .ok());
  EXPECT_TRUE(server.process().running());
}

}  // namespace
}  // namespace tally
