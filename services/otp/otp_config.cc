#include "services/otp/otp_config.h"

#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/redis/redis_config.h"
#include "common/redis/redis_flags.h"
#include "services/otp/otp_crypto.h"

ABSL_FLAG(std::string, role, "all", "api (serve OtpService), sender (deliver codes) or all.");
// Redis: the shared flags of common/redis/redis_flags.h.
ABSL_FLAG(int, redis_pool_size, 16,
          "Redis connections at most (api role; per node of a Redis Cluster).");
ABSL_FLAG(std::string, otp_hmac_key, "",
          "Secret for code MACs, at least 32 bytes as hex or base64; prefer TALLY_OTP_HMAC_KEY.");
ABSL_FLAG(std::string, otp_encryption_key, "",
          "AES-256-GCM key of delivery jobs, 32 bytes as hex or base64; prefer "
          "TALLY_OTP_ENCRYPTION_KEY.");
ABSL_FLAG(absl::Duration, otp_code_ttl, absl::Minutes(5), "How long a code is accepted.");
ABSL_FLAG(int, otp_max_attempts, 5, "Verification attempts per code.");
ABSL_FLAG(absl::Duration, otp_cooldown, absl::Seconds(30),
          "Least time between two sends to one destination.");
ABSL_FLAG(int, otp_destination_hourly_cap, 5, "Sends to one destination per sliding hour.");
ABSL_FLAG(int, otp_directory_daily_cap, 10000, "Sends per directory per UTC day.");
ABSL_FLAG(int, otp_unproven_user_hourly_cap, 3,
          "Codes per user and channel per sliding hour before the login has proven a factor.");
ABSL_FLAG(int, otp_unproven_client_ip_hourly_cap, 10,
          "Codes per client address (IPv6: per /64) and channel per sliding hour before proof.");
ABSL_FLAG(int, otp_unproven_directory_hourly_cap, 100,
          "Codes per directory and channel per sliding hour before proof.");
ABSL_FLAG(int, otp_notice_destination_hourly_cap, 5,
          "Notices (SendNotice) per destination per sliding hour.");
ABSL_FLAG(std::string, otp_language, "en", "Language of the messages: en or nl.");
ABSL_FLAG(std::string, otp_queue, "otp-q",
          "Delivery queue: shard i is the streams {<queue>-<i>}:deliveries and "
          "{<queue>-<i>}:dead.");
ABSL_FLAG(int, otp_queue_shards, 8,
          "Shards of the delivery queue (a directory's jobs go to one; senders read all). "
          "Every api and sender process of one queue must use the same number.");
ABSL_FLAG(std::string, otp_consumer_group, "otp-senders", "Consumer group of the senders.");
ABSL_FLAG(int64_t, otp_dead_max_length, 10000, "Dead letters kept per shard (approximately).");
ABSL_FLAG(int, otp_sender_workers, 8,
          "Sender worker threads (sender role); at least --otp_queue_shards, so that every shard "
          "has a worker waiting on it.");
ABSL_FLAG(absl::Duration, otp_read_block, absl::Seconds(2), "How long a worker blocks reading.");
ABSL_FLAG(absl::Duration, otp_claim_idle, absl::Seconds(60),
          "A job left unacknowledged this long by a sender is taken over by another.");
ABSL_FLAG(absl::Duration, otp_claim_interval, absl::Seconds(5),
          "How often each worker looks for jobs to take over.");
ABSL_FLAG(int, otp_delivery_attempts, 5, "Delivery attempts per job before it is dead-lettered.");
ABSL_FLAG(absl::Duration, otp_retry_initial_backoff, absl::Seconds(1),
          "Wait after the first failed attempt (doubles each time, with jitter).");
ABSL_FLAG(absl::Duration, otp_retry_max_backoff, absl::Seconds(30), "Longest wait between attempts.");
ABSL_FLAG(absl::Duration, otp_delivery_timeout, absl::Seconds(10),
          "Timeout of one SMTP or HTTP delivery.");
