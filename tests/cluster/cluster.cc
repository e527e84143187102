#include "tests/cluster/cluster.h"

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "common/server/peer_channel.h"
#include "common/server/tls.h"
#include "common/testing/pki.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/otp/otp_keys.h"

namespace tally::testing {
namespace {

namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace polpb = ::tally::policy::v1;

// Test-only OTP keys (32 bytes each, hex).
constexpr char kOtpHmacKey[] = "6532652d6f74702d686d61632d6b65792d666f722d74657374732d6f6e6c7921";
constexpr char kOtpEncryptionKey[] =
    "6532652d6f74702d6a6f622d6b65792d666f722d74657374732d6f6e6c792121";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

uint64_t NextNumber() {
  static uint64_t seed = std::hash<std::string>()(UniqueSuffix());
  seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  return seed >> 17;
}

}  // namespace

std::string ReplicaName(const std::string& family, int replica) {
  return absl::StrCat(family, "-", std::string(1, static_cast<char>('a' + replica)));
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  absl::StatusOr<std::shared_ptr<const TestKeys>> keys = TestKeys::Make();
  if (keys.ok()) {
    keys_ = *std::move(keys);
  } else {
    ADD_FAILURE() << keys.status();
  }
  if (options_.start) Start();
}

Cluster::~Cluster() {
  // Callers first (orchestrators, then passkey which calls policy), stores' owners last; all
  // drain at once.
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    if ((*it)->process().running()) (*it)->process().Signal(SIGTERM);
  }
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    if ((*it)->process().running()) (void)(*it)->Stop(SIGTERM);
  }
}

bool Cluster::Prepare() {
  if (prepared_) return true;
  const std::string suffix = UniqueSuffix();
  outbox_path_ = absl::StrCat(temp_.path(), "/outbox.jsonl");
  otp_queue_ = absl::StrCat("cluster-", suffix);
  if (keys_ == nullptr) return false;
  if (options_.tls) {
    // A certificate per service naming it (as the deploy overlays issue them), since cluster
    // RPCs admit only the callers API.md names; the test's own client is a login client or an
    // admin tool, named by no SAN.
    Pki pki(temp_.path());
    std::vector<absl::Status> made = {pki.MakeCa("ca"), pki.MakeCert("client", "ca")};
    for (const char* service : kClusterServices) {
      made.push_back(pki.MakeCert(service, "ca", {Pki::ServiceSan(service)}));
    }
    for (const absl::Status& s : made) {
      if (!s.ok()) {
        ADD_FAILURE() << s;
        return false;
      }
    }
  }
  if (options_.redis_url.empty() && options_.redis_cluster_nodes.empty()) {
    options_.redis_url = RequiredEnv("TALLY_TEST_REDIS_URL");
  }
  if (options_.postgres_url.empty()) {
    options_.postgres_url = RequiredEnv("TALLY_TEST_POSTGRES_URL");
  }

  // Ports first: peers' addresses go into the flags.
  // Send budgets out of the way, as caps and cooldown (suites that test them set their own).
  const std::vector<std::string> otp_flags = {
      absl::StrCat("--otp_queue=", otp_queue_),
      absl::StrCat("--otp_queue_shards=", kOtpQueueShards),
      absl::StrCat("--otp_consumer_group=cluster-", suffix), "--otp_cooldown=0s",
      "--otp_destination_hourly_cap=1000", "--otp_unproven_user_hourly_cap=1000",
      "--otp_unproven_client_ip_hourly_cap=100000", "--otp_unproven_directory_hourly_cap=100000",
      "--otp_read_block=200ms"};
  Add("policy", "policy", "tally-policy", {absl::StrCat("--postgres_schema=policy_c_", suffix)});
  const std::string policy = service("policy").address();
  // Before credential, which sends the codes and notices of contact changes through it.
  std::vector<std::string> api = {"--role=api"};
  api.insert(api.end(), otp_flags.begin(), otp_flags.end());
  Add("otp", "otp", "tally-otp", api);
  std::string credential_target;
  for (const std::string& name : credential_names()) {
    Add(name, "credential", "tally-credential",
        {absl::StrCat("--postgres_schema=credential_c_", suffix),
         absl::StrCat("--policy_addr=", policy),
         absl::StrCat("--otp_addr=", service("otp").address()),
         absl::StrCat("--password_blocklist=", SourceDir(),
                      "/services/credential/data/common_passwords.txt")});
    absl::StrAppend(&credential_target, credential_target.empty() ? "" : ",",
                    service(name).address());
  }
  // Several replicas: one target naming them all, as a headless Service's DNS name would.
  if (options_.credentials > 1) credential_target = absl::StrCat("ipv4:", credential_target);
  for (int i = 0; i < options_.otp_senders; ++i) {
    std::vector<std::string> sender = {"--role=sender"};
    if (options_.delivery == "http") {
      // The tests' gateway speaks plain HTTP.
      sender.insert(sender.end(), {"--otp_sms_provider=http", "--otp_email_provider=http",
                                   absl::StrCat("--sms_http_url=", options_.http_url),
                                   "--allow_insecure_gateway"});
    } else {
      sender.insert(sender.end(), {"--otp_sms_provider=outbox", "--otp_email_provider=outbox",
                                   absl::StrCat("--otp_outbox_file=", outbox_path_)});
    }
    sender.insert(sender.end(), otp_flags.begin(), otp_flags.end());
    Add(ReplicaName("otp-sender", i), "otp-sender", "tally-otp", sender);
  }
  Add("passkey", "passkey", "tally-passkey",
      {absl::StrCat("--postgres_schema=passkey_c_", suffix), absl::StrCat("--policy_addr=", policy),
       "--rp_id=localhost", absl::StrCat("--rp_origins=", kClusterOrigin)});
  for (int i = 0; i < options_.orchestrators; ++i) {
    Add(ReplicaName("orchestrator", i), "orchestrator", "tally-orchestrator",
        {absl::StrCat("--policy_addr=", policy),
         absl::StrCat("--credential_addr=", credential_target),
         absl::StrCat("--otp_addr=", service("otp").address()),
         absl::StrCat("--passkey_addr=", service("passkey").address()),
         // Settings apply at the very next step.
         "--settings_cache_ttl=0s", "--peer_timeout=5s",
         "--lockout_threshold=5", absl::StrCat("--lockout_duration=", kClusterLockoutSeconds, "s"),
         absl::StrCat("--lockout_max_duration=", kClusterLockoutSeconds, "s")});
  }
  prepared_ = true;
  return true;
}

