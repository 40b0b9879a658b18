#include "quiltd/store/state_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

constexpr int kSchemaVersion = 1;

// Every column of a ContainerRecord, in the order the SELECTs return them and the INSERT
// and UPDATE bind them (?1 .. ?16).
#define QUILT_CONTAINER_COLUMNS                                                       \
  "id, name, image_digest, spec, state, monitor_pid, monitor_start_ticks, init_pid, " \
  "init_start_ticks, exit_code, exit_signal, reason, message, created_at_ns, "        \
  "started_at_ns, finished_at_ns"

// Indexed by StateStore::Stmt.
constexpr const char* kStatementSql[] = {
    "INSERT INTO containers (" QUILT_CONTAINER_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    "UPDATE containers SET name = ?2, image_digest = ?3, spec = ?4, state = ?5, "
    "monitor_pid = ?6, monitor_start_ticks = ?7, init_pid = ?8, init_start_ticks = ?9, "
    "exit_code = ?10, exit_signal = ?11, reason = ?12, message = ?13, created_at_ns = ?14, "
    "started_at_ns = ?15, finished_at_ns = ?16 WHERE id = ?1",
    "DELETE FROM containers WHERE id = ?1",
    "SELECT " QUILT_CONTAINER_COLUMNS " FROM containers WHERE id = ?1",
    "SELECT " QUILT_CONTAINER_COLUMNS " FROM containers WHERE name = ?1 AND name != ''",
    "SELECT " QUILT_CONTAINER_COLUMNS
    " FROM containers WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2",
    "SELECT " QUILT_CONTAINER_COLUMNS " FROM containers ORDER BY created_at_ns DESC, id",
    "SELECT 1 FROM containers WHERE image_digest = ?1 LIMIT 1",
};
#undef QUILT_CONTAINER_COLUMNS

// Migrations, applied in order: migration i brings the schema from version i to i + 1.
constexpr const char* kMigrations[kSchemaVersion] = {
    "CREATE TABLE containers ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  image_digest TEXT NOT NULL,"
    "  spec BLOB NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  monitor_pid INTEGER NOT NULL DEFAULT 0,"
    "  monitor_start_ticks INTEGER NOT NULL DEFAULT 0,"
    "  init_pid INTEGER NOT NULL DEFAULT 0,"
    "  init_start_ticks INTEGER NOT NULL DEFAULT 0,"
    "  exit_code INTEGER NOT NULL DEFAULT 0,"
    "  exit_signal INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  message TEXT NOT NULL DEFAULT '',"
    "  created_at_ns INTEGER NOT NULL DEFAULT 0,"
    "  started_at_ns INTEGER NOT NULL DEFAULT 0,"
    "  finished_at_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX containers_name ON containers(name) WHERE name != '';"
    "CREATE INDEX containers_image ON containers(image_digest);",
};

absl::StatusCode CodeForSqlite(sqlite3* db, int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_IOERR:
      // SQLite reports a failed write as a generic I/O error; the errno says whether the
      // disk was full.
      return sqlite3_system_errno(db) == ENOSPC || sqlite3_system_errno(db) == EDQUOT
                 ? absl::StatusCode::kResourceExhausted
                 : absl::StatusCode::kInternal;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

// Status for a failed call on `db` (which may be half-open during Open).
absl::Status DbError(sqlite3* db, int rc, absl::string_view what) {
  absl::StatusCode code = CodeForSqlite(db, rc);
  if (code == absl::StatusCode::kResourceExhausted) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": state store: disk full (no space left on device)"));
  }
  return absl::Status(code, absl::StrCat(what, ": ", sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const char* sql, absl::string_view what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return DbError(db, rc, what);
  return absl::OkStatus();
}

absl::StatusOr<int> UserVersion(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &raw, nullptr);
  if (rc != SQLITE_OK) return DbError(db, rc, "read schema version");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return DbError(db, rc, "read schema version");
  return sqlite3_column_int(stmt.get(), 0);
}

// Brings the schema to kSchemaVersion, each step in its own transaction so a crash leaves
// a consistent (older) version behind.
absl::Status Migrate(sqlite3* db) {
  QUILT_ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("state store schema version ", version,
                                                      " is newer than this quiltd (",
                                                      kSchemaVersion, ")"));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    std::string sql = absl::StrCat("BEGIN IMMEDIATE;", kMigrations[v],
                                   "PRAGMA user_version = ", v + 1, ";COMMIT;");
    absl::Status status = Exec(db, sql.c_str(), absl::StrCat("migrate schema to version ", v + 1));
    if (!status.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
  }
  return absl::OkStatus();
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

absl::Status BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so the binding never outlives a temporary.
  if (sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("bind parameter ", index));
  }
  return absl::OkStatus();
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const void* data = sqlite3_column_blob(stmt, col);
  int size = sqlite3_column_bytes(stmt, col);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

