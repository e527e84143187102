// tally-credential: users, roles, contact data and Argon2id password hashes. Wiring only: the
// logic is CredentialManager.

#include <algorithm>
#include <memory>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/redis_revocation_store.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "common/postgres/pg_flags.h"
#include "common/server/call_auth.h"
#include "common/server/server_runner.h"
#include "services/credential/bounded_hasher.h"
#include "services/credential/credential_manager.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/credential_service.h"
#include "services/credential/hash_limiter.h"
#include "services/credential/password_hasher.h"
#include "services/credential/password_policy.h"
#include "services/credential/pg_credential_store.h"

ABSL_FLAG(std::string, postgres_schema, "credential", "Schema this service owns and migrates.");
ABSL_FLAG(std::string, redis_url, "",
          "Redis where the orchestrator records revoked sessions, redis://[[user]:password@]host"
          "[:port][/db] (prefer TALLY_REDIS_URL). Every bearer token is checked there; when Redis "
          "cannot be reached, token calls get UNAVAILABLE (platform-key and cluster calls need no "
          "Redis). Empty: revoked tokens are accepted until they expire (a warning at start-up).");
ABSL_FLAG(uint32_t, argon2_memory_kib, 19456, "Argon2id memory per hash in KiB (m).");
ABSL_FLAG(uint32_t, argon2_iterations, 2, "Argon2id passes over the memory (t).");
ABSL_FLAG(uint32_t, argon2_parallelism, 1, "Argon2id lanes (p).");
ABSL_FLAG(int, max_concurrent_hashes, 0,
          "Argon2id runs at most at once; 0: one per hardware thread.");
// Small on purpose: a queued call waits about hash_queue_size / max_concurrent_hashes hash
// times, so admitted checks stay within a few hash times and overload is refused at once. One
// wave by default: an admitted check waits at most about one hash before its own.
ABSL_FLAG(int, hash_queue_size, -1,
          "Calls that may wait for a hashing slot; beyond them calls get RESOURCE_EXHAUSTED. "
          "-1: as many as --max_concurrent_hashes.");
ABSL_FLAG(int, min_password_length, 8, "Shortest new password, in characters (code points).");
ABSL_FLAG(std::string, password_blocklist, "",
          "File of passwords refused as too common, one per line (# comments); empty: none.");

namespace {

constexpr int kDefaultPort = 50052;

}  // namespace

