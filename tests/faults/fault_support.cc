#include "tests/faults/fault_support.h"

#include <signal.h>

#include <algorithm>


#include <grpcpp/client_context.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace tally::faults {
namespace {

namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;

std::string Dev() { return absl::StrCat(testing::SourceDir(), "/tools/dev"); }

}  // namespace

// ---------------------------------------------------------------------------------------------

ScratchRedis::ScratchRedis(bool append_only)
    : dir_(absl::StrCat(temp_.path(), "/redis")),
      port_(testing::FreePort()),
      append_only_(append_only) {}

ScratchRedis::~ScratchRedis() { (void)testing::RunCommand({Dev(), "redis-stop", dir_}); }

absl::Status ScratchRedis::Start() {
  testing::CommandResult r = testing::RunCommand(
      {Dev(), "redis-start", dir_, absl::StrCat(port_), append_only_ ? "yes" : "no"});
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("redis-start: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchRedis::Kill() {
  return testing::KillAndWait(testing::PidFromFile(absl::StrCat(dir_, "/redis.pid")),
                              "redis-server");
}

absl::StatusOr<std::string> ScratchRedis::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p",
                                   absl::StrCat(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::CommandResult r = testing::RunCommand(argv, {}, absl::Seconds(10));
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("redis-cli: ", r.output));
  return r.output;
}

std::string ScratchRedis::url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

// ---------------------------------------------------------------------------------------------

ScratchPostgres::ScratchPostgres()
    : dir_(absl::StrCat(temp_.path(), "/pg")), port_(testing::FreePort()) {}

ScratchPostgres::~ScratchPostgres() { (void)testing::RunCommand({Dev(), "pg-stop", dir_}); }

