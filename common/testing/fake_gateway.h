#pragma once

// The one stand-in SMS/e-mail gateway of the tests and the bench: the endpoint the OTP senders'
// `http` provider POSTs {"to", "text"} to (services/otp/curl_providers.h). It checks the Bearer
// token, answers the status the test chose, records what it received and hands each code to
// whoever waits for that destination. In-process, on CivetWeb (the embedded HTTP server
// prometheus-cpp already brings), so a test or the load generator needs no helper process.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct mg_connection;
struct mg_context;

namespace tally::testing {

// The 6-digit code in a message of the OTP service ("... code is 123456 ..." for SMS,
// "... code is: 123456" for e-mail, "verificatiecode is 123456" in Dutch); empty when none.
// Only the text after "code is" counts: destinations have digit runs of their own.
std::string ExtractCode(absl::string_view text);

class FakeGateway {
 public:
  struct Options {
    // host:port; port 0 picks a free one (kept for every later Start()).
    std::string listen = "127.0.0.1:0";
    // The Bearer token every POST must carry (401 otherwise); empty accepts any.
    std::string token;
    // Keep every request for Requests(), Count() and DeliveredCode(). The load generator turns
    // it off: it only waits for codes, and a long run would hold every message.
    bool record = true;
  };

  // One POST as received, with the status it was answered.
  struct Request {
    std::string path;
    std::string authorization;
    std::string content_type;
    std::string body;
    std::string to;    // from the JSON body; empty when the body is not {"to","text"}
    std::string text;
    int status = 0;
    int client_port = 0;  // which connection it came on (the senders keep theirs alive)
  };

  FakeGateway();
  explicit FakeGateway(Options options);
  ~FakeGateway();
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  // Listens (again, on the same port after Stop()). UNAVAILABLE when the port cannot be bound.
  absl::Status Start();
  // Closes the port and every connection: senders see connections refused until Start().
  void Stop();

  int port() const { return port_; }
  std::string url(absl::string_view path = "/messages") const;

  // What a POST is answered, first match wins: the next of the scripted statuses (each used
  // once, in order), the status set for its destination, the default (200). A wrong token is
  // always 401, a body that is not {"to","text"} with a code 400, another method 405.
  void ScriptStatuses(std::vector<int> statuses);
  void SetStatus(const std::string& destination, int status);
  void SetDefaultStatus(int status);

  // Recorded requests (Options::record), oldest first.
  std::vector<Request> Requests() const;
  // Requests to `to` answered with `status`.
  int Count(const std::string& to, int status) const;
  // The code of the first request to `to` answered 2xx, after `skip` requests; empty if none.
  std::string DeliveredCode(const std::string& to, size_t skip = 0) const;

  // Waiting for a code: Expect(destination) before the send (dropping anything older for that
  // destination), then Wait(destination). Each waiter has at most one message in flight per
  // destination, so a destination's next code is its own.
  void Expect(const std::string& destination);
  // The code, or nullopt after `timeout`.
  std::optional<std::string> Wait(const std::string& destination, absl::Duration timeout);

  struct Counts {
    int64_t requests = 0;    // every request
    int64_t rejected = 0;    // answered 401, 400, 405 or 413
    int64_t delivered = 0;   // codes handed to a waiter
    int64_t unexpected = 0;  // 2xx messages to a destination nobody was expecting
  };
  Counts counts() const;

 private:
  static int Handle(mg_connection* connection, void* self);
  int Handle(mg_connection* connection);
  int StatusFor(const std::string& to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  int port_ = 0;
  mg_context* context_ = nullptr;

  mutable absl::Mutex mu_;
  std::deque<int> script_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> statuses_ ABSL_GUARDED_BY(mu_);
  int default_status_ ABSL_GUARDED_BY(mu_) = 200;
  std::vector<Request> requests_log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::optional<std::string>> pending_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::testing
