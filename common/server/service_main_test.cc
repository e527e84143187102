#include "common/server/service_main.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ExitedWithCode;

// A ServiceMain for `flags`, as main() of /usr/bin/tally-test would make it.
ServiceMain MakeServiceMain(std::vector<std::string> flags) {
  static std::vector<std::string> args;
  args = {"/usr/bin/tally-test"};
  args.insert(args.end(), flags.begin(), flags.end());
  static std::vector<char*> argv;
  argv.clear();
  for (std::string& arg : args) argv.push_back(arg.data());
  return ServiceMain(static_cast<int>(argv.size()), argv.data(), "tally-test: a test service",
                     "test");
}

TEST(ServiceMainTest, BadConfigurationEndsTheProcessWithCodeTwoAndOneLine) {
  EXPECT_EXIT(
      {
        ServiceMain service = MakeServiceMain({});
        service.RequireConfig(absl::StatusOr<int>(absl::InvalidArgumentError("--x must be 1..9")));
      },
      ExitedWithCode(2), "^tally-test: invalid configuration: --x must be 1..9\n$");
}

TEST(ServiceMainTest, BadSharedFlagsEndTheProcessLikeBadConfiguration) {
  EXPECT_EXIT(MakeServiceMain({"--log_level=loud"}), ExitedWithCode(2),
              "^tally-test: invalid configuration: .*log_level");
  EXPECT_EXIT(MakeServiceMain({"--no_such_flag"}), ExitedWithCode(2),
              "^tally-test: invalid configuration: unknown flag --no_such_flag\n$");
}

TEST(ServiceMainTest, AFailedStartIsLoggedAndEndsTheProcessWithCodeOne) {
  EXPECT_EXIT(
      {
        ServiceMain service = MakeServiceMain({});
        service.RequireStarted(absl::StatusOr<int>(absl::UnavailableError("postgres is down")),
                               "cannot migrate schema test");
      },
      ExitedWithCode(1), "cannot migrate schema test: UNAVAILABLE: postgres is down");
}

TEST(ServiceMainTest, GoodValuesPassThrough) {
  EXPECT_EXIT(
      {
        ServiceMain service = MakeServiceMain({});
        const int config = service.RequireConfig(absl::StatusOr<int>(7));
        const int started = service.RequireStarted(absl::StatusOr<int>(8));
        std::exit(config == 7 && started == 8 ? 0 : 3);
      },
      ExitedWithCode(0), "");
}

TEST(ServiceMainTest, ABadPlatformKeyIsBadConfiguration) {
  EXPECT_EXIT(
      {
        ServiceMain service = MakeServiceMain({"--platform_key=short"});
        service.MakeAuthenticator(nullptr, ClusterCallers(), "CreateThing");
      },
      ExitedWithCode(2), "^tally-test: invalid configuration: --platform_key must be at least");
}

}  // namespace
}  // namespace tally
