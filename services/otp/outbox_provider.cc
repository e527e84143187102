#include "services/otp/outbox_provider.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/otp/destination.h"

namespace tally::otp {

OutboxProvider::OutboxProvider(std::string path, const Clock& clock)
    : path_(std::move(path)), clock_(clock) {}

DeliveryResult OutboxProvider::Deliver(const OutgoingMessage& message) {
  nlohmann::json line = {
      {"channel", ChannelName(message.channel)},
      {"destination", message.destination},
      {"text", message.text},
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", clock_.Now(), absl::UTCTimeZone())}};
  if (!message.subject.empty()) line["subject"] = message.subject;
  const std::string bytes = line.dump() + "\n";
  absl::MutexLock lock(&mu_);
  // Opened per message: a rotated or removed file is simply created again. 0600: it holds codes.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return DeliveryResult::Retryable(absl::StrCat("outbox: open: ", std::strerror(errno)));
  const ssize_t written = ::write(fd, bytes.data(), bytes.size());
  const int write_errno = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(bytes.size())) {
    return DeliveryResult::Retryable(
        absl::StrCat("outbox: write: ", written < 0 ? std::strerror(write_errno) : "short write"));
  }
  return DeliveryResult::Delivered();
}

}  // namespace tally::otp
