// The example web app (examples/web-login, Node.js) in a real browser: the Tally cluster as
// processes (tests/cluster), the app on a free port whose origin the passkey service accepts,
// and headless Chromium driven by web_login_browser.js (puppeteer-core, a WebAuthn virtual
// authenticator). The script's exit code and output decide the test; its screenshots stay in a
// directory printed at the end.

#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/testing/test_claims.h"
#include "common/testing/test_keys.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tally/policy/v1/policy.grpc.pb.h"
#include "tests/cluster/cluster.h"

namespace tally {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

constexpr char kNode[] = "/usr/bin/node";
constexpr int64_t kDeviceMaxAgeSeconds = 90 * 24 * 3600;

// Where the screenshots go: $TALLY_BROWSER_SCREENSHOTS, else a directory that outlives the test
// (a person looks at them afterwards).
std::string ScreenshotDir() {
  if (const char* dir = std::getenv("TALLY_BROWSER_SCREENSHOTS"); dir != nullptr && *dir) {
    return dir;
  }
  return absl::StrCat(std::filesystem::temp_directory_path().string(), "/tally-browser-",
                      testing::UniqueSuffix());
}

TEST(WebLoginBrowserTest, SignInPasskeysAndTheAdminPortalInChromium) {
  const std::string web_dir = absl::StrCat(testing::SourceDir(), "/examples/web-login");
  // npm ci when node_modules is missing or stale (the same step `tools/dev up` takes).
  testing::CommandResult deps =
      testing::RunCommand({absl::StrCat(web_dir, "/install-deps")}, {}, absl::Minutes(5));
  ASSERT_EQ(deps.exit_code, 0) << deps.output;

  const int web_port = testing::FreePort();
  const std::string origin = absl::StrCat("http://localhost:", web_port);
  testing::TempDir temp;
  const std::string outbox = absl::StrCat(temp.path(), "/outbox.jsonl");
  ClusterOptions options;
  options.orchestrators = 1;
  // The browser's origin is the app's: the passkey service must accept it. The outbox is ours
  // to read from the script (later flags win).
  options.flags["passkey"] = {absl::StrCat("--rp_origins=", origin)};
  options.flags["otp-sender"] = {absl::StrCat("--otp_outbox_file=", outbox)};
  // A real resend cooldown, so the code page has one to count down.
  options.flags["otp"] = {"--otp_cooldown=30s"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());

  const std::string directory = cluster.CreateDirectory(policy::v1::TIER_FREEMIUM);
  ASSERT_FALSE(directory.empty());
  // The settings the script's arithmetic is written for (password 20, SMS 10, e-mail 10,
  // passkey 30 = 70 against level 30; the Freemium defaults also turn TOTP, recovery codes and
  // remembered devices on) and fields the portal's form does not show, which its save must keep.
  {
    policy::v1::UpdateAuthSettingsRequest update;
    policy::v1::AuthSettings* settings = update.mutable_settings();
    settings->set_directory_id(directory);
    settings->set_required_level(30);
    for (const auto& [method, points] : std::vector<std::pair<common::v1::AuthMethod, int>>{
             {common::v1::AUTH_METHOD_PASSWORD, 20},
             {common::v1::AUTH_METHOD_SMS_OTP, 10},
             {common::v1::AUTH_METHOD_EMAIL_OTP, 10},
             {common::v1::AUTH_METHOD_PASSKEY, 30}}) {
      common::v1::MethodPoints* mp = settings->add_method_points();
      mp->set_method(method);
      mp->set_points(points);
    }
    settings->add_sms_allowed_country_codes("31");  // the cluster's users have +31 numbers
    settings->mutable_trusted_device_max_age()->set_seconds(kDeviceMaxAgeSeconds);
    policy::v1::UpdateAuthSettingsResponse updated;
    const grpc::Status set = cluster.policies().UpdateAuthSettings(
        testing::NewContext("", cluster.platform_key()).get(), update, &updated);
    ASSERT_TRUE(set.ok()) << set.error_message();
  }
  nlohmann::json users = nlohmann::json::object();
  std::string stale_session;
  for (const auto& [name, roles] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"admin", {"admin"}}, {"alice", {"user"}}, {"bob", {"user"}}, {"dave", {"user"}}}) {
    Cluster::User user = cluster.CreateUser(directory, name, roles);
    ASSERT_FALSE(user.id.empty()) << name;
    users[name] = {{"username", user.username}, {"phone", user.phone}, {"email", user.email}};
    if (name == "alice") {
      // alice's session as if she had signed in a day ago (older than any --reauth_max_age):
      // the script puts it in the app's cookie to meet the reauth redirect without waiting.
      stale_session = cluster.keys().Token(testing::TokenSpec{
          .directory_id = directory,
          .user_id = user.id,
          .auth_time = absl::Now() - absl::Hours(24),
          .session_id = "ses_browser_stale"});
      ASSERT_FALSE(stale_session.empty());
    }
  }

  testing::Subprocess web;
  ASSERT_TRUE(web.Start({kNode, absl::StrCat(web_dir, "/server.js"),
                         absl::StrCat("--port=", web_port), absl::StrCat("--origin=", origin),
                         absl::StrCat("--directory_id=", directory),
                         absl::StrCat("--orchestrator_addr=", cluster.service("orchestrator-a").address()),
                         absl::StrCat("--policy_addr=", cluster.service("policy").address()),
                         absl::StrCat("--credential_addr=", cluster.service("credential").address()),
                         absl::StrCat("--passkey_addr=", cluster.service("passkey").address()),
                         absl::StrCat("--proto_dir=", testing::SourceDir(), "/proto")})
                  .ok());
  ASSERT_TRUE(testing::WaitFor([&] { return testing::HttpGet(web_port, "/healthz").ok(); },
                               absl::Seconds(60)))
      << web.Output();

  const std::string shots = ScreenshotDir();
  testing::CommandResult run = testing::RunCommand(
      {kNode, absl::StrCat(testing::SourceDir(), "/tests/browser/web_login_browser.js")},
      {{"WEB_URL", origin},
       {"WEB_LOGIN_DIR", web_dir},
       {"OUTBOX", outbox},
       {"USERS", users.dump()},
       {"PASSWORD", testing::kClusterPassword},
       {"STALE_SESSION", stale_session},
       {"SCREENSHOT_DIR", shots}},
      absl::Minutes(4));
  std::cout << run.output << "\nscreenshots of every page: " << shots << std::endl;
  EXPECT_EQ(run.exit_code, 0) << "web app output:\n" << web.Output();

  // The admin saved level 40 in the portal; what the form does not show is as it was.
  policy::v1::GetAuthSettingsRequest get;
  get.set_directory_id(directory);
  policy::v1::GetAuthSettingsResponse got;
  const grpc::Status read = cluster.policies().GetAuthSettings(
      testing::NewContext("", cluster.platform_key()).get(), get, &got);
  ASSERT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(got.settings().required_level(), 40);
  EXPECT_THAT(got.settings().sms_allowed_country_codes(), ::testing::ElementsAre("31"));
  EXPECT_EQ(got.settings().trusted_device_max_age().seconds(), kDeviceMaxAgeSeconds);
  web.Signal(SIGTERM);
  (void)web.Wait(absl::Seconds(10));
}

}  // namespace
}  // namespace tally
