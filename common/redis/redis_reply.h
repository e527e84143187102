#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tally {

// An owned copy of one RESP2 reply.
class RedisReply {
 public:
  enum class Type { kNil, kString, kInteger, kStatus, kError, kArray };

  static RedisReply Nil() { return RedisReply(Type::kNil); }
  static RedisReply String(std::string value);
  static RedisReply Status(std::string value);
  static RedisReply Error(std::string value);
  static RedisReply Integer(int64_t value);
  static RedisReply Array(std::vector<RedisReply> elements);

  Type type() const { return type_; }
  bool IsNil() const { return type_ == Type::kNil; }
  bool IsString() const { return type_ == Type::kString; }
  bool IsInteger() const { return type_ == Type::kInteger; }
  bool IsStatus() const { return type_ == Type::kStatus; }
  bool IsError() const { return type_ == Type::kError; }
  bool IsArray() const { return type_ == Type::kArray; }

  // The bytes of a string, status or error reply; empty for other types.
  const std::string& str() const { return str_; }
  // The value of an integer reply; 0 for other types.
  int64_t integer() const { return integer_; }
  // The elements of an array reply; empty for other types.
  const std::vector<RedisReply>& elements() const { return elements_; }

 private:
  explicit RedisReply(Type type) : type_(type) {}

  Type type_;
  std::string str_;
  int64_t integer_ = 0;
  std::vector<RedisReply> elements_;
};

}  // namespace tally
