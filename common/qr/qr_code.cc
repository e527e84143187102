#include "common/qr/qr_code.h"

#include <qrencode.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

struct QrFree {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

absl::StatusOr<QrCode> QrCode::Encode(absl::string_view text) {
  const std::string data(text);
  // 8-bit mode keeps every byte as given (the URI's case and punctuation).
  std::unique_ptr<QRcode, QrFree> code(QRcode_encodeString8bit(data.c_str(), 0, QR_ECLEVEL_M));
  if (code == nullptr) {
    return absl::InvalidArgumentError("the text does not fit in a QR code");
  }
  const int size = code->width;
  std::vector<bool> modules(static_cast<size_t>(size) * size);
  // Bit 0 of each byte is the module's colour (1 = dark); the other bits describe its role.
  for (size_t i = 0; i < modules.size(); ++i) modules[i] = (code->data[i] & 1) != 0;
  return QrCode(size, std::move(modules));
}

bool QrCode::Dark(int x, int y) const {
  if (x < 0 || y < 0 || x >= size_ || y >= size_) return false;
  return modules_[static_cast<size_t>(y) * size_ + x];
}

std::string QrCode::ToSvg(int quiet) const {
  const int side = size_ + 2 * quiet;
  std::string path;
  for (int y = 0; y < size_; ++y) {
    for (int x = 0; x < size_; ++x) {
      if (Dark(x, y)) absl::StrAppend(&path, "M", x + quiet, " ", y + quiet, "h1v1h-1z");
    }
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 ",
      side, " ", side,
      "\" shape-rendering=\"crispEdges\">\n"
      "<rect width=\"",
      side, "\" height=\"", side, "\" fill=\"#ffffff\"/>\n<path fill=\"#000000\" d=\"", path,
      "\"/>\n</svg>\n");
}

std::string QrCode::ToHalfBlocks(int quiet) const {
  std::string out;
  for (int y = -quiet; y < size_ + quiet; y += 2) {
    for (int x = -quiet; x < size_ + quiet; ++x) {
      const bool top_light = !Dark(x, y);
      // A last odd row has nothing below it: the terminal's background shows there.
      const bool bottom_light = y + 1 < size_ + quiet && !Dark(x, y + 1);
      if (top_light && bottom_light) {
        out += "\u2588";  // █
      } else if (top_light) {
        out += "\u2580";  // ▀
      } else if (bottom_light) {
        out += "\u2584";  // ▄
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace tally
