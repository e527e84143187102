// The real tally-policy binary against the real PostgreSQL of `tools/dev test`: every RPC through
// gRPC, who may call what, health, metrics, the drain on SIGTERM, and tallyctl.

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {
namespace {

namespace pb = ::tally::policy::v1;
using ::grpc::health::v1::HealthCheckResponse;
using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::testing::HasSubstr;

// tally-policy on free ports with its own schema and keys.
testing::ServiceOptions PolicyServer(std::string postgres_url) {
  return {.binary = "tally-policy",
          .flags = {absl::StrCat("--postgres_schema=policy_it_", testing::UniqueSuffix())},
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
  ASSERT_EQ(settings.method_points_size(), 4);
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
  ASSERT_EQ(result.offered_methods_size(), 1);
  EXPECT_EQ(result.offered_methods(0).method(), AUTH_METHOD_PASSKEY);

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
  auto bad = testing::RunCommand({tallyctl, addr, "directory", "frobnicate"}, env);
  EXPECT_EQ(bad.exit_code, 2);
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