ContainerRecord ReadRow(sqlite3_stmt* stmt) {
  ContainerRecord r;
  r.id = ColumnText(stmt, 0);
  r.name = ColumnText(stmt, 1);
  r.image_digest = ColumnText(stmt, 2);
  r.spec = ColumnText(stmt, 3);
  r.state = static_cast<ContainerState>(sqlite3_column_int(stmt, 4));
  r.monitor_pid = static_cast<pid_t>(sqlite3_column_int64(stmt, 5));
  r.monitor_start_ticks = sqlite3_column_int64(stmt, 6);
  r.init_pid = static_cast<pid_t>(sqlite3_column_int64(stmt, 7));
  r.init_start_ticks = sqlite3_column_int64(stmt, 8);
  r.exit_code = static_cast<int32_t>(sqlite3_column_int64(stmt, 9));
  r.exit_signal = static_cast<int32_t>(sqlite3_column_int64(stmt, 10));
  r.reason = ColumnText(stmt, 11);
  r.message = ColumnText(stmt, 12);
  r.created_at_ns = sqlite3_column_int64(stmt, 13);
  r.started_at_ns = sqlite3_column_int64(stmt, 14);
  r.finished_at_ns = sqlite3_column_int64(stmt, 15);
  return r;
}

}  // namespace

void StateStore::StmtDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

void StateStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close(db); }

StateStore::StateStore(sqlite3* db) : db_(db) {}

StateStore::~StateStore() {
  absl::MutexLock lock(&mu_);
  // Statements must be finalized before the connection closes.
  for (StmtPtr& stmt : stmts_) stmt.reset();
  db_.reset();
}

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(absl::StrCat("create state directory ", state_dir));
  }
  const std::string path = state_dir + "/quilt.db";
  const std::string what = absl::StrCat("open state store ", path);
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) {
    if (db == nullptr) return absl::ResourceExhaustedError(what + ": out of memory");
    return DbError(db.get(), rc, what);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // busy_timeout first: the journal_mode change itself may need a lock. SQLite reads the
  // file header lazily, so a corrupt or foreign file shows up here, at the first pragma.
  QUILT_RETURN_IF_ERROR(Exec(db.get(),
                             "PRAGMA busy_timeout = 5000;"
                             "PRAGMA journal_mode = WAL;"
                             "PRAGMA synchronous = NORMAL;"
                             "PRAGMA foreign_keys = ON;",
                             what));
  QUILT_RETURN_IF_ERROR(Annotate(Migrate(db.get()), what));
  std::unique_ptr<StateStore> store(new StateStore(db.release()));
  QUILT_RETURN_IF_ERROR(Annotate(store->PrepareStatements(), what));
  return store;
}

absl::Status StateStore::PrepareStatements() {
  absl::MutexLock lock(&mu_);
  static_assert(std::size(kStatementSql) == static_cast<size_t>(Stmt::kCount));
  for (size_t i = 0; i < stmts_.size(); ++i) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), kStatementSql[i], -1, SQLITE_PREPARE_PERSISTENT, &raw,
                                nullptr);
    if (rc != SQLITE_OK) return SqliteError(rc, "prepare statement");
    stmts_[i].reset(raw);
  }
  return absl::OkStatus();
}

sqlite3_stmt* StateStore::Prepared(Stmt which) const {
  sqlite3_stmt* stmt = stmts_[static_cast<size_t>(which)].get();
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return stmt;
}

absl::Status StateStore::SqliteError(int rc, absl::string_view what) const {
  return DbError(db_.get(), rc, what);
}

absl::Status StateStore::ConstraintError(const ContainerRecord& record) const {
  if (!record.name.empty()) {
    auto holder = FindOne(Stmt::kGetByName, record.name);
    if (holder.ok() && holder->has_value() && (*holder)->id != record.id) {
      return absl::AlreadyExistsError(absl::StrCat("name \"", record.name,
                                                   "\" is already in use by container ",
                                                   (*holder)->id.substr(0, 12)));
    }
  }
  return absl::AlreadyExistsError(absl::StrCat("container ", record.id, " already exists"));
}

