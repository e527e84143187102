#pragma once

// QR codes (ISO/IEC 18004) made by Debian's libqrencode, drawn as SVG for web pages and as
// UTF-8 half blocks for terminals. Used for otpauth:// URIs (TOTP enrolment).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

class QrCode {
 public:
  // Byte mode, error correction level M (15%: survives a smudged screen), the smallest version
  // that holds `text`. INVALID_ARGUMENT when it does not fit in any version (about 2 KB).
  static absl::StatusOr<QrCode> Encode(absl::string_view text);

  // Modules per side (21 for version 1, +4 per version).
  int size() const { return size_; }
  // Whether the module in column `x`, row `y` is dark; outside the symbol (the quiet zone):
  // light.
  bool Dark(int x, int y) const;

  // A standalone SVG document: one <path> of unit squares, one per dark module, on a white
  // <rect>; the viewBox is the symbol plus a quiet zone of `quiet` modules on every side (the
  // standard asks for 4), so it scales to any size without blurring.
  std::string ToSvg(int quiet = 4) const;
  // The symbol for a terminal: two module rows per line with ▀ ▄ █ and space, with a quiet
  // zone of `quiet` modules. The blocks draw the light modules (as `qrencode -t UTF8` does), so
  // a terminal with light text on a dark background shows dark modules on light, as cameras
  // expect. Lines end with '\n'.
  std::string ToHalfBlocks(int quiet = 2) const;

 private:
  QrCode(int size, std::vector<bool> modules) : size_(size), modules_(std::move(modules)) {}
  int size_;
  std::vector<bool> modules_;  // row-major, true = dark
};

}  // namespace tally
