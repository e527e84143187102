#include "tools/loadgen/login_driver.h"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tally::loadgen {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using webauthn::testing::SoftAuthenticator;

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int lane) {
  grpc::ChannelArguments args;
  // A connection of its own per lane: one HTTP/2 connection would serialise every worker on
  // one socket, which no fleet of login pages does.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("tally.loadgen.lane", lane);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

double MicrosSince(absl::Time start) { return absl::ToDoubleMicroseconds(absl::Now() - start); }

// The points each pool's directory is configured with (PolicyService.UpdateAuthSettings).
struct Settings {
  int required, password, sms, email, passkey;
};
Settings SettingsFor(Scenario scenario) {
  switch (scenario) {
    // A password alone reaches the level.
    case Scenario::kPassword: return {20, 20, 10, 10, 30};
    // The Freemium defaults: a password and one code.
    case Scenario::kPasswordSms:
    case Scenario::kPasswordEmail: return {30, 20, 10, 10, 30};
    // A passkey alone reaches the level; the password does too, for registering the passkey
    // from a session at the required level (DESIGN.md §1 rule 8).
    case Scenario::kPasskey: return {30, 30, 0, 0, 30};
  }
  return {30, 20, 10, 10, 30};
}

}  // namespace

std::string ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kPassword: return "password";
    case Scenario::kPasswordSms: return "password+sms";
    case Scenario::kPasswordEmail: return "password+email";
    case Scenario::kPasskey: return "passkey";
  }
  return "?";
}

absl::StatusOr<Scenario> ParseScenario(absl::string_view name) {
  for (Scenario s : kAllScenarios) {
    if (name == ScenarioName(s)) return s;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown scenario \"", name, "\" (password, password+sms, password+email, passkey, mixed)"));
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

UserPool::UserPool(Scenario scenario, std::string directory_id, std::vector<LoadUser> users)
    : scenario_(scenario),
      directory_id_(std::move(directory_id)),
      users_(std::move(users)),
      exclusive_(scenario != Scenario::kPassword) {
  for (int i = static_cast<int>(users_.size()) - 1; i >= 0; --i) free_.push_back(i);
}

int UserPool::Acquire(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  if (users_.empty()) return -1;
  if (!exclusive_) return static_cast<int>(next_++ % users_.size());
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !free_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available), wait)) return -1;
  const int index = free_.back();
  free_.pop_back();
  return index;
}

void UserPool::Release(int index) {
  if (!exclusive_ || index < 0) return;
  absl::MutexLock lock(&mu_);
  // FIFO-ish reuse: the user that waited longest goes next, spreading sends over destinations.
  free_.insert(free_.begin(), index);
}

LoginDriver::LoginDriver(DriverOptions options, testing::FakeGateway& gateway)
    : options_(std::move(options)), gateway_(gateway) {
  const int lanes = std::max(1, options_.channels);
  for (int lane = 0; lane < lanes; ++lane) {
    logins_.push_back(opb::LoginService::NewStub(NewChannel(options_.endpoints.orchestrator, lane)));
  }
  auto policy = NewChannel(options_.endpoints.policy, 0);
  directories_ = polpb::DirectoryService::NewStub(policy);
  policies_ = polpb::PolicyService::NewStub(policy);
  users_ = credpb::CredentialService::NewStub(NewChannel(options_.endpoints.credential, 0));
  passkeys_ = pkpb::PasskeyService::NewStub(NewChannel(options_.endpoints.passkey, 0));
  if (!options_.endpoints.otp.empty()) {
    otps_ = otppb::OtpService::NewStub(NewChannel(options_.endpoints.otp, 0));
  }
}

opb::LoginService::Stub& LoginDriver::logins(int lane) {
  return *logins_[static_cast<size_t>(lane) % logins_.size()];
}

std::unique_ptr<grpc::ClientContext> LoginDriver::Context(const std::string& bearer,
                                                          bool platform) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!bearer.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer));
  if (platform) context->AddMetadata("x-tally-platform-key", options_.platform_key);
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  return context;
}

absl::StatusOr<std::string> LoginDriver::CreateDirectory(Scenario scenario,
                                                         const std::string& run) {
  polpb::CreateDirectoryRequest request;
  request.set_display_name(absl::StrCat("loadgen ", ScenarioName(scenario), " ", run));
  request.set_tier(polpb::TIER_FREEMIUM);
  polpb::CreateDirectoryResponse response;
  grpc::Status s = directories_->CreateDirectory(Context("", true).get(), request, &response);
  if (!s.ok()) return FromGrpc(s, "CreateDirectory");
  return response.directory().directory_id();
}

