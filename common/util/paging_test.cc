#include "common/util/paging.h"

#include "common/util/proto_time.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(PagingTest, PageSize) {
  EXPECT_EQ(*EffectivePageSize(0), kDefaultPageSize);
  EXPECT_EQ(*EffectivePageSize(7), 7);
  EXPECT_EQ(*EffectivePageSize(100000), kMaxPageSize);
  EXPECT_EQ(EffectivePageSize(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PagingTest, TokensRoundTripAndAreBoundToTheirList) {
  const std::string token = EncodePageToken("dirs", 42);
  EXPECT_EQ(*DecodePageToken("dirs", token), 42);
  EXPECT_EQ(*DecodePageToken("dirs", ""), 0);
  EXPECT_EQ(DecodePageToken("audit", token).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("dirs", "garbage!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("dirs", EncodePageToken("dirs", -3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("dirs", std::string(1000, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProtoTimeTest, RoundTrips) {
  const absl::Time t = absl::FromUnixMicros(1700000000123456);
  EXPECT_EQ(FromProtoTime(ToProtoTime(t)), t);
  const absl::Time before_epoch = absl::FromUnixMillis(-1500);
  const auto proto = ToProtoTime(before_epoch);
  EXPECT_GE(proto.nanos(), 0);
  EXPECT_EQ(FromProtoTime(proto), before_epoch);
}

}  // namespace
}  // namespace tally
