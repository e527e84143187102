// tally-otp: SMS and e-mail one-time codes (DESIGN.md §2, issue 4). One binary, three roles:
// `api` serves OtpService, `sender` delivers queued codes, `all` does both. Wiring only.

#include <unistd.h>

#include <map>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/redis_revocation_store.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "common/redis/redis_client.h"
#include "common/server/call_auth.h"
#include "common/server/server_runner.h"
#include "services/otp/curl_providers.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/otp_manager.h"
#include "services/otp/otp_metrics.h"
#include "services/otp/otp_service.h"
#include "services/otp/outbox_provider.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/redis_otp_store.h"
#include "services/otp/sender.h"

ABSL_FLAG(std::string, role, "all", "api (serve OtpService), sender (deliver codes) or all.");
ABSL_FLAG(std::string, redis_url, "",
          "Redis URL redis://[[user]:password@]host[:port][/db]; prefer TALLY_REDIS_URL.");
ABSL_FLAG(int, redis_pool_size, 16, "Redis connections at most (api role).");
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
ABSL_FLAG(std::string, otp_language, "en", "Language of the messages: en or nl.");
ABSL_FLAG(std::string, otp_stream, "otp:deliveries", "Redis Stream of delivery jobs.");
ABSL_FLAG(std::string, otp_dead_stream, "otp:dead", "Redis Stream of dead letters.");
ABSL_FLAG(std::string, otp_consumer_group, "otp-senders", "Consumer group of the senders.");
ABSL_FLAG(int64_t, otp_dead_max_length, 10000, "Dead letters kept (approximately).");
ABSL_FLAG(int, otp_sender_workers, 4, "Sender worker threads (sender role).");
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
ABSL_FLAG(std::string, sms_http_url, "", "SMS gateway endpoint (POST {\"to\",\"text\"}).");
ABSL_FLAG(std::string, sms_http_token, "", "Bearer token of the gateway; prefer TALLY_SMS_HTTP_TOKEN.");
ABSL_FLAG(std::string, otp_provider_ca_file, "", "CA bundle for SMTP/HTTPS (default: the system's).");

