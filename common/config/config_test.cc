#include "common/config/config.h"

#include <cstdlib>
#include <map>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, config_test_port, 7, "test flag");
ABSL_FLAG(std::string, config_test_name, "default", "test flag");
ABSL_FLAG(bool, config_test_enabled, false, "test flag");

namespace tally {
namespace {

std::map<std::string, std::string>* environment = nullptr;

std::string FakeEnv(const std::string& name) {
  auto it = environment->find(name);
  return it == environment->end() ? "" : it->second;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    environment = &env_;
    absl::SetFlag(&FLAGS_config_test_port, 7);
    absl::SetFlag(&FLAGS_config_test_name, "default");
    absl::SetFlag(&FLAGS_config_test_enabled, false);
  }
  absl::Status Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    return ParseFlagsInto(args, &FakeEnv, &positional_);
  }
  std::map<std::string, std::string> env_;
  std::vector<std::string> positional_;
};

TEST_F(ConfigTest, EnvironmentNameIsPrefixedUpperCase) {
  EXPECT_EQ(EnvNameForFlag("redis_url"), "TALLY_REDIS_URL");
}

TEST_F(ConfigTest, EnvironmentGivesDefaults) {
  env_["TALLY_CONFIG_TEST_PORT"] = "9000";
  env_["TALLY_CONFIG_TEST_ENABLED"] = "true";
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_port), 9000);
  EXPECT_TRUE(absl::GetFlag(FLAGS_config_test_enabled));
}

TEST_F(ConfigTest, CommandLineOverridesEnvironment) {
  env_["TALLY_CONFIG_TEST_PORT"] = "9000";
  ASSERT_TRUE(Parse({"--config_test_port=9100", "--config_test_name", "x y"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_port), 9100);
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_name), "x y");
}

TEST_F(ConfigTest, DashesAndUnderscoresAreTheSame) {
  ASSERT_TRUE(Parse({"--config-test-port=42"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_port), 42);
}

TEST_F(ConfigTest, BooleanForms) {
  ASSERT_TRUE(Parse({"--config_test_enabled"}).ok());
  EXPECT_TRUE(absl::GetFlag(FLAGS_config_test_enabled));
  ASSERT_TRUE(Parse({"--noconfig_test_enabled"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_config_test_enabled));
}

TEST_F(ConfigTest, PositionalArgumentsAreKept) {
  ASSERT_TRUE(Parse({"directory", "--config_test_port=1", "get", "--", "--literal"}).ok());
  EXPECT_EQ(positional_, (std::vector<std::string>{"prog", "directory", "get", "--literal"}));
}

TEST_F(ConfigTest, UnknownFlagIsAnError) {
  absl::Status s = Parse({"--no_such_flag=1"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no_such_flag"), std::string::npos);
}

TEST_F(ConfigTest, BadValueIsAnErrorWithoutEchoingIt) {
  env_["TALLY_CONFIG_TEST_PORT"] = "s3cr3t-not-a-number";
  absl::Status s = Parse({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("TALLY_CONFIG_TEST_PORT"), std::string::npos);
  EXPECT_EQ(s.message().find("s3cr3t"), std::string::npos);
}

TEST_F(ConfigTest, MissingValueIsAnError) {
  EXPECT_FALSE(Parse({"--config_test_port"}).ok());
}

TEST_F(ConfigTest, ParseFlagsForTestIgnoresTheEnvironment) {
  setenv("TALLY_CONFIG_TEST_PORT", "9000", 1);
  ASSERT_TRUE(ParseFlagsForTest({"--config_test_name=x"}).ok());
  unsetenv("TALLY_CONFIG_TEST_PORT");
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_port), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_name), "x");
  EXPECT_FALSE(ParseFlagsForTest({"--config_test_port=many"}).ok());
}

TEST_F(ConfigTest, HelpListsTheProgramsFlagsWithDefaultsButNeverTheirValues) {
  absl::SetFlag(&FLAGS_config_test_name, "s3cr3t-from-the-environment");
  const std::string help = HelpText("tally-test: a test program");
  EXPECT_EQ(help.rfind("tally-test: a test program\n\nFlags", 0), 0) << help;
  EXPECT_NE(help.find("  --config_test_port (default 7)\n      test flag\n"), std::string::npos)
      << help;
  EXPECT_NE(help.find("  --config_test_enabled (default false)\n"), std::string::npos);
  EXPECT_NE(help.find("TALLY_FOO_BAR"), std::string::npos);
  EXPECT_EQ(help.find("s3cr3t"), std::string::npos);
  // Abseil's own flags, which ParseFlags never reads, are left to --helpfull.
  EXPECT_EQ(help.find("--flagfile"), std::string::npos);
}

TEST(ExitBadConfigTest, ExitsWithCodeTwoAndOneLine) {
  EXPECT_EXIT(ExitBadConfig("/usr/bin/tally-x", absl::InvalidArgumentError("--listen is empty")),
              ::testing::ExitedWithCode(2), "^tally-x: invalid configuration: --listen is empty\n$");
}

}  // namespace
}  // namespace tally
