#include "services/otp/curl_providers.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "services/otp/destination.h"
#include "services/otp/otp_crypto.h"

namespace tally::otp {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data->size() - upload->offset);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Response bodies are not needed (and may echo the message): drop them.
size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

void CommonOptions(CURL* curl, absl::Duration timeout, const std::string& ca_file) {
  // Worker threads: no signals for timeouts.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
}

bool HasLineBreak(absl::string_view s) {
  return s.find_first_of("\r\n") != absl::string_view::npos;
}

}  // namespace

void InitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::Status ParseSmtpTls(absl::string_view text, SmtpTls* tls) {
  if (text == "starttls") *tls = SmtpTls::kStartTls;
  else if (text == "implicit") *tls = SmtpTls::kImplicit;
  else if (text == "none") *tls = SmtpTls::kNone;
  else return absl::InvalidArgumentError("--smtp_tls must be starttls, implicit or none");
  return absl::OkStatus();
}

absl::Status ValidateSmtpOptions(const SmtpOptions& o) {
  if (o.host.empty() || HasLineBreak(o.host) || o.host.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("--smtp_host is required for the smtp provider");
  }
  if (o.port < 1 || o.port > 65535) return absl::InvalidArgumentError("--smtp_port must be 1..65535");
  if (!ValidateDestination(::tally::otp::v1::CHANNEL_EMAIL, o.from).ok()) {
    return absl::InvalidArgumentError("--smtp_from must be an e-mail address");
  }
  if (!o.username.empty() && o.password.empty()) {
    return absl::InvalidArgumentError("--smtp_username needs a password (TALLY_SMTP_PASSWORD)");
  }
  if (HasLineBreak(o.from_name) || o.from_name.find_first_of("\"<>") != std::string::npos) {
    return absl::InvalidArgumentError("--smtp_from_name must not contain line breaks, quotes or <>");
  }
  return absl::OkStatus();
}

class CurlHandles {
 public:
  // A kept handle, options cleared but its connection (and TLS session) kept; or a new one.
  CurlHandle Take() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        CurlHandle curl = std::move(idle_.back());
        idle_.pop_back();
        curl_easy_reset(curl.get());
        return curl;
      }
    }
    return CurlHandle(curl_easy_init());
  }
  // Most recently used first: sequential messages share one connection.
  void Give(CurlHandle curl) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(curl));
  }

 private:
  // One per sender worker by default; more would only hold idle connections open.
  static constexpr size_t kMaxIdle = 8;
  absl::Mutex mu_;
  std::vector<CurlHandle> idle_ ABSL_GUARDED_BY(mu_);
};

SmtpProvider::SmtpProvider(SmtpOptions options, const Clock& clock, RandomSource& random)
    : options_(std::move(options)),
      clock_(clock),
      random_(random),
      handles_(std::make_unique<CurlHandles>()) {
  InitCurl();
}

SmtpProvider::~SmtpProvider() = default;

std::string SmtpProvider::Compose(const OutgoingMessage& message) const {
  const std::string domain = options_.from.substr(options_.from.rfind('@') + 1);
  std::array<uint8_t, 12> nonce;
  random_.Fill(absl::MakeSpan(nonce));
  const std::string message_id = absl::StrCat(
      "<", message.challenge_id, ".",
      HexEncode(absl::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size())),
      "@", domain, ">");
  const std::string from =
      options_.from_name.empty()
          ? options_.from
          : absl::StrCat("\"", options_.from_name, "\" <", options_.from, ">");
  // RFC 5322 §3.3 date-time, always in UTC.
  const std::string date =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", clock_.Now(), absl::UTCTimeZone());
  std::string body = message.text;
  if (!absl::EndsWith(body, "\r\n")) body += "\r\n";
  return absl::StrCat("Date: ", date, "\r\nFrom: ", from, "\r\nTo: <", message.destination,
                      ">\r\nSubject: ", message.subject, "\r\nMessage-ID: ", message_id,
                      "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n\r\n",
                      body);
}

