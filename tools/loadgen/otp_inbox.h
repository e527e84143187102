#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct mg_connection;
struct mg_context;

namespace tally::loadgen {

// The 6-digit code in a message of the OTP service ("... code is 123456 ..." for SMS,
// "... code is: 123456" for e-mail, "verificatiecode is 123456" in Dutch); empty when none.
// Only the text after "code is" counts: destinations have digit runs of their own.
std::string ExtractCode(absl::string_view text);

// Codes by destination, handed from the HTTP endpoint to the login waiting for them.
// A login calls Expect(destination) before SendOtp (dropping anything older for that
// destination) and then Wait(destination); each load-generator user has at most one login in
// flight, so a destination's next code belongs to its current login.
class OtpInbox {
 public:
  void Expect(const std::string& destination);
  void Deliver(const std::string& destination, const std::string& code);
  // The code, or nullopt after `timeout`.
  std::optional<std::string> Wait(const std::string& destination, absl::Duration timeout);

  int64_t delivered() const;
  int64_t unexpected() const;  // messages to a destination nobody was expecting

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::optional<std::string>> pending_ ABSL_GUARDED_BY(mu_);
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unexpected_ ABSL_GUARDED_BY(mu_) = 0;
};

// The SMS/e-mail gateway the OTP senders' `http` provider posts to: POST <any path> with
// {"to": destination, "text": text} and `Authorization: Bearer <token>`; answers 204 and hands
// the code to the inbox. 401 for a wrong token, 400 for a body without a code, 405 for anything
// but POST. Served by CivetWeb (the embedded server prometheus-cpp already brings).
class OtpHttpEndpoint {
 public:
  OtpHttpEndpoint(OtpInbox& inbox, std::string token);
  ~OtpHttpEndpoint();
  OtpHttpEndpoint(const OtpHttpEndpoint&) = delete;
  OtpHttpEndpoint& operator=(const OtpHttpEndpoint&) = delete;

  // Binds `listen` (host:port; port 0 picks a free one) and serves on threads of its own.
  // Returns the bound port.
  absl::StatusOr<int> Start(const std::string& listen);
  void Stop();

  int64_t requests() const;
  int64_t rejected() const;

 private:
  static int Handle(mg_connection* connection, void* self);
  int Handle(mg_connection* connection);

  OtpInbox& inbox_;
  const std::string token_;
  mg_context* context_ = nullptr;
  mutable absl::Mutex mu_;
  int64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tally::loadgen
