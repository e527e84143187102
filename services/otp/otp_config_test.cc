#include "services/otp/otp_config.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::otp {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kHmacKey[] = "7465737420686d6163206b657920666f72206f747020696e746567726174696f6e";
constexpr char kJobKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// An API replica's flags, then `flags`.
absl::StatusOr<OtpServerConfig> Config(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"--role=api", "--redis_url=redis://cache:6379",
                               absl::StrCat("--otp_hmac_key=", kHmacKey),
                               absl::StrCat("--otp_encryption_key=", kJobKey)});
  return ConfigFromFlagsForTest(flags, OtpServerConfigFromFlags);
}

std::string Refusal(std::vector<std::string> flags) {
  return std::string(Config(std::move(flags)).status().message());
}

// A sender with outbox providers, then `flags`.
std::string SenderRefusal(std::vector<std::string> flags) {
  flags.insert(flags.begin(),
               {"--role=sender", "--otp_sms_provider=outbox", "--otp_email_provider=outbox"});
  return Refusal(std::move(flags));
}

TEST(OtpServerConfigTest, ApiRoleDefaults) {
  absl::StatusOr<OtpServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:50053");
  EXPECT_EQ(config->role, "api");
  EXPECT_TRUE(config->serves_api);
  EXPECT_FALSE(config->sends);
  EXPECT_EQ(config->redis.client_name, "tally-otp");
  EXPECT_EQ(config->redis.pool_size, 16);
  EXPECT_EQ(config->codes.hmac_key.size(), 33u);
  EXPECT_EQ(config->codes.job_key.size(), 32u);
  EXPECT_EQ(config->codes.code_ttl, absl::Minutes(5));
  EXPECT_EQ(config->codes.max_attempts, 5);
  EXPECT_EQ(config->codes.cooldown, absl::Seconds(30));
  EXPECT_EQ(config->codes.destination_hourly_cap, 5);
  EXPECT_EQ(config->codes.directory_daily_cap, 10000);
  EXPECT_EQ(config->codes.unproven_user_hourly_cap, 3);
  EXPECT_EQ(config->codes.unproven_client_ip_hourly_cap, 10);
  EXPECT_EQ(config->codes.unproven_directory_hourly_cap, 100);
  EXPECT_EQ(config->codes.notice_destination_hourly_cap, 5);
  EXPECT_EQ(config->codes.language, Language::kEnglish);
  EXPECT_EQ(config->queue.queue, "otp-q");
  EXPECT_EQ(config->queue.shards, 8);
  EXPECT_EQ(config->queue.group, "otp-senders");
}