ABSL_FLAG(std::string, otp_sms_provider, "", "SMS provider: outbox or http (sender role).");
ABSL_FLAG(std::string, otp_email_provider, "", "E-mail provider: outbox, smtp or http.");
ABSL_FLAG(std::string, otp_outbox_file, ".tally/outbox.jsonl",
          "File of the outbox provider (development only: it holds the codes).");
ABSL_FLAG(std::string, smtp_host, "", "SMTP server.");
ABSL_FLAG(int, smtp_port, 587, "SMTP port (587 STARTTLS, 465 implicit TLS).");
ABSL_FLAG(std::string, smtp_tls, "starttls", "starttls (required), implicit, or none.");
ABSL_FLAG(std::string, smtp_username, "", "SMTP login; empty: no AUTH.");
ABSL_FLAG(std::string, smtp_password, "", "SMTP password; prefer TALLY_SMTP_PASSWORD.");
ABSL_FLAG(std::string, smtp_from, "", "Sender address, e.g. no-reply@example.org.");
ABSL_FLAG(std::string, smtp_from_name, "", "Display name of the sender (optional).");
ABSL_FLAG(std::string, sms_http_url, "",
          "SMS gateway endpoint, https:// (POST {\"to\",\"text\"}).");
ABSL_FLAG(bool, allow_insecure_gateway, false,
          "Allow an http:// --sms_http_url (development and tests only: the token and the codes "
          "would cross the network in clear).");
ABSL_FLAG(std::string, sms_http_token, "", "Bearer token of the gateway; prefer TALLY_SMS_HTTP_TOKEN.");
ABSL_FLAG(std::string, otp_provider_ca_file, "", "CA bundle for SMTP/HTTPS (default: the system's).");

