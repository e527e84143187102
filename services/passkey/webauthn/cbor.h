#pragma once

// Strict CBOR decoding for WebAuthn (attestation objects, COSE keys, authenticator extensions).
//
// libcbor's cbor_load accepts more than WebAuthn allows (indefinite lengths, duplicate map keys,
// tags) and trusts declared lengths and nesting; cbor_decref also recurses. So every input is
// first scanned here, iteratively and without allocating, and only a well-formed item of the
// subset we accept reaches libcbor.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <cbor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::webauthn {

inline constexpr int kMaxCborDepth = 16;
inline constexpr size_t kMaxCborItems = 4096;

struct CborDeleter {
  void operator()(cbor_item_t* item) const;
};
using CborItem = std::unique_ptr<cbor_item_t, CborDeleter>;

// Length of the one CBOR data item at the start of `data`. INVALID_ARGUMENT when it is truncated,
// uses an indefinite length, a reserved encoding or a tag, holds invalid UTF-8 text, nests deeper
// than kMaxCborDepth, has more than kMaxCborItems items, or declares a length beyond the input.
absl::StatusOr<size_t> ScanCborItem(absl::string_view data);

// Decodes the item at the start of `data` (after ScanCborItem) and sets `*consumed` to its length.
// Maps must have integer or text keys, each at most once.
absl::StatusOr<CborItem> DecodeCborPrefix(absl::string_view data, size_t* consumed);
// As above, but `data` must be exactly one item: trailing bytes are refused.
absl::StatusOr<CborItem> DecodeCbor(absl::string_view data);

// Accessors that answer nullopt/nullptr for the wrong type.
std::optional<int64_t> CborInt(const cbor_item_t* item);
std::optional<std::string> CborBytes(const cbor_item_t* item);
std::optional<std::string> CborText(const cbor_item_t* item);
const cbor_item_t* CborMapGet(const cbor_item_t* map, int64_t key);
const cbor_item_t* CborMapGet(const cbor_item_t* map, absl::string_view key);

}  // namespace tally::webauthn