absl::Status LoginDriver::Configure(Scenario scenario, const std::string& directory_id) {
  const Settings p = SettingsFor(scenario);
  polpb::UpdateAuthSettingsRequest request;
  polpb::AuthSettings* settings = request.mutable_settings();
  settings->set_directory_id(directory_id);
  settings->set_required_level(p.required);
  const std::pair<cpb::AuthMethod, int> points[] = {{cpb::AUTH_METHOD_PASSWORD, p.password},
                                                    {cpb::AUTH_METHOD_SMS_OTP, p.sms},
                                                    {cpb::AUTH_METHOD_EMAIL_OTP, p.email},
                                                    {cpb::AUTH_METHOD_PASSKEY, p.passkey}};
  for (const auto& [method, value] : points) {
    cpb::MethodPoints* mp = settings->add_method_points();
    mp->set_method(method);
    mp->set_points(value);
  }
  polpb::UpdateAuthSettingsResponse response;
  return FromGrpc(policies_->UpdateAuthSettings(Context("", true).get(), request, &response),
                  "UpdateAuthSettings");
}

absl::Status LoginDriver::CreateUser(const std::string& directory_id, LoadUser& user) {
  credpb::CreateUserRequest request;
  request.set_directory_id(directory_id);
  request.set_username(user.username);
  request.set_password(options_.password);
  request.set_phone_number(user.phone);
  request.set_email(user.email);
  request.add_roles("user");
  credpb::CreateUserResponse response;
  // Creating hashes a password: under a busy credential service it may be throttled.
  for (int attempt = 0;; ++attempt) {
    grpc::Status s = users_->CreateUser(Context("", true).get(), request, &response);
    if (s.ok()) break;
    if (s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || attempt >= 50) {
      return FromGrpc(s, "CreateUser");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  user.id = response.user().user_id();
  return absl::OkStatus();
}

absl::Status LoginDriver::RegisterPasskey(const std::string& directory_id, LoadUser& user) {
  opb::StartLoginRequest start;
  start.set_directory_id(directory_id);
  start.set_username(user.username);
  opb::StartLoginResponse started;
  grpc::Status s = logins(0).StartLogin(Context().get(), start, &started);
  if (!s.ok()) return FromGrpc(s, "StartLogin");
  opb::SubmitPasswordRequest password;
  password.set_login_id(started.state().login_id());
  password.set_password(options_.password);
  opb::SubmitPasswordResponse checked;
  s = logins(0).SubmitPassword(Context().get(), password, &checked);
  if (!s.ok()) return FromGrpc(s, "SubmitPassword");
  if (checked.state().status() != opb::LOGIN_STATUS_SUCCEEDED) {
    return absl::FailedPreconditionError("the set-up password login did not succeed");
  }
  const std::string token = checked.state().session().token();

  pkpb::StartRegistrationRequest begin;
  begin.set_directory_id(directory_id);
  begin.set_user_id(user.id);
  begin.set_username(user.username);
  begin.set_display_name(user.username);
  pkpb::StartRegistrationResponse options;
  s = passkeys_->StartRegistration(Context(token).get(), begin, &options);
  if (!s.ok()) return FromGrpc(s, "StartRegistration");
  user.authenticator = std::make_unique<SoftAuthenticator>(SoftAuthenticator::Alg::kES256);
  pkpb::FinishRegistrationRequest finish;
  finish.set_directory_id(directory_id);
  finish.set_challenge_id(options.challenge_id());
  finish.set_registration_response_json(user.authenticator->RegisterFromOptions(
      options.creation_options_json(), options_.origin, "none"));
  finish.set_nickname("loadgen");
  pkpb::FinishRegistrationResponse finished;
  return FromGrpc(passkeys_->FinishRegistration(Context(token).get(), finish, &finished),
                  "FinishRegistration");
}

absl::StatusOr<std::unique_ptr<UserPool>> LoginDriver::Setup(Scenario scenario, int count,
                                                             int parallelism,
                                                             const std::string& run) {
  absl::StatusOr<std::string> directory = CreateDirectory(scenario, run);
  if (!directory.ok()) return directory.status();
  if (absl::Status s = Configure(scenario, *directory); !s.ok()) return s;

  // Unique contacts per run and pool: "+316" and 8 digits from a random base.
  std::random_device seed;
  const uint64_t base = (static_cast<uint64_t>(seed()) << 16 ^ seed()) % 100000000;
  std::vector<LoadUser> users(static_cast<size_t>(count));
  const std::string tag = absl::StrCat(run, "-", static_cast<int>(scenario));
  for (int i = 0; i < count; ++i) {
    LoadUser& u = users[static_cast<size_t>(i)];
    u.username = absl::StrCat("lg", i);
    u.phone = absl::StrFormat("+316%08d", (base + static_cast<uint64_t>(i)) % 100000000);
    u.email = absl::StrCat("lg", i, "-", tag, "@loadgen.example");
  }
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  auto work = [&] {
    for (size_t i = next++; i < users.size(); i = next++) {
      absl::Status s = CreateUser(*directory, users[i]);
      if (s.ok() && scenario == Scenario::kPasskey) s = RegisterPasskey(*directory, users[i]);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first_error.ok()) first_error = s;
        next = users.size();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, parallelism); ++t) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  if (!first_error.ok()) return first_error;
  return std::make_unique<UserPool>(scenario, *directory, std::move(users));
}

LoginOutcome LoginDriver::Login(UserPool& pool, LoadUser& user, int lane,
                                const StepHook* hook) {
  LoginOutcome out;
  opb::LoginService::Stub& stub = logins(lane);
  // Runs one RPC; false (with the outcome's error set) when it failed.
  auto call = [&](const char* step, auto method, const auto& request, auto* response) {
    if (hook != nullptr) (*hook)(step, true);
    const absl::Time start = absl::Now();
    grpc::Status s = (stub.*method)(Context().get(), request, response);
    const double micros = MicrosSince(start);
    if (hook != nullptr) (*hook)(step, false);
    if (!s.ok()) {
      out.error = CodeName(s.error_code());
      out.error_step = step;
      return false;
    }
    out.steps.emplace_back(step, micros);
    return true;
  };
  auto fail = [&](const char* step, const char* why) {
    out.error = why;
    out.error_step = step;
    return out;
  };

  opb::StartLoginRequest start;
  start.set_directory_id(pool.directory_id());
  start.set_username(user.username);
  opb::StartLoginResponse started;
  if (!call("StartLogin", &opb::LoginService::Stub::StartLogin, start, &started)) return out;
  const std::string login_id = started.state().login_id();
  opb::LoginState state;

  if (pool.scenario() == Scenario::kPasskey) {
    opb::StartPasskeyRequest begin;
    begin.set_login_id(login_id);
    opb::StartPasskeyResponse options;
    if (!call("StartPasskey", &opb::LoginService::Stub::StartPasskey, begin, &options)) return out;
    opb::FinishPasskeyRequest finish;
    finish.set_login_id(login_id);
    finish.set_authentication_response_json(
        user.authenticator->AssertFromOptions(options.request_options_json(), options_.origin));
    opb::FinishPasskeyResponse finished;
    if (!call("FinishPasskey", &opb::LoginService::Stub::FinishPasskey, finish, &finished)) {
      return out;
    }
    state = finished.state();
    if (state.last_step().outcome() == opb::STEP_OUTCOME_REJECTED) {
      return fail("FinishPasskey", "passkey_rejected");
    }
  } else {
    opb::SubmitPasswordRequest password;
    password.set_login_id(login_id);
    password.set_password(options_.password);
    opb::SubmitPasswordResponse checked;
    if (!call("SubmitPassword", &opb::LoginService::Stub::SubmitPassword, password, &checked)) {
      return out;
    }
    state = checked.state();
    if (state.last_step().outcome() == opb::STEP_OUTCOME_REJECTED) {
      return fail("SubmitPassword", "password_rejected");
    }
    if (state.status() == opb::LOGIN_STATUS_LOCKED) return fail("SubmitPassword", "locked");
    if (pool.scenario() != Scenario::kPassword) {
      const bool sms = pool.scenario() == Scenario::kPasswordSms;
      const std::string& destination = sms ? user.phone : user.email;
      gateway_.Expect(destination);
      opb::SendOtpRequest send;
      send.set_login_id(login_id);
      send.set_channel(sms ? otppb::CHANNEL_SMS : otppb::CHANNEL_EMAIL);
      opb::SendOtpResponse sent;
      if (!call("SendOtp", &opb::LoginService::Stub::SendOtp, send, &sent)) return out;
      const absl::Time waiting = absl::Now();
      std::optional<std::string> code = gateway_.Wait(destination, options_.code_timeout);
      if (!code.has_value()) return fail("CodeDelivery", "code_timeout");
      out.steps.emplace_back("CodeDelivery", MicrosSince(waiting));
      opb::VerifyOtpRequest verify;
      verify.set_login_id(login_id);
      verify.set_code(*code);
      opb::VerifyOtpResponse verified;
      if (!call("VerifyOtp", &opb::LoginService::Stub::VerifyOtp, verify, &verified)) return out;
      state = verified.state();
      if (state.last_step().outcome() == opb::STEP_OUTCOME_REJECTED) {
        return fail("VerifyOtp", "code_rejected");
      }
    }
  }
  if (state.status() != opb::LOGIN_STATUS_SUCCEEDED || state.session().token().empty()) {
    return fail("Finish", "not_succeeded");
  }
  out.succeeded = true;
  return out;
}

}  // namespace tally::loadgen
