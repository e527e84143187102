#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/otp/delivery_provider.h"

namespace tally::otp {

// curl_global_init, once per process; call from main before threads start.
void InitCurl();

enum class SmtpTls {
  kStartTls,  // plain connection upgraded with STARTTLS, which is then required (port 587)
  kImplicit,  // TLS from the first byte, smtps:// (port 465)
  kNone,      // no TLS at all: only for a relay on localhost or in tests
};
absl::Status ParseSmtpTls(absl::string_view text, SmtpTls* tls);

// Idle curl handles, each keeping its live connection (and TLS session) for the next message
// (curl_providers.cc).
class CurlHandles;

struct SmtpOptions {
  std::string host;
  int port = 587;
  SmtpTls tls = SmtpTls::kStartTls;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from;          // bare address, e.g. no-reply@example.org
  std::string from_name;     // optional display name
  std::string ca_file;       // empty: the system's CA bundle
  absl::Duration timeout = absl::Seconds(10);
};
// INVALID_ARGUMENT for a missing host, a bad port or a from address that is not an address.
absl::Status ValidateSmtpOptions(const SmtpOptions& options);

// Real e-mail through libcurl's SMTP client: an RFC 5322 message with Date, Message-ID, From,
// To, Subject and a UTF-8 plain-text body. A 5xx reply of the server (or refused login) is
// permanent; connection problems, timeouts and 4xx replies are retried.
// Connections to the server are kept between messages for up to kSmtpMaxIdle: a message costs
// MAIL, RCPT and DATA, not a TCP connection, a TLS handshake and AUTH as well. When a kept
// connection turns out dead (closed by the server, with or without a parting 421) before any of
// the message was sent, the message goes at once on a new connection.
class SmtpProvider final : public DeliveryProvider {
 public:
  // Servers may drop idle clients after a few minutes (RFC 5321 §4.5.3.2 asks them to wait 5);
  // older connections are not reused.
  static constexpr absl::Duration kSmtpMaxIdle = absl::Seconds(60);

  SmtpProvider(SmtpOptions options, const Clock& clock, RandomSource& random);
  ~SmtpProvider() override;

  const std::string& name() const override { return name_; }
  DeliveryResult Deliver(const OutgoingMessage& message) override;

  // The message as sent (without SMTP dot-stuffing); exposed for tests.
  std::string Compose(const OutgoingMessage& message) const;

 private:
  const std::string name_ = "smtp";
  const SmtpOptions options_;
  const Clock& clock_;
  RandomSource& random_;
  std::unique_ptr<CurlHandles> handles_;
};

struct HttpSmsOptions {
  std::string url;    // https://, or http:// with allow_insecure
  std::string token;  // bearer token (a secret)
  // --allow_insecure_gateway: a plain http:// gateway (development and tests only: the token and
  // every message, codes included, would cross the network in clear).
  bool allow_insecure = false;
  std::string ca_file;
  absl::Duration timeout = absl::Seconds(10);
};
// INVALID_ARGUMENT for a URL that is not https:// (http:// only with allow_insecure) or a
// missing token.
absl::Status ValidateHttpSmsOptions(const HttpSmsOptions& options);

// An SMS gateway over HTTPS (plain HTTP only when allowed, also for redirects): POST
// {"to": destination, "text": text} as JSON with
// `Authorization: Bearer <token>`. 2xx delivered; 408, 429, 5xx, connection errors and timeouts
// retried; every other status (4xx, unexpected 3xx) permanent.
// Connections to the gateway are kept alive between messages (HTTP/1.1 keep-alive, TLS
// sessions included): a message costs one request, not a TCP and TLS handshake as well.
class HttpSmsProvider final : public DeliveryProvider {
 public:
  explicit HttpSmsProvider(HttpSmsOptions options);
  ~HttpSmsProvider() override;

  const std::string& name() const override { return name_; }
  DeliveryResult Deliver(const OutgoingMessage& message) override;

 private:
  const std::string name_ = "http";
  const HttpSmsOptions options_;
  std::unique_ptr<CurlHandles> handles_;
};

}  // namespace tally::otp