namespace {

constexpr int kDefaultPort = 50053;

[[noreturn]] void Bad(const char* program, const std::string& why) {
  tally::ExitBadConfig(program, absl::InvalidArgumentError(why));
}

std::unique_ptr<tally::otp::DeliveryProvider> MakeProvider(const char* program,
                                                           const std::string& kind,
                                                           const char* channel_flag) {
  using namespace tally::otp;
  const absl::Duration timeout = absl::GetFlag(FLAGS_otp_delivery_timeout);
  if (kind == "outbox") {
    return std::make_unique<OutboxProvider>(absl::GetFlag(FLAGS_otp_outbox_file),
                                            tally::SystemClock::Get());
  }
  if (kind == "smtp" && std::string(channel_flag) == "--otp_email_provider") {
    SmtpOptions o;
    o.host = absl::GetFlag(FLAGS_smtp_host);
    o.port = absl::GetFlag(FLAGS_smtp_port);
    if (absl::Status s = ParseSmtpTls(absl::GetFlag(FLAGS_smtp_tls), &o.tls); !s.ok()) {
      tally::ExitBadConfig(program, s);
    }
    o.username = absl::GetFlag(FLAGS_smtp_username);
    o.password = absl::GetFlag(FLAGS_smtp_password);
    o.from = absl::GetFlag(FLAGS_smtp_from);
    o.from_name = absl::GetFlag(FLAGS_smtp_from_name);
    o.ca_file = absl::GetFlag(FLAGS_otp_provider_ca_file);
    o.timeout = timeout;
    if (absl::Status s = ValidateSmtpOptions(o); !s.ok()) tally::ExitBadConfig(program, s);
    return std::make_unique<SmtpProvider>(o, tally::SystemClock::Get(),
                                          tally::CsprngRandom::Get());
  }
  if (kind == "http") {
    HttpSmsOptions o;
    o.url = absl::GetFlag(FLAGS_sms_http_url);
    o.token = absl::GetFlag(FLAGS_sms_http_token);
    o.ca_file = absl::GetFlag(FLAGS_otp_provider_ca_file);
    o.timeout = timeout;
    if (absl::Status s = ValidateHttpSmsOptions(o); !s.ok()) tally::ExitBadConfig(program, s);
    return std::make_unique<HttpSmsProvider>(o);
  }
  Bad(program, absl::StrCat(channel_flag, " must be ",
                            std::string(channel_flag) == "--otp_email_provider"
                                ? "outbox, smtp or http"
                                : "outbox or http",
                            " for the sender role"));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tally::otp;
  tally::BlockTerminationSignals();
  tally::DisableMutexDeadlockDetection();
  tally::IgnoreSigpipe();
  tally::ParseFlags(argc, argv, "tally-otp: SMS and e-mail one-time codes (api and sender)");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  auto logger = tally::GetLogger("otp");

  const std::string role = absl::GetFlag(FLAGS_role);
  if (role != "api" && role != "sender" && role != "all") {
    Bad(argv[0], "--role must be api, sender or all");
  }
  const bool api = role != "sender";
  const bool sending = role != "api";

  absl::StatusOr<tally::ServerOptions> server_options = tally::ServerOptionsFromFlags(kDefaultPort);
  if (!server_options.ok()) tally::ExitBadConfig(argv[0], server_options.status());
  const tally::Clock& clock = tally::SystemClock::Get();
  if (absl::GetFlag(FLAGS_redis_url).empty()) Bad(argv[0], "--redis_url is required");
  absl::StatusOr<tally::RedisOptions> redis_options =
      tally::ParseRedisUrl(absl::GetFlag(FLAGS_redis_url));
  if (!redis_options.ok()) tally::ExitBadConfig(argv[0], redis_options.status());
  redis_options->client_name = "tally-otp";
  redis_options->pool_size = absl::GetFlag(FLAGS_redis_pool_size);
  if (redis_options->pool_size < 1) Bad(argv[0], "--redis_pool_size must be >= 1");
  // Never connects here. Revoked sessions are checked in this Redis too.
  auto redis = std::make_shared<tally::RedisClient>(*redis_options);
  auto authenticator = tally::AuthenticatorFromFlags(
      clock, std::make_shared<const tally::RedisRevocationStore>(redis, clock));
  if (!authenticator.ok()) tally::ExitBadConfig(argv[0], authenticator.status());

  OtpConfig config;
  absl::StatusOr<std::string> hmac_key =
      DecodeSecret(absl::GetFlag(FLAGS_otp_hmac_key), 32, false, "--otp_hmac_key");
  if (!hmac_key.ok()) tally::ExitBadConfig(argv[0], hmac_key.status());
  absl::StatusOr<std::string> job_key =
      DecodeSecret(absl::GetFlag(FLAGS_otp_encryption_key), 32, true, "--otp_encryption_key");
  if (!job_key.ok()) tally::ExitBadConfig(argv[0], job_key.status());
  config.hmac_key = *hmac_key;
  config.job_key = *job_key;
  config.code_ttl = absl::GetFlag(FLAGS_otp_code_ttl);
  config.max_attempts = absl::GetFlag(FLAGS_otp_max_attempts);
  config.cooldown = absl::GetFlag(FLAGS_otp_cooldown);
  config.destination_hourly_cap = absl::GetFlag(FLAGS_otp_destination_hourly_cap);
  config.directory_daily_cap = absl::GetFlag(FLAGS_otp_directory_daily_cap);
  absl::StatusOr<Language> language = ParseLanguage(absl::GetFlag(FLAGS_otp_language));
  if (!language.ok()) tally::ExitBadConfig(argv[0], language.status());
  config.language = *language;
  if (config.code_ttl < absl::Seconds(30) || config.code_ttl > absl::Hours(1)) {
    Bad(argv[0], "--otp_code_ttl must be between 30s and 1h");
  }
  if (config.max_attempts < 1 || config.max_attempts > 100) {
    Bad(argv[0], "--otp_max_attempts must be 1..100");
  }
  if (config.cooldown < absl::ZeroDuration() || config.cooldown > absl::Hours(1)) {
    Bad(argv[0], "--otp_cooldown must be between 0s and 1h");
  }
  if (config.destination_hourly_cap < 1 || config.directory_daily_cap < 1) {
    Bad(argv[0], "--otp_destination_hourly_cap and --otp_directory_daily_cap must be >= 1");
  }

  StreamNames names;
  names.deliveries = absl::GetFlag(FLAGS_otp_stream);
  names.dead = absl::GetFlag(FLAGS_otp_dead_stream);
  names.group = absl::GetFlag(FLAGS_otp_consumer_group);
  names.dead_max_length = absl::GetFlag(FLAGS_otp_dead_max_length);
  if (names.deliveries.empty() || names.dead.empty() || names.group.empty() ||
      names.deliveries == names.dead || names.dead_max_length < 1) {
    Bad(argv[0], "--otp_stream, --otp_dead_stream (different) and --otp_consumer_group are "
                 "required; --otp_dead_max_length >= 1");
  }

  SenderOptions sender_options;
  std::unique_ptr<DeliveryProvider> sms_provider, email_provider;
  std::shared_ptr<tally::RedisClient> sender_redis;
  if (sending) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    sender_options.consumer_prefix = absl::StrCat(host, "-", getpid());
    sender_options.workers = absl::GetFlag(FLAGS_otp_sender_workers);
    sender_options.read_block = absl::GetFlag(FLAGS_otp_read_block);
    sender_options.claim_idle = absl::GetFlag(FLAGS_otp_claim_idle);
    sender_options.claim_interval = absl::GetFlag(FLAGS_otp_claim_interval);
    sender_options.max_attempts = absl::GetFlag(FLAGS_otp_delivery_attempts);
    sender_options.initial_backoff = absl::GetFlag(FLAGS_otp_retry_initial_backoff);
    sender_options.max_backoff = absl::GetFlag(FLAGS_otp_retry_max_backoff);
    if (sender_options.workers < 1 || sender_options.workers > 256) {
      Bad(argv[0], "--otp_sender_workers must be 1..256");
    }
    if (sender_options.read_block < absl::Milliseconds(10) ||
        sender_options.read_block > absl::Seconds(30)) {
      Bad(argv[0], "--otp_read_block must be between 10ms and 30s");
    }
    if (sender_options.max_attempts < 1) Bad(argv[0], "--otp_delivery_attempts must be >= 1");
    if (sender_options.initial_backoff <= absl::ZeroDuration() ||
        sender_options.max_backoff < sender_options.initial_backoff) {
      Bad(argv[0], "--otp_retry_initial_backoff must be > 0 and <= --otp_retry_max_backoff");
    }
    // A live sender touches its job before every attempt; the gap between touches is at most
    // one delivery timeout plus one backoff, which must stay below the takeover threshold.
    if (sender_options.claim_idle <=
        absl::GetFlag(FLAGS_otp_delivery_timeout) + sender_options.max_backoff) {
      Bad(argv[0], "--otp_claim_idle must exceed --otp_delivery_timeout + --otp_retry_max_backoff");
    }
    sms_provider = MakeProvider(argv[0], absl::GetFlag(FLAGS_otp_sms_provider),
                                "--otp_sms_provider");
    email_provider = MakeProvider(argv[0], absl::GetFlag(FLAGS_otp_email_provider),
                                  "--otp_email_provider");
    if (sms_provider->name() == "outbox" || email_provider->name() == "outbox") {
      logger->warn("outbox provider: codes are written to {} (development only)",
                   absl::GetFlag(FLAGS_otp_outbox_file));
    }
    tally::RedisOptions blocking = *redis_options;
    // Reads block on the server; the socket timeout must outlast them.
    blocking.command_timeout = sender_options.read_block + absl::Seconds(2);
    blocking.pool_size = sender_options.workers + 2;
    sender_redis = std::make_shared<tally::RedisClient>(blocking);
  }

