#include "common/server/server_runner.h"

#include <signal.h>

#include <algorithm>
#include <optional>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/server/request_parse_interceptor.h"
#include "common/server/sync_server_threads.h"
#include "common/util/host_port.h"

ABSL_FLAG(std::string, listen, "", "gRPC address host:port (default 0.0.0.0:<service port>).");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address host:port (default: listen port + 1000); \"off\" disables.");
ABSL_FLAG(int, max_message_bytes, 4 * 1024 * 1024, "Largest gRPC message accepted or sent.");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(1),
          "On SIGTERM, how long health says NOT_SERVING while new calls are still served, so "
          "clients that watch health move away before calls are refused.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(20),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(10),
          "Clients are asked to reconnect after this long (they then see replicas added since); "
          "0 never.");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Seconds(2),
          "How often the stores are probed for the gRPC health service.");

namespace tally {

absl::StatusOr<ServerOptions> ServerOptionsFromFlags(int default_port) {
  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  if (options.listen.empty()) options.listen = absl::StrCat("0.0.0.0:", default_port);
  const std::optional<HostPort> listen = SplitHostPort(options.listen);
  if (!listen.has_value()) return absl::InvalidArgumentError("--listen must be host:port");
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (options.metrics_listen == "off") {
    options.metrics_listen.clear();
  } else if (options.metrics_listen.empty()) {
    if (listen->port == 0 || listen->port + 1000 > 65535) {
      return absl::InvalidArgumentError("--metrics_listen is required with this --listen port");
    }
    options.metrics_listen = absl::StrCat(listen->host, ":", listen->port + 1000);
  } else if (!SplitHostPort(options.metrics_listen).has_value()) {
    return absl::InvalidArgumentError("--metrics_listen must be host:port or off");
  }
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (options.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("--max_message_bytes must be at least 1024");
  }
  options.drain_grace = absl::GetFlag(FLAGS_drain_grace);
  if (options.drain_grace < absl::ZeroDuration() || options.drain_grace > absl::Minutes(1)) {
    return absl::InvalidArgumentError("--drain_grace must be between 0s and 1m");
  }
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_timeout must not be negative");
  }
  options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  if (options.max_connection_age < absl::ZeroDuration() ||
      (options.max_connection_age > absl::ZeroDuration() &&
       options.max_connection_age < absl::Seconds(10))) {
    return absl::InvalidArgumentError("--max_connection_age must be 0 or at least 10s");
  }
  options.health_interval = absl::GetFlag(FLAGS_health_check_interval);
  if (options.health_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--health_check_interval must be positive");
  }
  absl::StatusOr<TlsFiles> tls = TlsFilesFromFlags();
  if (!tls.ok()) return tls.status();
  options.tls = *std::move(tls);
  return options;
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void IgnoreSigpipe() { signal(SIGPIPE, SIG_IGN); }

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServerRunner::ServerRunner(ServerOptions options, std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), logger_(std::move(logger)) {
  health_ = std::make_unique<HealthMonitor>(
      options_.health_interval,
      [this](bool serving) {
        if (server_ != nullptr) {
          server_->GetHealthCheckService()->SetServingStatus(kReadinessService, serving);
        }
      },
      [this](const std::string& store, bool up) { metrics_.SetStoreUp(store, up); }, logger_);
}

ServerRunner::~ServerRunner() { Shutdown(); }

void ServerRunner::AddService(grpc::Service* service) { services_.push_back(service); }

void ServerRunner::AddHealthCheck(std::string store, HealthMonitor::Check check) {
  health_->AddCheck(std::move(store), std::move(check));
}

absl::Status ServerRunner::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, MakeServerCredentials(options_.tls, *logger_), &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  SetSyncServerThreads(builder);
  if (options_.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(absl::ToInt64Milliseconds(
                                   std::min(options_.max_connection_age, absl::Hours(24 * 20)))));
    // Calls in flight on an aged connection finish as in a drain, and never get less than 30 s
    // (a zero grace would cut them off).
    const absl::Duration grace = std::max(options_.drain_timeout, absl::Seconds(30));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(std::min(grace, absl::Hours(24 * 20)))));
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // First, so the metrics interceptor records the rewritten code.
  creators.push_back(MakeRequestParseInterceptorFactory());
  creators.push_back(metrics_.MakeInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(creators));
  for (grpc::Service* service : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (!options_.metrics_listen.empty()) {
    auto exposer = ServeMetrics(options_.metrics_listen, metrics_.shared_registry());
    if (!exposer.ok()) {
      server_->Shutdown();
      return exposer.status();
    }
    exposer_ = std::move(*exposer);
    const auto ports = exposer_->GetListeningPorts();
    const std::optional<HostPort> listen = SplitHostPort(options_.metrics_listen);
    metrics_address_ = ports.empty() || !listen.has_value()
                           ? options_.metrics_listen
                           : absl::StrCat(listen->host, ":", ports.front());
  }
  // Liveness only says the process serves gRPC: a store outage must not get pods restarted.
  server_->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  // Probe once before announcing readiness, so the first answer is already the truth.
  server_->GetHealthCheckService()->SetServingStatus(kReadinessService, health_->CheckNow());
  health_->Start();
  logger_->info("serving gRPC on port {}{}", port_,
                metrics_address_.empty() ? "" : absl::StrCat(", metrics on http://",
                                                             metrics_address_, "/metrics"));
  return absl::OkStatus();
}

void ServerRunner::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  logger_->info("received {}, draining: NOT_SERVING for {}, then in-flight calls get at most {}",
                signal == SIGTERM ? "SIGTERM" : "SIGINT",
                absl::FormatDuration(options_.drain_grace),
                absl::FormatDuration(options_.drain_timeout));
  Shutdown();
}

void ServerRunner::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  health_->Stop();
  // Fail health checks first and keep serving a while: load balancers and clients that watch
  // health stop sending here. gRPC's Shutdown below cancels every call that reaches the server
  // after it starts, and a client cannot tell such a CANCELLED from one that took effect.
  server_->GetHealthCheckService()->Shutdown();
  if (options_.drain_grace > absl::ZeroDuration()) absl::SleepFor(options_.drain_grace);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(options_.drain_timeout));
  server_->Wait();
  exposer_.reset();
  logger_->info("stopped");
}

}  // namespace tally
