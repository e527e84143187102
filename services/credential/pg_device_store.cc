#include "services/credential/pg_device_store.h"

#include "absl/strings/str_cat.h"
#include "common/postgres/pg_time.h"
#include "common/util/proto_time.h"

namespace tally::credential {
namespace {

std::string S(absl::string_view text) { return std::string(text); }

std::string DevicesTable(absl::string_view schema) {
  return absl::StrCat("\"", schema, "\".devices");
}

Device DeviceFromRow(const pqxx::row& row) {
  Device d;
  d.set_device_id(row["device_id"].as<std::string>());
  d.set_directory_id(row["directory_id"].as<std::string>());
  d.set_user_id(row["user_id"].as<std::string>());
  d.set_device_name(row["device_name"].as<std::string>());
  *d.mutable_create_time() = ToProtoTime(absl::FromUnixMicros(row["create_us"].as<int64_t>()));
  if (!row["last_used_us"].is_null()) {
    *d.mutable_last_used_time() =
        ToProtoTime(absl::FromUnixMicros(row["last_used_us"].as<int64_t>()));
  }
  return d;
}

}  // namespace

PgDeviceStore::PgDeviceStore(std::shared_ptr<PgPool> pool, std::string schema)
    : pool_(std::move(pool)), schema_(std::move(schema)) {}

std::string PgDeviceStore::Table() const { return DevicesTable(schema_); }

std::string PgDeviceStore::Columns() const {
  return absl::StrCat("device_id, directory_id, user_id, device_name, ", PgMicros("create_time"),
                      " AS create_us, ", PgMicros("last_used_time"), " AS last_used_us");
}

absl::Status PgDeviceStore::CreateDevice(const Device& device, absl::string_view token_hash) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    // Only for a user that exists (and stays, until commit) in this directory.
    const pqxx::result user =
        tx.exec_params(absl::StrCat("SELECT 1 FROM \"", schema_,
                                    "\".users WHERE user_id = $1 AND directory_id = $2 FOR SHARE"),
                       device.user_id(), device.directory_id());
    if (user.empty()) return absl::NotFoundError("no such user");
    tx.exec_params0(
        absl::StrCat("INSERT INTO ", Table(),
                     " (device_id, directory_id, user_id, token_hash, device_name, create_time) "
                     "VALUES ($1, $2, $3, $4, $5, ",
                     PgTimeParam(6), ")"),
        device.device_id(), device.directory_id(), device.user_id(), S(token_hash),
        device.device_name(), absl::ToUnixMicros(FromProtoTime(device.create_time())));
    return absl::OkStatus();
  });
}

absl::StatusOr<Device> PgDeviceStore::UseDevice(absl::string_view directory_id,
                                                absl::string_view user_id,
                                                absl::string_view token_hash,
                                                absl::Time created_after, absl::Time now) {
  return pool_->TransactFor<Device>([&](pqxx::work& tx) -> absl::StatusOr<Device> {
    // Every way of not matching (another user's, expired, forgotten, garbage) is this one
    // query finding no row: one answer, one cost.
    const pqxx::result r = ExecPrepared(
        tx, absl::StrCat(schema_, ".use_device"),
        absl::StrCat("UPDATE ", Table(), " SET last_used_time = ", PgTimeParam(5),
                     " WHERE token_hash = $3 AND user_id = $2 AND directory_id = $1 AND "
                     "create_time > ",
                     PgTimeParam(4), " RETURNING ", Columns()),
        S(directory_id), S(user_id), S(token_hash), absl::ToUnixMicros(created_after),
        absl::ToUnixMicros(now));
    if (r.empty()) return absl::NotFoundError("no device");
    return DeviceFromRow(r[0]);
  });
}

absl::StatusOr<std::vector<Device>> PgDeviceStore::ListDevices(absl::string_view directory_id,
                                                               absl::string_view user_id,
                                                               absl::Time created_after) {
  return pool_->ReadFor<std::vector<Device>>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<Device>> {
        const pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", Columns(), " FROM ", Table(),
                         " WHERE directory_id = $1 AND user_id = $2 AND create_time > ",
                         PgTimeParam(3), " ORDER BY create_time DESC, device_id"),
            S(directory_id), S(user_id), absl::ToUnixMicros(created_after));
        std::vector<Device> devices;
        for (const pqxx::row& row : r) devices.push_back(DeviceFromRow(row));
        return devices;
      });
}

absl::Status PgDeviceStore::DeleteDevice(absl::string_view directory_id, absl::string_view user_id,
                                         absl::string_view device_id) {
  return pool_->Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r =
        tx.exec_params(absl::StrCat("DELETE FROM ", Table(),
                                    " WHERE device_id = $3 AND user_id = $2 AND directory_id = $1 "
                                    "RETURNING device_id"),
                       S(directory_id), S(user_id), S(device_id));
    if (r.empty()) return absl::NotFoundError("no such device");
    return absl::OkStatus();
  });
}

void PgDeviceStore::ForgetAll(pqxx::work& tx, absl::string_view schema, absl::string_view user_id) {
  tx.exec_params0(absl::StrCat("DELETE FROM ", DevicesTable(schema), " WHERE user_id = $1"),
                  S(user_id));
}

}  // namespace tally::credential
