#include "common/testing/fake_gateway.h"

#include <civetweb.h>

#include <cctype>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/util/host_port.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally::testing {
namespace {

constexpr long long kMaxBody = 64 * 1024;

void Answer(mg_connection* connection, int status) {
  const std::string body = absl::StrCat("{\"status\":", status, "}");
  const std::string length = absl::StrCat(body.size());
  // CivetWeb's response API keeps the connection open (HTTP/1.1 keep-alive) whatever the
  // status, as a real gateway does for the senders' kept connections.
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", "application/json", -1);
  mg_response_header_add(connection, "Content-Length", length.c_str(), -1);
  mg_response_header_send(connection);
  mg_write(connection, body.data(), body.size());
}

}  // namespace

std::string ExtractCode(absl::string_view text) {
  static constexpr absl::string_view kMarker = "code is";
  size_t at = 0;
  while ((at = text.find(kMarker, at)) != absl::string_view::npos) {
    size_t i = at + kMarker.size();
    if (i < text.size() && text[i] == ':') ++i;
    if (i < text.size() && text[i] == ' ') ++i;
    size_t digits = 0;
    while (i + digits < text.size() && std::isdigit(static_cast<unsigned char>(text[i + digits]))) {
      ++digits;
    }
    if (digits == 6) return std::string(text.substr(i, 6));
    at += kMarker.size();
  }
  return "";
}

FakeGateway::FakeGateway() : FakeGateway(Options()) {}

FakeGateway::FakeGateway(Options options) : options_(std::move(options)) {}

FakeGateway::~FakeGateway() { Stop(); }

absl::Status FakeGateway::Start() {
  Stop();
  std::optional<HostPort> listen = SplitHostPort(options_.listen);
  if (!listen.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the gateway listens on host:port, not \"", options_.listen, "\""));
  }
  if (port_ != 0) listen->port = port_;  // a restart keeps its port
  const std::string ports = absl::StrCat(listen->host, ":", listen->port);
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
  // Every kept connection holds a thread; the senders keep theirs between messages (and their
  // retries back off for seconds), so threads and idle time are generous. The answer leaves in
  // two writes (headers, body): with Nagle's algorithm the body waited for the sender's delayed
  // ACK of the headers, ~40 ms per message during which the sender's worker waits for it.
  const char* civet_options[] = {"listening_ports",    ports.c_str(), "num_threads", "32",
                                 "request_timeout_ms", "10000", "enable_keep_alive", "yes",
                                 "keep_alive_timeout_ms", "60000", "tcp_nodelay", "1", nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  // CivetWeb logs to stderr by default; a refused bind comes back as mg_start's NULL instead.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  context_ = mg_start(&callbacks, this, civet_options);
  if (context_ == nullptr) return absl::UnavailableError(absl::StrCat("cannot listen on ", ports));
  mg_set_request_handler(context_, "/", &FakeGateway::Handle, this);
  mg_server_port bound[4];
  if (mg_get_server_ports(context_, 4, bound) < 1 || bound[0].port <= 0) {
    Stop();
    return absl::InternalError("the gateway has no port");
  }
  port_ = bound[0].port;
  return absl::OkStatus();
}

void FakeGateway::Stop() {
  if (context_ != nullptr) {
    mg_stop(context_);
    context_ = nullptr;
  }
}

std::string FakeGateway::url(absl::string_view path) const {
  std::optional<HostPort> listen = SplitHostPort(options_.listen);
  return absl::StrCat("http://", listen.has_value() ? listen->host : "127.0.0.1", ":", port_,
                      path);
}

void FakeGateway::ScriptStatuses(std::vector<int> statuses) {
  absl::MutexLock lock(&mu_);
  script_.assign(statuses.begin(), statuses.end());
}

void FakeGateway::SetStatus(const std::string& destination, int status) {
  absl::MutexLock lock(&mu_);
  statuses_[destination] = status;
}

void FakeGateway::SetDefaultStatus(int status) {
  absl::MutexLock lock(&mu_);
  default_status_ = status;
}

int FakeGateway::StatusFor(const std::string& to) {
  if (!script_.empty()) {
    const int status = script_.front();
    script_.pop_front();
    return status;
  }
  auto it = statuses_.find(to);
  return it != statuses_.end() ? it->second : default_status_;
}

int FakeGateway::Handle(mg_connection* connection, void* self) {
  return static_cast<FakeGateway*>(self)->Handle(connection);
}

int FakeGateway::Handle(mg_connection* connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  Request request;
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  request.client_port = info->remote_port;
  if (const char* h = mg_get_header(connection, "Authorization")) request.authorization = h;
  if (const char* h = mg_get_header(connection, "Content-Type")) request.content_type = h;

  int status = 0;
  if (std::strcmp(info->request_method, "POST") != 0) {
    status = 405;
  } else if (info->content_length > kMaxBody) {
    status = 413;
  } else {
    char buffer[4096];
    for (int n; (n = mg_read(connection, buffer, sizeof buffer)) > 0;) {
      request.body.append(buffer, static_cast<size_t>(n));
      if (static_cast<long long>(request.body.size()) > kMaxBody) break;
    }
    if (static_cast<long long>(request.body.size()) > kMaxBody) status = 413;
  }
  std::string code;
  if (status == 0) {
    const bool authorized =
        options_.token.empty() ||
        ConstantTimeEquals(request.authorization, absl::StrCat("Bearer ", options_.token));
    const nlohmann::json message = nlohmann::json::parse(request.body, nullptr, false);
    if (message.is_object() && message.contains("to") && message["to"].is_string() &&
        message.contains("text") && message["text"].is_string()) {
      request.to = message["to"].get<std::string>();
      request.text = message["text"].get<std::string>();
      code = ExtractCode(request.text);
    }
    if (!authorized) {
      status = 401;
    } else if (code.empty()) {
      status = 400;
    }
  }

  {
    absl::MutexLock lock(&mu_);
    ++counts_.requests;
    if (status != 0) {
      ++counts_.rejected;
    } else {
      status = StatusFor(request.to);
      if (status >= 200 && status < 300) {
        auto waiting = pending_.find(request.to);
        if (waiting == pending_.end()) {
          ++counts_.unexpected;
        } else {
          waiting->second = code;
          ++counts_.delivered;
        }
      }
    }
    request.status = status;
    if (options_.record) requests_log_.push_back(std::move(request));
  }
  Answer(connection, status);
  return status;
}

std::vector<FakeGateway::Request> FakeGateway::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_log_;
}

int FakeGateway::Count(const std::string& to, int status) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const Request& r : requests_log_) n += r.to == to && r.status == status;
  return n;
}

std::string FakeGateway::DeliveredCode(const std::string& to, size_t skip) const {
  absl::MutexLock lock(&mu_);
  for (size_t i = skip; i < requests_log_.size(); ++i) {
    const Request& r = requests_log_[i];
    if (r.to == to && r.status >= 200 && r.status < 300) {
      std::string code = ExtractCode(r.text);
      if (!code.empty()) return code;
    }
  }
  return "";
}

void FakeGateway::Expect(const std::string& destination) {
  absl::MutexLock lock(&mu_);
  pending_[destination] = std::nullopt;
}

std::optional<std::string> FakeGateway::Wait(const std::string& destination,
                                             absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, &destination]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(destination);
    return it == pending_.end() || it->second.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
  auto it = pending_.find(destination);
  if (it == pending_.end() || !it->second.has_value()) return std::nullopt;
  std::optional<std::string> code = std::move(it->second);
  pending_.erase(it);
  return code;
}

FakeGateway::Counts FakeGateway::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

}  // namespace tally::testing