  RedisOtpStore store(redis, names.deliveries);
  RedisDeliveryQueue admin_queue(redis, names);

  tally::ServerRunner runner(*server_options, tally::GetLogger("server"));
  OtpMetrics metrics(runner.metrics().registry());
  OtpManager manager(store, &admin_queue, clock, tally::CsprngRandom::Get(), config, &metrics);
  OtpServiceImpl service(manager, *authenticator);
  if (api) runner.AddService(&service);
  runner.AddHealthCheck("redis", [&store] { return store.Ping(); });

  std::unique_ptr<RedisDeliveryQueue> sender_queue;
  std::unique_ptr<Sender> sender;
  if (sending) {
    sender_queue = std::make_unique<RedisDeliveryQueue>(sender_redis, names);
    std::map<int, DeliveryProvider*> providers = {
        {static_cast<int>(tally::otp::v1::CHANNEL_SMS), sms_provider.get()},
        {static_cast<int>(tally::otp::v1::CHANNEL_EMAIL), email_provider.get()}};
    sender = std::make_unique<Sender>(*sender_queue, providers, config.job_key, clock,
                                      tally::CsprngRandom::Get(), sender_options, &metrics);
  }
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger->critical("{}", s);
    return 1;
  }
  if (sender) {
    sender->Start();
    logger->info("sender: {} workers on stream {} group {} (sms: {}, email: {})",
                 sender_options.workers, names.deliveries, names.group, sms_provider->name(),
                 email_provider->name());
  }
  logger->info("role {}", role);
  runner.RunUntilSignal();
  if (sender) sender->Stop();
  return 0;
}
