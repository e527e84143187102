// tally-otp: SMS and e-mail one-time codes (DESIGN.md §2, issue 4). One binary, three roles:
// `api` serves OtpService, `sender` delivers queued codes, `all` does both. Wiring only: the
// flags are OtpServerConfig, the logic is OtpManager and Sender.

#include <memory>
#include <optional>

#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/server/service_main.h"
#include "services/otp/otp_callers.h"
#include "services/otp/otp_config.h"
#include "services/otp/otp_manager.h"
#include "services/otp/otp_metrics.h"
#include "services/otp/otp_service.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/redis_otp_store.h"
#include "services/otp/sender_role.h"

int main(int argc, char** argv) {
  namespace otp = tally::otp;
  tally::ServiceMain service(argc, argv,
                             "tally-otp: SMS and e-mail one-time codes (api and sender)", "otp");
  const otp::OtpServerConfig config = service.RequireConfig(otp::OtpServerConfigFromFlags());
  // Never connects here. Revoked sessions are checked in this Redis too.
  auto redis = std::make_shared<tally::RedisClient>(config.redis);
  auto authenticator = service.MakeAuthenticator(
      std::make_shared<const tally::RedisRevocationStore>(redis, service.clock()),
      otp::OtpCallers());
  otp::RedisOtpStore store(redis);
  // The api side of the delivery queue: appends jobs, lists dead letters.
  otp::RedisDeliveryQueue queue(redis, config.queue);

  tally::ServerRunner runner(config.server, tally::GetLogger("server"));
  otp::OtpMetrics metrics(runner.metrics().registry());
  otp::OtpManager manager(store, queue, service.clock(), service.random(), config.codes,
                          &metrics);
  otp::OtpServiceImpl otp_service(manager, authenticator);
  if (config.serves_api) runner.AddService(&otp_service);
  runner.AddHealthCheck("redis", [&store] { return store.Ping(); });

  std::optional<otp::SenderRole> sender;
  if (config.sends) {
    sender.emplace(config.sender, config.queue, config.codes.job_key, service.clock(),
                   service.random(), &metrics);
  }
  const int exit_code = service.Serve(runner, [&] {
    if (sender) sender->Start(service.logger());
    service.logger().info("role {}", config.role);
  });
  if (sender) sender->Stop();
  return exit_code;
}