std::vector<std::string> Cluster::otp_dead_streams() const {
  std::vector<std::string> streams;
  for (int shard = 0; shard < kOtpQueueShards; ++shard) {
    streams.push_back(otp::keys::Dead(otp_queue_, shard));
  }
  return streams;
}

void Cluster::Add(const std::string& name, const std::string& family, const std::string& binary,
                  std::vector<std::string> flags) {
  if (options_.tls) {
    // OTP senders are the OTP service too.
    const std::string cert = family == "otp-sender" ? "otp" : family;
    flags.insert(flags.end(), {absl::StrCat("--tls_cert=", temp_.path(), "/", cert, ".pem"),
                               absl::StrCat("--tls_key=", temp_.path(), "/", cert, ".key"),
                               absl::StrCat("--tls_ca=", temp_.path(), "/ca.pem")});
  }
  for (const std::string& key : {family, name}) {
    auto extra = options_.flags.find(key);
    if (extra != options_.flags.end()) {
      flags.insert(flags.end(), extra->second.begin(), extra->second.end());
    }
    if (family == name) break;
  }
  services_.push_back(std::make_unique<ServiceProcess>(
      ServiceOptions{.binary = binary,
                     .name = name,
                     .flags = std::move(flags),
                     .postgres_url = options_.postgres_url,
                     .redis_url = options_.redis_url,
                     .keys = keys_,
                     .env = {{"TALLY_REDIS_CLUSTER_NODES", options_.redis_cluster_nodes},
                             {"TALLY_OTP_HMAC_KEY", kOtpHmacKey},
                             {"TALLY_OTP_ENCRYPTION_KEY", kOtpEncryptionKey}},
                     .metrics = options_.metrics,
                     .health_check_interval = absl::Milliseconds(200),
                     .drain_timeout = absl::Seconds(1),
                     .credentials = ClientCredentials()}));
}

bool Cluster::Start() {
  if (!Prepare()) return false;
  // Side by side: every process first, then the wait for each.
  for (auto& s : services_) {
    if (absl::Status launched = s->Launch(); !launched.ok()) {
      ADD_FAILURE() << launched;
      return false;
    }
  }
  for (auto& s : services_) {
    if (absl::Status ready = s->WaitReady(); !ready.ok()) {
      ADD_FAILURE() << ready;
      return false;
    }
  }
  directories_ = policy::v1::DirectoryService::NewStub(Channel("policy"));
  policies_ = policy::v1::PolicyService::NewStub(Channel("policy"));
  users_ = credpb::CredentialService::NewStub(Channel(credential_names().front()));
  otps_ = otp::v1::OtpService::NewStub(Channel("otp"));
  passkeys_ = passkey::v1::PasskeyService::NewStub(Channel("passkey"));
  ready_ = true;
  return true;
}

ServiceProcess& Cluster::service(const std::string& name) {
  for (auto& s : services_) {
    if (s->name() == name) return *s;
  }
  ADD_FAILURE() << "no service " << name;
  static ServiceProcess none(ServiceOptions{.binary = "none", .keys = keys_});
  return none;
}

std::vector<std::string> Cluster::service_names() const {
  std::vector<std::string> names;
  for (const auto& s : services_) names.push_back(s->name());
  return names;
}

absl::Status Cluster::Restart(const std::string& name) { return service(name).Restart(); }

void Cluster::Stop(const std::string& name, int signal) {
  ServiceProcess& s = service(name);
  if (s.process().running()) (void)s.Stop(signal);
}

bool Cluster::Serving(const std::string& name) { return service(name).Serving(); }