namespace tally::otp {
namespace {

constexpr int kDefaultPort = 50053;

absl::Status Invalid(const std::string& why) { return absl::InvalidArgumentError(why); }

// Keys, code lifetime and limits, language.
absl::Status TakeCodeFlags(OtpConfig& codes) {
  absl::Status s = TakeValue(
      DecodeSecret(absl::GetFlag(FLAGS_otp_hmac_key), 32, false, "--otp_hmac_key"),
      &codes.hmac_key);
  if (s.ok()) {
    s = TakeValue(
        DecodeSecret(absl::GetFlag(FLAGS_otp_encryption_key), 32, true, "--otp_encryption_key"),
        &codes.job_key);
  }
  if (s.ok()) s = TakeValue(ParseLanguage(absl::GetFlag(FLAGS_otp_language)), &codes.language);
  if (!s.ok()) return s;
  codes.code_ttl = absl::GetFlag(FLAGS_otp_code_ttl);
  codes.max_attempts = absl::GetFlag(FLAGS_otp_max_attempts);
  codes.cooldown = absl::GetFlag(FLAGS_otp_cooldown);
  codes.destination_hourly_cap = absl::GetFlag(FLAGS_otp_destination_hourly_cap);
  codes.directory_daily_cap = absl::GetFlag(FLAGS_otp_directory_daily_cap);
  codes.unproven_user_hourly_cap = absl::GetFlag(FLAGS_otp_unproven_user_hourly_cap);
  codes.unproven_client_ip_hourly_cap = absl::GetFlag(FLAGS_otp_unproven_client_ip_hourly_cap);
  codes.unproven_directory_hourly_cap = absl::GetFlag(FLAGS_otp_unproven_directory_hourly_cap);
  codes.notice_destination_hourly_cap = absl::GetFlag(FLAGS_otp_notice_destination_hourly_cap);
  if (codes.code_ttl < absl::Seconds(30) || codes.code_ttl > absl::Hours(1)) {
    return Invalid("--otp_code_ttl must be between 30s and 1h");
  }
  if (codes.max_attempts < 1 || codes.max_attempts > 100) {
    return Invalid("--otp_max_attempts must be 1..100");
  }
  if (codes.cooldown < absl::ZeroDuration() || codes.cooldown > absl::Hours(1)) {
    return Invalid("--otp_cooldown must be between 0s and 1h");
  }
  if (codes.destination_hourly_cap < 1 || codes.directory_daily_cap < 1) {
    return Invalid("--otp_destination_hourly_cap and --otp_directory_daily_cap must be >= 1");
  }
  if (codes.unproven_user_hourly_cap < 1 || codes.unproven_client_ip_hourly_cap < 1 ||
      codes.unproven_directory_hourly_cap < 1 || codes.notice_destination_hourly_cap < 1) {
    return Invalid(
        "--otp_unproven_user_hourly_cap, --otp_unproven_client_ip_hourly_cap, "
        "--otp_unproven_directory_hourly_cap and --otp_notice_destination_hourly_cap must be >= 1");
  }
  return absl::OkStatus();
}

absl::Status TakeQueueFlags(QueueNames& names) {
  names.queue = absl::GetFlag(FLAGS_otp_queue);
  names.shards = absl::GetFlag(FLAGS_otp_queue_shards);
  names.group = absl::GetFlag(FLAGS_otp_consumer_group);
  names.dead_max_length = absl::GetFlag(FLAGS_otp_dead_max_length);
  // The name goes inside a hash tag: braces would move the tag.
  if (names.queue.empty() || names.queue.size() > 64 ||
      names.queue.find_first_of("{}") != std::string::npos) {
    return Invalid("--otp_queue must be 1 to 64 characters without { or }");
  }
  if (names.shards < 1 || names.shards > 256) return Invalid("--otp_queue_shards must be 1..256");
  if (names.group.empty() || names.dead_max_length < 1) {
    return Invalid("--otp_consumer_group is required; --otp_dead_max_length >= 1");
  }
  return absl::OkStatus();
}

// One channel's provider; `flag` is --otp_sms_provider or --otp_email_provider.
absl::StatusOr<ProviderConfig> TakeProviderFlags(const std::string& kind, absl::string_view flag) {
  const bool email = flag == "--otp_email_provider";
  ProviderConfig config;
  config.outbox_file = absl::GetFlag(FLAGS_otp_outbox_file);
  const absl::Duration timeout = absl::GetFlag(FLAGS_otp_delivery_timeout);
  const std::string ca_file = absl::GetFlag(FLAGS_otp_provider_ca_file);
  if (kind == "outbox") {
    config.kind = ProviderConfig::Kind::kOutbox;
    return config;
  }
  if (kind == "smtp" && email) {
    config.kind = ProviderConfig::Kind::kSmtp;
    SmtpOptions& o = config.smtp;
    if (absl::Status s = ParseSmtpTls(absl::GetFlag(FLAGS_smtp_tls), &o.tls); !s.ok()) return s;
    o.host = absl::GetFlag(FLAGS_smtp_host);
    o.port = absl::GetFlag(FLAGS_smtp_port);
    o.username = absl::GetFlag(FLAGS_smtp_username);
    o.password = absl::GetFlag(FLAGS_smtp_password);
    o.from = absl::GetFlag(FLAGS_smtp_from);
    o.from_name = absl::GetFlag(FLAGS_smtp_from_name);
    o.ca_file = ca_file;
    o.timeout = timeout;
    if (absl::Status s = ValidateSmtpOptions(o); !s.ok()) return s;
    return config;
  }
  if (kind == "http") {
    config.kind = ProviderConfig::Kind::kHttp;
    HttpSmsOptions& o = config.http;
    o.url = absl::GetFlag(FLAGS_sms_http_url);
    o.token = absl::GetFlag(FLAGS_sms_http_token);
    o.allow_insecure = absl::GetFlag(FLAGS_allow_insecure_gateway);
    o.ca_file = ca_file;
    o.timeout = timeout;
    if (absl::Status s = ValidateHttpSmsOptions(o); !s.ok()) return s;
    return config;
  }
  return Invalid(absl::StrCat(flag, " must be ", email ? "outbox, smtp or http" : "outbox or http",
                              " for the sender role"));
}

absl::Status TakeSenderFlags(OtpServerConfig& config) {
  SenderOptions& o = config.sender.options;
  // Unique per process (host name and pid): a restarted process never inherits a crashed
  // one's consumer names.
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  o.consumer_prefix = absl::StrCat(host, "-", getpid());
  o.workers = absl::GetFlag(FLAGS_otp_sender_workers);
  o.read_block = absl::GetFlag(FLAGS_otp_read_block);
  o.claim_idle = absl::GetFlag(FLAGS_otp_claim_idle);
  o.claim_interval = absl::GetFlag(FLAGS_otp_claim_interval);
  o.max_attempts = absl::GetFlag(FLAGS_otp_delivery_attempts);
  o.initial_backoff = absl::GetFlag(FLAGS_otp_retry_initial_backoff);
  o.max_backoff = absl::GetFlag(FLAGS_otp_retry_max_backoff);
  if (o.workers < 1 || o.workers > 256) return Invalid("--otp_sender_workers must be 1..256");
  if (o.read_block < absl::Milliseconds(10) || o.read_block > absl::Seconds(30)) {
    return Invalid("--otp_read_block must be between 10ms and 30s");
  }
  if (o.max_attempts < 1) return Invalid("--otp_delivery_attempts must be >= 1");
  if (o.initial_backoff <= absl::ZeroDuration() || o.max_backoff < o.initial_backoff) {
    return Invalid("--otp_retry_initial_backoff must be > 0 and <= --otp_retry_max_backoff");
  }
  // A live sender touches its job before every attempt; the gap between touches is at most
  // one delivery timeout plus one backoff, which must stay below the takeover threshold.
  if (o.claim_idle <= absl::GetFlag(FLAGS_otp_delivery_timeout) + o.max_backoff) {
    return Invalid("--otp_claim_idle must exceed --otp_delivery_timeout + --otp_retry_max_backoff");
  }
  absl::Status s = TakeValue(
      TakeProviderFlags(absl::GetFlag(FLAGS_otp_sms_provider), "--otp_sms_provider"),
      &config.sender.sms);
  if (s.ok()) {
    s = TakeValue(
        TakeProviderFlags(absl::GetFlag(FLAGS_otp_email_provider), "--otp_email_provider"),
        &config.sender.email);
  }
  if (!s.ok()) return s;
  config.sender.redis = config.redis;
  // Reads block on the server; the socket timeout must outlast them.
  config.sender.redis.command_timeout = o.read_block + absl::Seconds(2);
  config.sender.redis.pool_size = o.workers + 2;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OtpServerConfig> OtpServerConfigFromFlags() {
  OtpServerConfig config;
  config.role = absl::GetFlag(FLAGS_role);
  if (config.role != "api" && config.role != "sender" && config.role != "all") {
    return Invalid("--role must be api, sender or all");
  }
  config.serves_api = config.role != "sender";
  config.sends = config.role != "api";
  absl::Status s = TakeValue(ServerOptionsFromFlags(kDefaultPort), &config.server);
  if (s.ok()) {
    s = TakeValue(ServiceRedisOptions(RedisSettingsFromFlags(), "tally-otp",
                                      absl::GetFlag(FLAGS_redis_pool_size)),
                  &config.redis);
  }
  if (s.ok()) s = TakeCodeFlags(config.codes);
  if (s.ok()) s = TakeQueueFlags(config.queue);
  if (s.ok() && config.sends) s = TakeSenderFlags(config);
  if (!s.ok()) return s;
  return config;
}

}  // namespace tally::otp