DeliveryResult SmtpProvider::Deliver(const OutgoingMessage& message) {
  // Validated destinations cannot carry line breaks; check again before building headers.
  if (HasLineBreak(message.destination) || HasLineBreak(message.subject)) {
    return DeliveryResult::Permanent("smtp: header value with a line break");
  }
  CurlHandle curl = handles_->Take();
  if (!curl) return DeliveryResult::Retryable("smtp: curl_easy_init failed");
  const std::string url =
      absl::StrCat(options_.tls == SmtpTls::kImplicit ? "smtps://" : "smtp://", options_.host, ":",
                   options_.port);
  const std::string payload = Compose(message);
  Upload upload{&payload};
  const std::string mail_from = absl::StrCat("<", options_.from, ">");
  Slist rcpt(curl_slist_append(nullptr, absl::StrCat("<", message.destination, ">").c_str()));
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  CommonOptions(curl.get(), options_.timeout, options_.ca_file);
  if (options_.tls != SmtpTls::kNone) {
    curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  if (!options_.username.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, ReadUpload);
  curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(curl.get(), CURLOPT_MAXAGE_CONN,
                   static_cast<long>(absl::ToInt64Seconds(kSmtpMaxIdle)));
  // Bounds every wait for a reply, the QUIT of a kept connection closed later included (curl's
  // own default there is 120 s, whatever CURLOPT_TIMEOUT says).
  curl_easy_setopt(curl.get(), CURLOPT_SERVER_RESPONSE_TIMEOUT,
                   static_cast<long>(std::max<int64_t>(
                       1, absl::ToInt64Seconds(absl::Ceil(options_.timeout, absl::Seconds(1))))));
  CURLcode rc = curl_easy_perform(curl.get());
  long reply = 0;
  if (rc != CURLE_OK) {
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply);
    // A server that dropped an idle client with a reply (421, or TLS close_notify) leaves bytes
    // on the kept connection, so curl took it for alive. When the message went nowhere (a kept
    // connection, no byte of it sent), it goes at once on a new connection: no duplicate is
    // possible, and the code does not wait for the sender's backoff.
    long new_connections = -1;
    curl_off_t uploaded = -1;
    curl_easy_getinfo(curl.get(), CURLINFO_NUM_CONNECTS, &new_connections);
    curl_easy_getinfo(curl.get(), CURLINFO_SIZE_UPLOAD_T, &uploaded);
    // Only a connection-level failure or 421 ("closing channel"); other replies are the
    // server's answer to this message.
    if (new_connections == 0 && uploaded == 0 && (reply == 0 || reply == 421)) {
      upload.offset = 0;
      curl_easy_setopt(curl.get(), CURLOPT_FRESH_CONNECT, 1L);
      rc = curl_easy_perform(curl.get());
      reply = 0;
      if (rc != CURLE_OK) curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply);
    }
  }
  // curl closes a connection that failed; the handle itself stays good.
  handles_->Give(std::move(curl));
  if (rc == CURLE_OK) return DeliveryResult::Delivered();
  const std::string why = absl::StrCat("smtp: ", curl_easy_strerror(rc),
                                       reply > 0 ? absl::StrCat(" (reply ", reply, ")") : "");
  if (rc == CURLE_LOGIN_DENIED || (reply >= 500 && reply < 600)) {
    return DeliveryResult::Permanent(why);
  }
  return DeliveryResult::Retryable(why);
}

absl::Status ValidateHttpSmsOptions(const HttpSmsOptions& o) {
  if (!absl::StartsWith(o.url, "https://") &&
      !(o.allow_insecure && absl::StartsWith(o.url, "http://"))) {
    return absl::InvalidArgumentError(
        "--sms_http_url must be an https:// URL (http:// only with --allow_insecure_gateway, "
        "for development and tests)");
  }
  if (o.token.empty() || HasLineBreak(o.token)) {
    return absl::InvalidArgumentError("--sms_http_token is required for the http provider");
  }
  return absl::OkStatus();
}

HttpSmsProvider::HttpSmsProvider(HttpSmsOptions options)
    : options_(std::move(options)), handles_(std::make_unique<CurlHandles>()) {
  InitCurl();
}

HttpSmsProvider::~HttpSmsProvider() = default;

DeliveryResult HttpSmsProvider::Deliver(const OutgoingMessage& message) {
  CurlHandle curl = handles_->Take();
  if (!curl) return DeliveryResult::Retryable("http: curl_easy_init failed");
  const std::string body =
      nlohmann::json{{"to", message.destination}, {"text", message.text}}.dump();
  const std::string auth = absl::StrCat("Authorization: Bearer ", options_.token);
  Slist headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  curl_slist_append(headers.get(), auth.c_str());
  // No "Expect: 100-continue" round trip for a small body.
  curl_slist_append(headers.get(), "Expect:");
  curl_easy_setopt(curl.get(), CURLOPT_URL, options_.url.c_str());
  CommonOptions(curl.get(), options_.timeout, options_.ca_file);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, DiscardBody);
  // The token and the codes never go out in clear unless plain HTTP was explicitly allowed.
  const char* protocols = options_.allow_insecure ? "http,https" : "https";
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  const CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  // curl closes a connection that failed; the handle itself stays good.
  handles_->Give(std::move(curl));
  if (rc != CURLE_OK) {
    return DeliveryResult::Retryable(absl::StrCat("http: ", curl_easy_strerror(rc)));
  }
  if (status >= 200 && status < 300) return DeliveryResult::Delivered();
  const std::string why = absl::StrCat("HTTP ", status);
  if (status == 408 || status == 429 || status >= 500) return DeliveryResult::Retryable(why);
  return DeliveryResult::Permanent(why);
}

}  // namespace tally::otp
