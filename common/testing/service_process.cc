#include "common/testing/service_process.h"

#include <algorithm>
#include <utility>

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tally::testing {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

std::shared_ptr<grpc::ChannelCredentials> CredentialsOf(const ServiceOptions& options) {
  return options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
}

}  // namespace

std::unique_ptr<grpc::ClientContext> NewContext(const std::string& token,
                                                const std::string& platform_key,
                                                absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  if (!platform_key.empty()) context->AddMetadata("x-tally-platform-key", platform_key);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

ServiceProcess::ServiceProcess(ServiceOptions options) : options_(std::move(options)) {
  if (options_.name.empty()) options_.name = options_.binary;
  if (options_.keys == nullptr) {
    absl::StatusOr<std::shared_ptr<const TestKeys>> keys = TestKeys::Make();
    if (keys.ok()) {
      options_.keys = *std::move(keys);
    } else {
      ADD_FAILURE() << options_.name << ": no keys: " << keys.status();
    }
  }
  port_ = FreePort();
  argv_ = {absl::StrCat(BinDir(), "/", options_.binary),
           absl::StrCat("--listen=", address()),
           "--drain_grace=0s",
           absl::StrCat("--drain_timeout=", absl::FormatDuration(options_.drain_timeout)),
           absl::StrCat("--health_check_interval=",
                        absl::FormatDuration(options_.health_check_interval))};
  if (options_.metrics) {
    metrics_port_ = FreePort();
    argv_.push_back(absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_));
  } else {
    argv_.push_back("--metrics_listen=off");
  }
  argv_.insert(argv_.end(), options_.flags.begin(), options_.flags.end());
  if (options_.keys != nullptr) env_ = options_.keys->Env();
  env_["TALLY_POSTGRES_URL"] = options_.postgres_url;
  env_["TALLY_REDIS_URL"] = options_.redis_url;
  for (const auto& [name, value] : options_.env) env_[name] = value;
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status ServiceProcess::Launch() {
  if (options_.keys == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, ": no keys"));
  }
  if (absl::Status started = process_->Start(argv_, env_); !started.ok()) {
    return absl::InternalError(absl::StrCat(options_.name, ": ", started.message()));
  }
  return absl::OkStatus();
}

absl::Status ServiceProcess::WaitReady() {
  if (!process_->running()) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, " is not running"));
  }
  // A probe channel of its own that tries again soon after a refused connection (the default
  // backoff grows to seconds while the binary is still starting).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto probe = grpc::CreateCustomChannel(address(), CredentialsOf(options_), args);
  auto health = grpc::health::v1::Health::NewStub(probe);
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (true) {
    if (absl::StatusOr<int> exited = process_->Wait(absl::ZeroDuration()); exited.ok()) {
      return absl::UnavailableError(absl::StrCat(options_.name, " exited with code ", *exited,
                                                 " while starting:\n", Output()));
    }
    const absl::Time attempt = std::min(deadline, absl::Now() + absl::Milliseconds(500));
    if (options_.ready == ServiceOptions::Ready::kConnected) {
      if (probe->WaitForConnected(absl::ToChronoTime(attempt))) return absl::OkStatus();
    } else {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(attempt));
      context.set_wait_for_ready(true);
      HealthCheckResponse response;
      if (health->Check(&context, HealthCheckRequest(), &response).ok() &&
          response.status() == HealthCheckResponse::SERVING) {
        return absl::OkStatus();
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(options_.name, " was not ",
                       options_.ready == ServiceOptions::Ready::kServing ? "SERVING" : "reachable",
                       " after ", absl::FormatDuration(options_.start_timeout), ":\n", Output()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<int> ServiceProcess::Stop(int signal, absl::Duration timeout) {
  if (!process_->running()) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, " is not running"));
  }
  process_->Signal(signal);
  absl::StatusOr<int> code = process_->Wait(timeout);
  if (code.ok()) return code;
  process_->Signal(SIGKILL);
  (void)process_->Wait(absl::Seconds(5));
  return absl::DeadlineExceededError(absl::StrCat(
      options_.name, " still ran ", absl::FormatDuration(timeout), " after signal ", signal,
      "; killed"));
}

absl::Status ServiceProcess::Restart() {
  if (process_->running()) (void)Stop();
  process_ = std::make_unique<Subprocess>();
  return Start();
}

HealthCheckResponse::ServingStatus ServiceProcess::Health(const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel());
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status s = stub->Check(NewContext("", "", absl::Seconds(5)).get(), request, &response);
  return s.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

std::shared_ptr<grpc::Channel> ServiceProcess::channel() {
  absl::MutexLock lock(&mu_);
  if (channel_ == nullptr) channel_ = grpc::CreateChannel(address(), CredentialsOf(options_));
  return channel_;
}

std::string ServiceProcess::Metrics() const {
  if (metrics_port_ == 0) return "";
  absl::StatusOr<std::string> body = HttpGet(metrics_port_, "/metrics");
  return body.ok() ? *body : "";
}

}  // namespace tally::testing