std::shared_ptr<grpc::ChannelCredentials> Cluster::ClientCredentials(
    const std::string& certificate) const {
  if (!options_.tls) return grpc::InsecureChannelCredentials();
  TlsFiles files;
  files.cert = absl::StrCat(temp_.path(), "/", certificate, ".pem");
  files.key = absl::StrCat(temp_.path(), "/", certificate, ".key");
  files.ca = absl::StrCat(temp_.path(), "/ca.pem");
  return MakeChannelCredentials(files);
}

std::shared_ptr<grpc::Channel> Cluster::ChannelAs(const std::string& name,
                                                   const std::string& certificate) {
  return grpc::CreateChannel(service(name).address(), ClientCredentials(certificate));
}

std::vector<std::string> Cluster::ClientTlsFlags() const {
  if (!options_.tls) return {};
  return {absl::StrCat("--tls_cert=", temp_.path(), "/client.pem"),
          absl::StrCat("--tls_key=", temp_.path(), "/client.key"),
          absl::StrCat("--tls_ca=", temp_.path(), "/ca.pem")};
}

std::vector<std::string> Cluster::credential_names() const {
  if (options_.credentials <= 1) return {"credential"};
  std::vector<std::string> names;
  for (int i = 0; i < options_.credentials; ++i) names.push_back(ReplicaName("credential", i));
  return names;
}

std::shared_ptr<grpc::Channel> Cluster::WatchingChannel(const std::string& name) {
  // What the services use between themselves; a restarted service is found within a second.
  return MakePeerChannel(service(name).address(), ClientCredentials(), absl::Seconds(1));
}

opb::LoginService::Stub& Cluster::logins(int replica) {
  std::lock_guard<std::mutex> lock(stubs_mu_);
  auto& stub = logins_[replica];
  if (!stub) {
    stub = opb::LoginService::NewStub(Channel(ReplicaName("orchestrator", replica)));
  }
  return *stub;
}

opb::SessionService::Stub& Cluster::sessions() {
  std::lock_guard<std::mutex> lock(stubs_mu_);
  if (!sessions_) sessions_ = opb::SessionService::NewStub(Channel("orchestrator-a"));
  return *sessions_;
}

policy::v1::DirectoryService::Stub& Cluster::directories() { return *directories_; }
policy::v1::PolicyService::Stub& Cluster::policies() { return *policies_; }
credpb::CredentialService::Stub& Cluster::users() { return *users_; }
otp::v1::OtpService::Stub& Cluster::otps() { return *otps_; }
passkey::v1::PasskeyService::Stub& Cluster::passkeys() { return *passkeys_; }

std::string Cluster::CreateDirectory(polpb::Tier tier) {
  polpb::CreateDirectoryRequest request;
  request.set_display_name(absl::StrCat("Cluster ", UniqueSuffix()));
  request.set_tier(tier);
  polpb::CreateDirectoryResponse response;
  grpc::Status s =
      directories_->CreateDirectory(NewContext("", platform_key()).get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.directory().directory_id();
}

Cluster::User Cluster::CreateUser(const std::string& directory, const std::string& username,
                                  std::vector<std::string> roles) {
  User user;
  user.username = username;
  const std::string digits = absl::StrCat(100000000 + (NextNumber() % 900000000));
  user.phone = absl::StrCat("+316", digits.substr(1));
  user.email = absl::StrCat(username, "-", UniqueSuffix(), "@e2e.example");
  credpb::CreateUserRequest request;
  request.set_directory_id(directory);
  request.set_username(username);
  request.set_password(kClusterPassword);
  request.set_phone_number(user.phone);
  request.set_email(user.email);
  for (const std::string& role : roles) request.add_roles(role);
  credpb::CreateUserResponse response;
  grpc::Status s = users_->CreateUser(NewContext("", platform_key()).get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  user.id = response.user().user_id();
  return user;
}

size_t Cluster::OutboxMark() const { return Lines().size(); }

std::string Cluster::WaitForMessage(size_t mark, const std::string& channel,
                                    const std::string& destination,
                                    const std::function<bool(const std::string&)>& accept) const {
  std::string found;
  WaitFor(
      [&] {
        std::vector<std::string> lines = Lines();
        for (size_t i = mark; i < lines.size(); ++i) {
          nlohmann::json m = nlohmann::json::parse(lines[i], nullptr, false);
          if (m.is_discarded() || m.value("channel", "") != channel ||
              m.value("destination", "") != destination) {
            continue;
          }
          const std::string text = m.value("text", "");
          if (accept == nullptr || accept(text)) {
            found = text;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20));
  return found;
}

std::string Cluster::WaitForCode(size_t mark, const std::string& channel,
                                 const std::string& destination) const {
  // "code is NNNNNN" (SMS), "code is: NNNNNN" (email); the destination has digits of its own.
  static const std::regex kCode("code is:? ([0-9]{6})\\b");
  const std::string text = WaitForMessage(mark, channel, destination, [](const std::string& t) {
    return std::regex_search(t, kCode);
  });
  std::smatch match;
  return std::regex_search(text, match, kCode) ? std::string(match[1]) : "";
}

std::vector<std::string> Cluster::Lines() const {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(outbox_path_));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace tally::testing
