// Durable container state in SQLite (WAL). quiltd writes every state transition here before
// it replies, so after a crash the store says what was promised to clients.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "quiltd/store/event_record.h"

struct sqlite3;
struct sqlite3_stmt;

namespace quilt {

// Mirrors quilt.v1.ContainerState.
enum class ContainerState : int { kCreated = 1, kRunning = 2, kExited = 3, kFailed = 4 };

struct ContainerRecord {
  std::string id;
  std::string name;  // empty when unnamed; unique otherwise
  std::string image_digest;
  std::string spec;  // serialized quilt.v1.ContainerSpec (binary protobuf)
  ContainerState state = ContainerState::kCreated;
  pid_t monitor_pid = 0;
  int64_t monitor_start_ticks = 0;  // /proc/<pid>/stat starttime, to detect pid reuse
  pid_t init_pid = 0;
  int64_t init_start_ticks = 0;
  int32_t exit_code = 0;
  int32_t exit_signal = 0;
  std::string reason;
  std::string message;
  int64_t created_at_ns = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
};

class StateStore {
 public:
  // Opens or creates <state_dir>/quilt.db (WAL, synchronous=NORMAL, schema migrated).
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const std::string& state_dir);
  ~StateStore();

  // Inserts a new container. ALREADY_EXISTS when the name (or id) is taken. `events` are
  // written in the same transaction (see AppendEvents).
  absl::Status Insert(const ContainerRecord& record, std::vector<EventRecord> events = {});

  // Replaces every field of the container with this id. NOT_FOUND if absent. `events` are
  // written in the same transaction: both or neither survive a crash.
  absl::Status Update(const ContainerRecord& record, std::vector<EventRecord> events = {});

  // Deletes the row. NOT_FOUND if absent. `events` go in the same transaction.
  absl::Status Delete(const std::string& id, std::vector<EventRecord> events = {});

  // Exact id. NOT_FOUND if absent.
  absl::StatusOr<ContainerRecord> Get(const std::string& id) const;

  // Resolves a ref: exact id, exact name, or unique id prefix (at least 1 char).
  // NOT_FOUND "no such container: <ref>"; INVALID_ARGUMENT when a prefix is ambiguous.
  absl::StatusOr<ContainerRecord> Resolve(const std::string& ref) const;

  // All containers, newest first.
  absl::StatusOr<std::vector<ContainerRecord>> List() const;

  // Whether any container uses this image digest.
  absl::StatusOr<bool> ImageInUse(const std::string& digest) const;

  // Appends events on their own (no state change goes with them). Each gets the next seq;
  // events beyond the retention limit are pruned oldest first in the same transaction.
  absl::Status AppendEvents(std::vector<EventRecord> events);

  // Up to `limit` persisted events with seq > `after_seq`, oldest first.
  absl::StatusOr<std::vector<EventRecord>> EventsAfter(int64_t after_seq, size_t limit) const;

  // The oldest and newest seq still stored; {0, 0} before the first event. The newest is
  // never pruned, so it is also the last seq ever assigned.
  struct SeqRange {
    int64_t oldest = 0;
    int64_t newest = 0;
  };
  absl::StatusOr<SeqRange> EventSeqRange() const;

  // Called with every event after its transaction commits, in seq order, under the store's
  // lock: it must not block nor call back into the store.
  void SetEventSink(std::function<void(const EventRecord&)> sink);

  // How many events are kept (default kDefaultEventLimit).
  void SetEventLimit(int64_t limit);
  static constexpr int64_t kDefaultEventLimit = 100'000;

 private:
  // Cached prepared statements, one per query (see kStatementSql in state_store.cc).
  enum class Stmt : int {
    kInsert,
    kUpdate,
    kDelete,
    kGetById,
    kGetByName,
    kGetByIdRange,
    kList,
    kImageInUse,
    kBegin,
    kCommit,
    kRollback,
    kInsertEvent,
    kPruneEvents,
    kEventsAfter,
    kEventSeqRange,
    kCount,
  };
  struct StmtDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };

  explicit StateStore(sqlite3* db);

  // Prepares every statement once (after the schema exists).
  absl::Status PrepareStatements();
  // The cached statement, reset and with its bindings cleared.
  sqlite3_stmt* Prepared(Stmt which) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Turns a failed sqlite3 call into a Status ("<what>: <sqlite message>").
  absl::Status SqliteError(int rc, absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps a constraint failure of Insert/Update to ALREADY_EXISTS naming the holder.
  absl::Status ConstraintError(const ContainerRecord& record) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Binds every column of `record` to the INSERT/UPDATE statement and steps it.
  absl::Status WriteRecord(Stmt which, const ContainerRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps a SELECT returning at most `limit` containers.
  absl::StatusOr<std::vector<ContainerRecord>> QueryRecords(sqlite3_stmt* stmt, size_t limit) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<ContainerRecord>> FindOne(Stmt which, absl::string_view key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps a statement that returns no rows.
  absl::Status StepDone(Stmt which, absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `change` and writes `events` (assigning their seqs) in one transaction, then hands
  // the events to the sink. Without events, `change` runs on its own.
  absl::Status WithEvents(const std::function<absl::Status()>& change,
                          std::vector<EventRecord> events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts one event and sets its seq.
  absl::Status InsertEvent(EventRecord& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateLocked(const ContainerRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeleteLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<sqlite3, DbCloser> db_ ABSL_GUARDED_BY(mu_);
  std::array<StmtPtr, static_cast<size_t>(Stmt::kCount)> stmts_ ABSL_GUARDED_BY(mu_);
  std::function<void(const EventRecord&)> event_sink_ ABSL_GUARDED_BY(mu_);
  int64_t event_limit_ ABSL_GUARDED_BY(mu_) = kDefaultEventLimit;
};

}  // namespace quilt