int main(int argc, char** argv) {
  tally::BlockTerminationSignals();
  tally::DisableMutexDeadlockDetection();
  tally::IgnoreSigpipe();
  tally::ParseFlags(argc, argv, "tally-credential: users, contact data and password hashes");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  auto logger = tally::GetLogger("credential");
  using tally::ExitBadConfig;
  namespace cred = tally::credential;

  absl::StatusOr<tally::ServerOptions> server_options = tally::ServerOptionsFromFlags(kDefaultPort);
  if (!server_options.ok()) ExitBadConfig(argv[0], server_options.status());
  const tally::Clock& clock = tally::SystemClock::Get();
  absl::StatusOr<std::shared_ptr<const tally::RevocationChecker>> revocations =
      tally::RevocationCheckerFromUrl(absl::GetFlag(FLAGS_redis_url), "tally-credential", clock);
  if (!revocations.ok()) {
    ExitBadConfig(argv[0], absl::InvalidArgumentError(
                               absl::StrCat("--redis_url: ", revocations.status().message())));
  }
  auto authenticator = tally::AuthenticatorFromFlags(clock, *revocations);
  if (!authenticator.ok()) ExitBadConfig(argv[0], authenticator.status());
  absl::StatusOr<tally::PgOptions> pg_options = tally::PgOptionsFromFlags();
  if (!pg_options.ok()) ExitBadConfig(argv[0], pg_options.status());

  cred::Argon2Params params;
  params.memory_kib = absl::GetFlag(FLAGS_argon2_memory_kib);
  params.iterations = absl::GetFlag(FLAGS_argon2_iterations);
  params.parallelism = absl::GetFlag(FLAGS_argon2_parallelism);
  if (absl::Status s = cred::ValidateArgon2Params(params); !s.ok()) {
    ExitBadConfig(argv[0], absl::InvalidArgumentError(absl::StrCat("--argon2_*: ", s.message())));
  }
  int max_hashes = absl::GetFlag(FLAGS_max_concurrent_hashes);
  if (max_hashes < 0) {
    ExitBadConfig(argv[0], absl::InvalidArgumentError("--max_concurrent_hashes must be >= 0"));
  }
  if (max_hashes == 0) max_hashes = std::max(1u, std::thread::hardware_concurrency());
  int queue_size = absl::GetFlag(FLAGS_hash_queue_size);
  if (queue_size < -1) {
    ExitBadConfig(argv[0], absl::InvalidArgumentError("--hash_queue_size must be >= -1"));
  }
  if (queue_size == -1) queue_size = max_hashes;
  cred::PasswordRules rules;
  rules.min_length = absl::GetFlag(FLAGS_min_password_length);
  if (rules.min_length < 1 || rules.min_length > 64) {
    ExitBadConfig(argv[0], absl::InvalidArgumentError("--min_password_length must be 1 to 64"));
  }
  cred::PasswordBlocklist blocklist;
  if (const std::string path = absl::GetFlag(FLAGS_password_blocklist); !path.empty()) {
    absl::StatusOr<cred::PasswordBlocklist> loaded = cred::PasswordBlocklist::LoadFile(path);
    if (!loaded.ok()) {
      ExitBadConfig(argv[0], absl::InvalidArgumentError(
                                 absl::StrCat("--password_blocklist: ", loaded.status().message())));
    }
    blocklist = *std::move(loaded);
    logger->info("password blocklist: {} entries", blocklist.size());
  } else {
    logger->warn("no --password_blocklist: common passwords are accepted");
  }
  if (absl::GetFlag(FLAGS_platform_key).empty()) {
    logger->warn("no --platform_key: platform calls (CreateUser to bootstrap) will be refused");
  }

  auto pool = std::make_shared<tally::PgPool>(*pg_options);
  cred::PgCredentialStore store(pool, absl::GetFlag(FLAGS_postgres_schema));
  if (absl::Status s = tally::MigrateAtStartup([&store] { return store.Migrate(); }, *logger);
      !s.ok()) {
    logger->critical("cannot migrate schema {}: {}", absl::GetFlag(FLAGS_postgres_schema), s);
    return 1;
  }

  tally::ServerRunner runner(*server_options, tally::GetLogger("server"));
  cred::CredentialMetrics metrics(runner.metrics().registry());
  // One working buffer per hash that may run: the service's Argon2 memory stays at
  // max_hashes × m from start to end.
  cred::Argon2Buffers buffers(max_hashes, size_t{params.memory_kib} * 1024);
  cred::PasswordHasher hasher(params, tally::CsprngRandom::Get(), &buffers);
  cred::HashLimiter limiter(max_hashes, queue_size);
  absl::StatusOr<cred::BoundedHasher> bounded = cred::BoundedHasher::Create(hasher, limiter, metrics);
  if (!bounded.ok()) {
    logger->critical("cannot hash with these Argon2id parameters: {}", bounded.status());
    return 1;
  }
  logger->info("Argon2id m={} KiB, t={}, p={}; at most {} at once, {} waiting; {} buffers "
               "preallocated",
               params.memory_kib, params.iterations, params.parallelism, max_hashes, queue_size,
               buffers.count());
  const cred::PasswordPolicy policy(rules, std::move(blocklist));
  cred::CredentialManager manager(store, *bounded, policy, metrics, clock,
                                  tally::CsprngRandom::Get());
  cred::CredentialServiceImpl service(manager, *authenticator);

  runner.AddService(&service);
  runner.AddHealthCheck("postgres", [&store] { return store.Ping(); });
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger->critical("{}", s);
    return 1;
  }
  runner.RunUntilSignal();
  return 0;
}