absl::Status ScratchPostgres::Start() {
  // After a kill -9 the old backends exit once they notice their postmaster is gone; until
  // then the shared memory is in use and a new postmaster refuses to start.
  testing::CommandResult r;
  const bool started = testing::WaitFor(
      [&] {
        r = testing::RunCommand({Dev(), "pg-start", dir_, absl::StrCat(port_)}, {},
                                absl::Seconds(90));
        return r.exit_code == 0;
      },
      absl::Seconds(60));
  if (!started) return absl::UnavailableError(absl::StrCat("pg-start: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchPostgres::Stop() {
  testing::CommandResult r = testing::RunCommand({Dev(), "pg-stop", dir_});
  if (r.exit_code != 0) return absl::InternalError(absl::StrCat("pg-stop: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchPostgres::KillPostmaster() {
  return testing::KillAndWait(testing::PidFromFile(absl::StrCat(dir_, "/data/postmaster.pid")),
                              "postmaster");
}

absl::StatusOr<std::string> ScratchPostgres::Query(const std::string& sql) const {
  testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/psql", "-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U", "postgres", "-d",
       "postgres", "-Atc", sql},
      {}, absl::Seconds(20));
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("psql: ", r.output));
  return std::string(absl::StripAsciiWhitespace(r.output));
}

std::string ScratchPostgres::url() const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/postgres");
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

grpc::Status StartLogin(opb::LoginService::Stub& stub, const std::string& directory,
                        const std::string& username, opb::LoginState* state,
                        absl::Duration timeout) {
  opb::StartLoginRequest r;
  r.set_directory_id(directory);
  r.set_username(username);
  opb::StartLoginResponse out;
  grpc::Status s = stub.StartLogin(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SubmitPassword(opb::LoginService::Stub& stub, const std::string& login,
                            const std::string& password, opb::LoginState* state,
                            absl::Duration timeout) {
  opb::SubmitPasswordRequest r;
  r.set_login_id(login);
  r.set_password(password);
  opb::SubmitPasswordResponse out;
  grpc::Status s = stub.SubmitPassword(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status SendOtp(opb::LoginService::Stub& stub, const std::string& login,
                     otppb::Channel channel, opb::LoginState* state, absl::Duration timeout) {
  opb::SendOtpRequest r;
  r.set_login_id(login);
  r.set_channel(channel);
  opb::SendOtpResponse out;
  grpc::Status s = stub.SendOtp(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status VerifyOtp(opb::LoginService::Stub& stub, const std::string& login,
                       const std::string& code, opb::LoginState* state, absl::Duration timeout) {
  opb::VerifyOtpRequest r;
  r.set_login_id(login);
  r.set_code(code);
  opb::VerifyOtpResponse out;
  grpc::Status s = stub.VerifyOtp(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status GetLogin(opb::LoginService::Stub& stub, const std::string& login,
                      opb::LoginState* state, absl::Duration timeout) {
  opb::GetLoginRequest r;
  r.set_login_id(login);
  opb::GetLoginResponse out;
  grpc::Status s = stub.GetLogin(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status StartPasskey(opb::LoginService::Stub& stub, const std::string& login,
                          std::string* options, absl::Duration timeout) {
  opb::StartPasskeyRequest r;
  r.set_login_id(login);
  opb::StartPasskeyResponse out;
  grpc::Status s = stub.StartPasskey(testing::NewContext("", "", timeout).get(), r, &out);
  if (options != nullptr) *options = out.request_options_json();
  return s;
}

grpc::Status FinishPasskey(opb::LoginService::Stub& stub, const std::string& login,
                           const std::string& assertion, opb::LoginState* state,
                           absl::Duration timeout) {
  opb::FinishPasskeyRequest r;
  r.set_login_id(login);
  r.set_authentication_response_json(assertion);
  opb::FinishPasskeyResponse out;
  grpc::Status s = stub.FinishPasskey(testing::NewContext("", "", timeout).get(), r, &out);
  if (state != nullptr) *state = out.state();
  return s;
}

grpc::Status ValidateSession(opb::SessionService::Stub& stub, const std::string& token,
                             opb::ValidateSessionResponse* claims) {
  opb::ValidateSessionRequest r;
  r.set_token(token);
  opb::ValidateSessionResponse out;
  grpc::Status s = stub.ValidateSession(testing::NewContext().get(), r, &out);
  if (claims != nullptr) *claims = out;
  return s;
}

std::optional<Health> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s =
      stub->Check(testing::NewContext("", "", absl::Seconds(5)).get(), request, &response);
  if (!s.ok()) return std::nullopt;
  switch (response.status()) {
    case grpc::health::v1::HealthCheckResponse::SERVING: return Health::kServing;
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING: return Health::kNotServing;
    default: return Health::kOther;
  }
}

absl::StatusOr<std::string> LoginWithPasswordAndSms(testing::Cluster& cluster,
                                                    const std::string& directory,
                                                    const testing::Cluster::User& user,
                                                    int replica) {
  opb::LoginService::Stub& stub = cluster.logins(replica);
  auto failed = [](const char* step, const grpc::Status& s) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(step, ": ", s.error_message()));
  };
  opb::LoginState state;
  grpc::Status s = StartLogin(stub, directory, user.username, &state);
  if (!s.ok()) return failed("StartLogin", s);
  s = SubmitPassword(stub, state.login_id(), testing::kClusterPassword, &state);
  if (!s.ok()) return failed("SubmitPassword", s);
  const size_t mark = cluster.OutboxMark();
  s = SendOtp(stub, state.login_id(), otppb::CHANNEL_SMS, &state);
  if (!s.ok()) return failed("SendOtp", s);
  const std::string code = cluster.WaitForCode(mark, "sms", user.phone);
  if (code.empty()) return absl::DeadlineExceededError("no SMS code in the outbox");
  s = VerifyOtp(stub, state.login_id(), code, &state);
  if (!s.ok()) return failed("VerifyOtp", s);
  if (state.status() != opb::LOGIN_STATUS_SUCCEEDED) {
    return absl::InternalError(
        absl::StrCat("the login ended ", opb::LoginStatus_Name(state.status())));
  }
  return state.session().token();
}

absl::Status RegisterPasskey(testing::Cluster& cluster, const std::string& directory,
                             const testing::Cluster::User& user, const std::string& token,
                             webauthn::testing::SoftAuthenticator& authenticator) {
  pkpb::StartRegistrationRequest start;
  start.set_directory_id(directory);
  start.set_user_id(user.id);
  start.set_username(user.username);
  start.set_display_name(user.username);
  pkpb::StartRegistrationResponse started;
  grpc::Status s =
      cluster.passkeys().StartRegistration(testing::NewContext(token).get(), start, &started);
  if (!s.ok()) return absl::InternalError(absl::StrCat("StartRegistration: ", Describe(s)));
  pkpb::FinishRegistrationRequest finish;
  finish.set_directory_id(directory);
  finish.set_challenge_id(started.challenge_id());
  finish.set_registration_response_json(authenticator.RegisterFromOptions(
      started.creation_options_json(), testing::kClusterOrigin, "none"));
  finish.set_nickname("soft key");
  pkpb::FinishRegistrationResponse finished;
  s = cluster.passkeys().FinishRegistration(testing::NewContext(token).get(), finish, &finished);
  if (!s.ok()) return absl::InternalError(absl::StrCat("FinishRegistration: ", Describe(s)));
  return absl::OkStatus();
}

grpc::Status PasskeyLogin(opb::LoginService::Stub& stub, const std::string& directory,
                          const std::string& username,
                          webauthn::testing::SoftAuthenticator& authenticator,
                          opb::LoginState* state, absl::Duration timeout) {
  grpc::Status s = StartLogin(stub, directory, username, state, timeout);
  if (!s.ok()) return s;
  std::string options;
  s = StartPasskey(stub, state->login_id(), &options, timeout);
  if (!s.ok()) return s;
  return FinishPasskey(stub, state->login_id(),
                       authenticator.AssertFromOptions(options, testing::kClusterOrigin), state,
                       timeout);
}

double MetricSum(const std::string& body, const std::string& name,
                 const std::vector<std::string>& labels) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;  // a longer name
    bool match = true;
    for (const std::string& label : labels) match = match && absl::StrContains(rest, label);
    if (!match) continue;
    const size_t space = rest.rfind(' ');
    double value = 0;
    if (space != absl::string_view::npos && absl::SimpleAtod(rest.substr(space + 1), &value)) {
      sum += value;
    }
  }
  return sum;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), ": ", status.error_message());
}

// ---------------------------------------------------------------------------------------------

PasswordLoginLoad::PasswordLoginLoad(testing::Cluster& cluster, std::string directory,
                                     std::string right_user, std::string wrong_user,
                                     absl::Duration deadline)
    : directory_(std::move(directory)),
      right_user_(std::move(right_user)),
      wrong_user_(std::move(wrong_user)),
      deadline_(deadline) {
  // Stubs made here, before the threads: the cluster creates them on first use.
  opb::LoginService::Stub* a = &cluster.logins(0);
  opb::LoginService::Stub* b = &cluster.logins(1);
  threads_.emplace_back([this, a] { Run(false, *a); });
  threads_.emplace_back([this, b] { Run(true, *b); });
}

PasswordLoginLoad::~PasswordLoginLoad() { Stop(); }

void PasswordLoginLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

int PasswordLoginLoad::Count(grpc::StatusCode code, bool succeeded) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const Outcome& o : outcomes_) {
    n += o.code == code && (!succeeded || o.status == opb::LOGIN_STATUS_SUCCEEDED);
  }
  return n;
}

int PasswordLoginLoad::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(outcomes_.size());
}

std::vector<PasswordLoginLoad::Outcome> PasswordLoginLoad::outcomes() {
  std::lock_guard<std::mutex> lock(mu_);
  return outcomes_;
}

void PasswordLoginLoad::Run(bool wrong, opb::LoginService::Stub& stub) {
  while (!stop_) {
    Outcome o;
    o.wrong_password = wrong;
    o.start = absl::Now();
    opb::LoginState state;
    grpc::Status s = StartLogin(stub, directory_, wrong ? wrong_user_ : right_user_, &state,
                                deadline_);
    o.longest_call = absl::Now() - o.start;
    if (s.ok()) {
      o.login_id = state.login_id();
      const absl::Time second = absl::Now();
      s = SubmitPassword(stub, state.login_id(),
                         wrong ? "not the password at all" : testing::kClusterPassword, &state,
                         deadline_);
      o.longest_call = std::max(o.longest_call, absl::Now() - second);
    }
    o.end = absl::Now();
    o.code = s.error_code();
    o.message = s.error_message();
    if (s.ok()) {
      o.status = state.status();
      o.step = state.last_step().outcome();
      o.session_id = state.session().session_id();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      outcomes_.push_back(std::move(o));
    }
    // A breather, so two cores shared with the cluster are not all hashing.
    absl::SleepFor(absl::Milliseconds(30));
  }
}

}  // namespace tally::faults
