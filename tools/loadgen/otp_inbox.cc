#include "tools/loadgen/otp_inbox.h"

#include <civetweb.h>

#include <cctype>
#include <cstring>
#include <mutex>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/util/host_port.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally::loadgen {

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

void OtpInbox::Expect(const std::string& destination) {
  absl::MutexLock lock(&mu_);
  pending_[destination] = std::nullopt;
}

void OtpInbox::Deliver(const std::string& destination, const std::string& code) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(destination);
  if (it == pending_.end()) {
    ++unexpected_;
    return;
  }
  it->second = code;
  ++delivered_;
}

std::optional<std::string> OtpInbox::Wait(const std::string& destination,
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

int64_t OtpInbox::delivered() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

int64_t OtpInbox::unexpected() const {
  absl::MutexLock lock(&mu_);
  return unexpected_;
}

OtpHttpEndpoint::OtpHttpEndpoint(OtpInbox& inbox, std::string token)
    : inbox_(inbox), token_(std::move(token)) {}

OtpHttpEndpoint::~OtpHttpEndpoint() { Stop(); }

absl::StatusOr<int> OtpHttpEndpoint::Start(const std::string& listen) {
  if (!SplitHostPort(listen).has_value()) {
    return absl::InvalidArgumentError("--otp_listen must be host:port");
  }
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
  // Handlers only parse a small body and wake a waiter: a few threads keep up with any rate
  // the senders reach.
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "8",
                           "request_timeout_ms", "10000", "enable_keep_alive", "yes", nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  // CivetWeb logs to stderr by default; a refused bind comes back as mg_start's NULL instead.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  context_ = mg_start(&callbacks, this, options);
  if (context_ == nullptr) return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  mg_set_request_handler(context_, "/", &OtpHttpEndpoint::Handle, this);
  mg_server_port ports[4];
  const int n = mg_get_server_ports(context_, 4, ports);
  if (n < 1 || ports[0].port <= 0) {
    Stop();
    return absl::InternalError("the gateway endpoint has no port");
  }
  return ports[0].port;
}

int OtpHttpEndpoint::Handle(mg_connection* connection, void* self) {
  return static_cast<OtpHttpEndpoint*>(self)->Handle(connection);
}

int OtpHttpEndpoint::Handle(mg_connection* connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  if (std::string_view(info->request_method) != "POST") {
    mg_send_http_error(connection, 405, "%s", "POST only");
    return 405;
  }
  constexpr long long kMaxBody = 64 * 1024;
  std::string body;
  if (info->content_length > kMaxBody) {
    mg_send_http_error(connection, 413, "%s", "too large");
    return 413;
  }
  char buffer[4096];
  for (int n; (n = mg_read(connection, buffer, sizeof buffer)) > 0;) {
    body.append(buffer, static_cast<size_t>(n));
    if (static_cast<long long>(body.size()) > kMaxBody) break;
  }
  const char* authorization = mg_get_header(connection, "Authorization");
  const bool authorized =
      token_.empty() || (authorization != nullptr &&
                         ConstantTimeEquals(authorization, absl::StrCat("Bearer ", token_)));
  nlohmann::json message = nlohmann::json::parse(body, nullptr, false);
  std::string code;
  std::string to;
  if (authorized && message.is_object() && message.contains("to") && message["to"].is_string() &&
      message.contains("text") && message["text"].is_string()) {
    to = message["to"].get<std::string>();
    code = ExtractCode(message["text"].get<std::string>());
  }
  {
    absl::MutexLock lock(&mu_);
    ++requests_;
    if (!authorized || code.empty()) ++rejected_;
  }
  if (!authorized) {
    mg_send_http_error(connection, 401, "%s", "unauthorized");
    return 401;
  }
  if (code.empty()) {
    mg_send_http_error(connection, 400, "%s", "no code in the message");
    return 400;
  }
  inbox_.Deliver(to, code);
  mg_printf(connection, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  return 204;
}

void OtpHttpEndpoint::Stop() {
  if (context_ != nullptr) {
    mg_stop(context_);
    context_ = nullptr;
  }
}

int64_t OtpHttpEndpoint::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int64_t OtpHttpEndpoint::rejected() const {
  absl::MutexLock lock(&mu_);
  return rejected_;
}

}  // namespace tally::loadgen
