#pragma once

#include <grpcpp/server_builder.h>

namespace tally {

// The sync server's defaults (1 to 2 polling threads) make a thread that finishes a call exit
// when two others are polling, and a call that takes the last poller start a new one: under
// concurrent calls every call paid a thread's creation and exit. Threads that finish keep
// polling, up to kSyncServerMaxPollers, and leave after cq_timeout (10 s) idle above it.
// Every Tally server uses this, and so do the echo floors (tools/floors) that it is measured
// against.
inline constexpr int kSyncServerMinPollers = 2;
inline constexpr int kSyncServerMaxPollers = 64;

inline void SetSyncServerThreads(grpc::ServerBuilder& builder) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              kSyncServerMinPollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              kSyncServerMaxPollers);
}

}  // namespace tally