TEST(OtpServerConfigTest, SenderRole) {
  absl::StatusOr<OtpServerConfig> config =
      Config({"--role=all", "--otp_sms_provider=http", "--sms_http_url=https://sms.example.org",
              "--sms_http_token=gateway-token", "--otp_email_provider=smtp",
              "--smtp_host=mail.example.org", "--smtp_port=465", "--smtp_tls=implicit",
              "--smtp_from=no-reply@example.org", "--otp_sender_workers=6",
              "--otp_read_block=5s", "--otp_outbox_file=/tmp/outbox.jsonl"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->serves_api);
  EXPECT_TRUE(config->sends);
  const SenderRoleConfig& sender = config->sender;
  EXPECT_THAT(sender.options.consumer_prefix, EndsWith(absl::StrCat("-", getpid())));
  EXPECT_EQ(sender.options.workers, 6);
  EXPECT_EQ(sender.redis.host, "cache");
  EXPECT_EQ(sender.redis.pool_size, 8);
  EXPECT_EQ(sender.redis.command_timeout, absl::Seconds(7));
  EXPECT_EQ(sender.sms.kind, ProviderConfig::Kind::kHttp);
  EXPECT_EQ(sender.sms.http.url, "https://sms.example.org");
  EXPECT_EQ(sender.sms.http.token, "gateway-token");
  EXPECT_FALSE(sender.sms.http.allow_insecure);
  EXPECT_EQ(sender.email.kind, ProviderConfig::Kind::kSmtp);
  EXPECT_EQ(sender.email.smtp.host, "mail.example.org");
  EXPECT_EQ(sender.email.smtp.port, 465);
  EXPECT_EQ(sender.email.smtp.tls, SmtpTls::kImplicit);
  EXPECT_EQ(sender.email.smtp.timeout, absl::Seconds(10));
  EXPECT_EQ(sender.email.outbox_file, "/tmp/outbox.jsonl");
}

TEST(OtpServerConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({"--role=both"}), "--role must be api, sender or all");
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url (or --redis_cluster_nodes) is required");
  EXPECT_EQ(Refusal({"--redis_pool_size=0"}), "--redis_pool_size must be >= 1");
  EXPECT_THAT(Refusal({"--otp_hmac_key="}), StartsWith("--otp_hmac_key"));
  const std::string short_key = Refusal({"--otp_encryption_key=c2hvcnQta2V5"});
  EXPECT_EQ(short_key, "--otp_encryption_key must decode to exactly 32 bytes");
  EXPECT_EQ(Refusal({"--otp_language=fr"}), "--otp_language must be en or nl");
  EXPECT_EQ(Refusal({"--otp_code_ttl=10s"}), "--otp_code_ttl must be between 30s and 1h");
  EXPECT_EQ(Refusal({"--otp_max_attempts=0"}), "--otp_max_attempts must be 1..100");
  EXPECT_EQ(Refusal({"--otp_cooldown=-1s"}), "--otp_cooldown must be between 0s and 1h");
  EXPECT_THAT(Refusal({"--otp_directory_daily_cap=0"}),
              StartsWith("--otp_destination_hourly_cap and --otp_directory_daily_cap"));
  EXPECT_THAT(Refusal({"--otp_unproven_client_ip_hourly_cap=0"}),
              StartsWith("--otp_unproven_user_hourly_cap, --otp_unproven_client_ip_hourly_cap"));
  EXPECT_THAT(Refusal({"--otp_notice_destination_hourly_cap=-1"}),
              HasSubstr("--otp_notice_destination_hourly_cap must be >= 1"));
  EXPECT_EQ(Refusal({"--otp_queue={otp}"}),
            "--otp_queue must be 1 to 64 characters without { or }");
  EXPECT_EQ(Refusal({"--otp_queue="}), "--otp_queue must be 1 to 64 characters without { or }");
  EXPECT_EQ(Refusal({"--otp_queue_shards=0"}), "--otp_queue_shards must be 1..256");
  EXPECT_EQ(Refusal({"--otp_queue_shards=257"}), "--otp_queue_shards must be 1..256");
  EXPECT_EQ(Refusal({"--otp_consumer_group="}),
            "--otp_consumer_group is required; --otp_dead_max_length >= 1");
  // The sender's flags count only in the sender role.
  EXPECT_EQ(Refusal({"--otp_sender_workers=0"}), "");
  EXPECT_EQ(SenderRefusal({"--otp_sender_workers=0"}), "--otp_sender_workers must be 1..256");
  EXPECT_EQ(SenderRefusal({"--otp_read_block=1ms"}),
            "--otp_read_block must be between 10ms and 30s");
  EXPECT_EQ(SenderRefusal({"--otp_delivery_attempts=0"}), "--otp_delivery_attempts must be >= 1");
  EXPECT_EQ(SenderRefusal({"--otp_retry_initial_backoff=1m"}),
            "--otp_retry_initial_backoff must be > 0 and <= --otp_retry_max_backoff");
  EXPECT_EQ(SenderRefusal({"--otp_claim_idle=5s"}),
            "--otp_claim_idle must exceed --otp_delivery_timeout + --otp_retry_max_backoff");
  EXPECT_EQ(Refusal({"--role=sender"}),
            "--otp_sms_provider must be outbox or http for the sender role");
  EXPECT_EQ(Refusal({"--role=sender", "--otp_sms_provider=smtp"}),
            "--otp_sms_provider must be outbox or http for the sender role");
  EXPECT_EQ(SenderRefusal({"--otp_email_provider=sms"}),
            "--otp_email_provider must be outbox, smtp or http for the sender role");
  EXPECT_EQ(SenderRefusal({"--otp_email_provider=smtp"}),
            "--smtp_host is required for the smtp provider");
  EXPECT_EQ(SenderRefusal({"--otp_email_provider=smtp", "--smtp_host=mail.example.org",
                           "--smtp_tls=maybe"}),
            "--smtp_tls must be starttls, implicit or none");
  EXPECT_THAT(SenderRefusal({"--otp_email_provider=smtp", "--smtp_host=mail.example.org",
                             "--smtp_from=a@example.org", "--smtp_username=mailer"}),
              HasSubstr("TALLY_SMTP_PASSWORD"));
  EXPECT_EQ(SenderRefusal({"--otp_sms_provider=http", "--sms_http_url=https://sms.example.org"}),
            "--sms_http_token is required for the http provider");
}

// The gateway gets the bearer token and every code: https:// only, unless plain HTTP is
// allowed explicitly (development and tests).
TEST(OtpServerConfigTest, TheSmsGatewayMustBeHttpsUnlessInsecureIsAllowed) {
  const std::string https_only =
      "--sms_http_url must be an https:// URL (http:// only with --allow_insecure_gateway, for "
      "development and tests)";
  for (const char* url : {"http://sms.example.org/send", "HTTP://sms.example.org/send",
                          "ftp://sms.example.org", "sms.example.org", ""}) {
    EXPECT_EQ(SenderRefusal({"--otp_sms_provider=http", absl::StrCat("--sms_http_url=", url),
                             "--sms_http_token=gateway-token"}),
              https_only)
        << url;
  }
  EXPECT_EQ(SenderRefusal({"--otp_email_provider=http", "--sms_http_url=http://127.0.0.1:1/m",
                           "--sms_http_token=gateway-token"}),
            https_only);
  absl::StatusOr<OtpServerConfig> insecure =
      Config({"--role=sender", "--otp_sms_provider=http", "--otp_email_provider=outbox",
              "--sms_http_url=http://127.0.0.1:8025/messages", "--sms_http_token=gateway-token",
              "--allow_insecure_gateway"});
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  EXPECT_TRUE(insecure->sender.sms.http.allow_insecure);
  EXPECT_EQ(insecure->sender.sms.http.url, "http://127.0.0.1:8025/messages");
  EXPECT_EQ(SenderRefusal({"--otp_sms_provider=http", "--sms_http_url=https://sms.example.org",
                           "--sms_http_token=gateway-token"}),
            "");
}

// Keys are secrets: a refusal names the flag, never the value.
TEST(OtpServerConfigTest, RefusalsNeverQuoteSecrets) {
  for (const char* flag :
       {"--otp_hmac_key=bm90LWEtcmVhbC1rZXk", "--otp_encryption_key=bm90LWEtcmVhbC1rZXk",
        "--redis_url=redis://:bm90LWEtcmVhbC1rZXk@cache:port"}) {
    const std::string refusal = Refusal({flag});
    EXPECT_THAT(refusal, Not("")) << flag;
    EXPECT_THAT(refusal, Not(HasSubstr("bm90LWEtcmVhbC1rZXk"))) << flag;
  }
}

}  // namespace
}  // namespace tally::otp
