#include "services/passkey/webauthn/cbor.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally::webauthn {
namespace {

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed CBOR: ", why));
}

// A canonical string per map key, to find duplicates; only integer and text keys are allowed.
absl::StatusOr<std::string> KeyOf(const cbor_item_t* key) {
  if (std::optional<int64_t> i = CborInt(key)) return absl::StrCat("i", *i);
  if (cbor_isa_uint(key) || cbor_isa_negint(key)) {
    return Malformed("map key out of range");
  }
  if (std::optional<std::string> t = CborText(key)) return absl::StrCat("t", *t);
  return Malformed("map keys must be integers or text");
}

// Depth is bounded by the scan, so this recursion is too.
absl::Status CheckMaps(const cbor_item_t* item) {
  if (cbor_isa_array(item)) {
    cbor_item_t** elements = cbor_array_handle(item);
    for (size_t i = 0; i < cbor_array_size(item); ++i) {
      if (absl::Status s = CheckMaps(elements[i]); !s.ok()) return s;
    }
  } else if (cbor_isa_map(item)) {
    std::set<std::string> seen;
    cbor_pair* pairs = cbor_map_handle(item);
    for (size_t i = 0; i < cbor_map_size(item); ++i) {
      absl::StatusOr<std::string> key = KeyOf(pairs[i].key);
      if (!key.ok()) return key.status();
      if (!seen.insert(*key).second) return Malformed("duplicate map key");
      if (absl::Status s = CheckMaps(pairs[i].value); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

void CborDeleter::operator()(cbor_item_t* item) const { cbor_decref(&item); }

absl::StatusOr<size_t> ScanCborItem(absl::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t size = data.size();
  size_t pos = 0;
  size_t items = 0;
  // Items still expected by each open array or map (a map of n pairs expects 2n).
  std::vector<uint64_t> open;
  do {
    if (pos >= size) return Malformed("truncated");
    if (++items > kMaxCborItems) return Malformed("too many items");
    const uint8_t major = p[pos] >> 5;
    const uint8_t info = p[pos] & 0x1f;
    ++pos;
    uint64_t value = info;
    if (info >= 24 && info <= 27) {
      const size_t n = size_t{1} << (info - 24);
      if (size - pos < n) return Malformed("truncated");
      value = 0;
      for (size_t i = 0; i < n; ++i) value = (value << 8) | p[pos + i];
      pos += n;
    } else if (info == 31) {
      return Malformed("indefinite lengths are not allowed");
    } else if (info >= 28) {
      return Malformed("reserved additional information");
    }
    bool container = false;
    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
      case 3:
        if (value > size - pos) return Malformed("declared length beyond the input");
        if (major == 3 &&
            !IsValidUtf8(std::string_view(data.data() + pos, static_cast<size_t>(value)))) {
          return Malformed("text is not UTF-8");
        }
        pos += value;
        break;
      case 4:
      case 5: {
        // Every item takes at least one byte: a longer declaration cannot be honest.
        const uint64_t expected = major == 5 ? value * 2 : value;
        if (value > size - pos || expected > size - pos) {
          return Malformed("declared length beyond the input");
        }
        if (expected > 0) {
          if (open.size() + 1 > static_cast<size_t>(kMaxCborDepth)) {
            return Malformed("nested too deeply");
          }
          open.push_back(expected);
          container = true;
        }
        break;
      }
      case 6:
        return Malformed("tags are not allowed");
      case 7:
        if (info == 24 && value < 32) return Malformed("invalid simple value");
        break;
    }
    if (!container) {
      while (!open.empty() && --open.back() == 0) open.pop_back();
    }
  } while (!open.empty());
  return pos;
}

absl::StatusOr<CborItem> DecodeCborPrefix(absl::string_view data, size_t* consumed) {
  absl::StatusOr<size_t> length = ScanCborItem(data);
  if (!length.ok()) return length.status();
  cbor_load_result result;
  CborItem item(cbor_load(reinterpret_cast<cbor_data>(data.data()), *length, &result));
  if (item == nullptr || result.error.code != CBOR_ERR_NONE || result.read != *length) {
    return Malformed("undecodable item");
  }
  if (absl::Status s = CheckMaps(item.get()); !s.ok()) return s;
  *consumed = *length;
  return item;
}

absl::StatusOr<CborItem> DecodeCbor(absl::string_view data) {
  size_t consumed = 0;
  absl::StatusOr<CborItem> item = DecodeCborPrefix(data, &consumed);
  if (!item.ok()) return item.status();
  if (consumed != data.size()) return Malformed("trailing bytes after the item");
  return item;
}

std::optional<int64_t> CborInt(const cbor_item_t* item) {
  if (item == nullptr) return std::nullopt;
  if (cbor_isa_uint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (cbor_isa_negint(item)) {
    uint64_t v = cbor_get_int(item);  // the value is -1 - v
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return -1 - static_cast<int64_t>(v);
  }
  return std::nullopt;
}

std::optional<std::string> CborBytes(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(cbor_bytestring_handle(item)),
                     cbor_bytestring_length(item));
}

std::optional<std::string> CborText(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_string(item) || !cbor_string_is_definite(item)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(item)),
                     cbor_string_length(item));
}

const cbor_item_t* CborMapGet(const cbor_item_t* map, int64_t key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    if (CborInt(pairs[i].key) == key) return pairs[i].value;
  }
  return nullptr;
}

const cbor_item_t* CborMapGet(const cbor_item_t* map, absl::string_view key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    std::optional<std::string> k = CborText(pairs[i].key);
    if (k.has_value() && *k == key) return pairs[i].value;
  }
  return nullptr;
}

}  // namespace tally::webauthn