absl::Status StateStore::WriteRecord(Stmt which, const ContainerRecord& r) {
  sqlite3_stmt* stmt = Prepared(which);
  QUILT_RETURN_IF_ERROR(BindText(stmt, 1, r.id));
  QUILT_RETURN_IF_ERROR(BindText(stmt, 2, r.name));
  QUILT_RETURN_IF_ERROR(BindText(stmt, 3, r.image_digest));
  if (sqlite3_bind_blob(stmt, 4, r.spec.data(), static_cast<int>(r.spec.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    return absl::InternalError("bind container spec");
  }
  const int64_t ints[] = {static_cast<int64_t>(r.state),
                          r.monitor_pid,
                          r.monitor_start_ticks,
                          r.init_pid,
                          r.init_start_ticks,
                          r.exit_code,
                          r.exit_signal};
  for (size_t i = 0; i < std::size(ints); ++i) {
    sqlite3_bind_int64(stmt, static_cast<int>(5 + i), ints[i]);
  }
  QUILT_RETURN_IF_ERROR(BindText(stmt, 12, r.reason));
  QUILT_RETURN_IF_ERROR(BindText(stmt, 13, r.message));
  sqlite3_bind_int64(stmt, 14, r.created_at_ns);
  sqlite3_bind_int64(stmt, 15, r.started_at_ns);
  sqlite3_bind_int64(stmt, 16, r.finished_at_ns);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE) return absl::OkStatus();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return ConstraintError(r);
  }
  return SqliteError(rc, absl::StrCat("write container ", r.id));
}

absl::StatusOr<std::vector<ContainerRecord>> StateStore::QueryRecords(sqlite3_stmt* stmt,
                                                                      size_t limit) const {
  std::vector<ContainerRecord> out;
  while (out.size() < limit) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      sqlite3_reset(stmt);
      return SqliteError(rc, "read containers");
    }
    out.push_back(ReadRow(stmt));
  }
  // Reset at once so the statement does not hold a read transaction open (which would keep
  // the WAL from being checkpointed).
  sqlite3_reset(stmt);
  return out;
}

absl::StatusOr<std::optional<ContainerRecord>> StateStore::FindOne(Stmt which,
                                                                   absl::string_view key) const {
  sqlite3_stmt* stmt = Prepared(which);
  QUILT_RETURN_IF_ERROR(BindText(stmt, 1, key));
  QUILT_ASSIGN_OR_RETURN(std::vector<ContainerRecord> rows, QueryRecords(stmt, 1));
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

absl::Status StateStore::Insert(const ContainerRecord& record) {
  absl::MutexLock lock(&mu_);
  return WriteRecord(Stmt::kInsert, record);
}

absl::Status StateStore::Update(const ContainerRecord& record) {
  absl::MutexLock lock(&mu_);
  QUILT_RETURN_IF_ERROR(WriteRecord(Stmt::kUpdate, record));
  if (sqlite3_changes(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("no such container: ", record.id));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = Prepared(Stmt::kDelete);
  QUILT_RETURN_IF_ERROR(BindText(stmt, 1, id));
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) return SqliteError(rc, absl::StrCat("delete container ", id));
  if (sqlite3_changes(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("no such container: ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<ContainerRecord> StateStore::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  QUILT_ASSIGN_OR_RETURN(std::optional<ContainerRecord> found, FindOne(Stmt::kGetById, id));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("no such container: ", id));
  return std::move(*found);
}

absl::StatusOr<ContainerRecord> StateStore::Resolve(const std::string& ref) const {
  if (ref.empty()) return absl::InvalidArgumentError("container reference is empty");
  absl::MutexLock lock(&mu_);
  QUILT_ASSIGN_OR_RETURN(std::optional<ContainerRecord> found, FindOne(Stmt::kGetById, ref));
  if (found.has_value()) return std::move(*found);
  QUILT_ASSIGN_OR_RETURN(found, FindOne(Stmt::kGetByName, ref));
  if (found.has_value()) return std::move(*found);
  if (IsLowerHex(ref)) {
    // Every string starting with `ref` sorts in [ref, ref with its last byte incremented),
    // so the primary key index answers the prefix query without a scan.
    std::string upper = ref;
    upper.back() = static_cast<char>(upper.back() + 1);
    sqlite3_stmt* stmt = Prepared(Stmt::kGetByIdRange);
    QUILT_RETURN_IF_ERROR(BindText(stmt, 1, ref));
    QUILT_RETURN_IF_ERROR(BindText(stmt, 2, upper));
    QUILT_ASSIGN_OR_RETURN(std::vector<ContainerRecord> rows, QueryRecords(stmt, 2));
    if (rows.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("ambiguous id prefix ", ref, ": matches several containers"));
    }
    if (rows.size() == 1) return std::move(rows.front());
  }
  return absl::NotFoundError(absl::StrCat("no such container: ", ref));
}

absl::StatusOr<std::vector<ContainerRecord>> StateStore::List() const {
  absl::MutexLock lock(&mu_);
  return QueryRecords(Prepared(Stmt::kList), SIZE_MAX);
}

absl::StatusOr<bool> StateStore::ImageInUse(const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = Prepared(Stmt::kImageInUse);
  QUILT_RETURN_IF_ERROR(BindText(stmt, 1, digest));
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, absl::StrCat("check image use ", digest));
}

}  // namespace quilt
