#include "common/util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

absl::Status CannotRead(absl::string_view path, int error) {
  return absl::NotFoundError(
      absl::StrCat("cannot read ", path, ": ", std::generic_category().message(error)));
}

}  // namespace

absl::StatusOr<std::string> ReadFile(absl::string_view path) {
  const std::string name(path);
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CannotRead(path, errno);
  // Read straight into one buffer of the file's size (and a byte to see the end), so a key file
  // leaves no partial copies behind in freed memory. Pipes and /proc files report no size and
  // grow the buffer as they go.
  struct stat info {};
  size_t capacity = 4096;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
    capacity = static_cast<size_t>(info.st_size) + 1;
  }
  std::string content(capacity, '\0');
  size_t used = 0;
  while (true) {
    if (used == content.size()) content.resize(content.size() * 2);
    const ssize_t n = ::read(fd, content.data() + used, content.size() - used);
    if (n > 0) {
      used += static_cast<size_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      ::close(fd);
      return CannotRead(path, error);
    }
  }
  ::close(fd);
  content.resize(used);
  return content;
}

}  // namespace tally
