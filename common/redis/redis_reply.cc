#include "common/redis/redis_reply.h"

#include <utility>

namespace tally {

RedisReply RedisReply::String(std::string value) {
  RedisReply reply(Type::kString);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Status(std::string value) {
  RedisReply reply(Type::kStatus);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Error(std::string value) {
  RedisReply reply(Type::kError);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Integer(int64_t value) {
  RedisReply reply(Type::kInteger);
  reply.integer_ = value;
  return reply;
}

RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply reply(Type::kArray);
  reply.elements_ = std::move(elements);
  return reply;
}

}  // namespace tally
