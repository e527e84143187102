#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/otp/otp_manager.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/sender_role.h"

namespace tally::otp {

// Everything tally-otp takes from its flags (and their TALLY_* variables), checked.
struct OtpServerConfig {
  ServerOptions server;  // the shared server flags; port 50053 by default
  std::string role;      // --role: api, sender or all
  bool serves_api = true;   // role api or all: OtpService is served
  bool sends = true;        // role sender or all: delivery workers run
  RedisOptions redis;       // --redis_url (required), --redis_pool_size
  OtpConfig codes;          // --otp_hmac_key, --otp_encryption_key, --otp_code_ttl, budgets...
  QueueNames queue;         // --otp_queue, --otp_queue_shards, --otp_consumer_group...
  // The sender role only (defaults otherwise): workers, retries, providers; the consumer prefix
  // is this host and process.
  SenderRoleConfig sender;
};

// INVALID_ARGUMENT naming the flag when a value is bad. Secrets are never quoted.
absl::StatusOr<OtpServerConfig> OtpServerConfigFromFlags();

}  // namespace tally::otp
