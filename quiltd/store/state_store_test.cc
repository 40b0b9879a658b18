#include "quiltd/store/state_store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/state_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<StateStore> OpenStore() {
    auto store = StateStore::Open(dir_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string dir_;
};

// A 64-hex-character id that starts with `prefix`.
std::string Id(const std::string& prefix) { return prefix + std::string(64 - prefix.size(), '0'); }

ContainerRecord Record(const std::string& id, const std::string& name, int64_t created = 1) {
  ContainerRecord r;
  r.id = id;
  r.name = name;
  r.image_digest = "sha256:aaaa";
  r.spec = std::string("\x0a\x00\x01spec", 7);  // binary, with a NUL byte
  r.state = ContainerState::kRunning;
  r.monitor_pid = 123;
  r.monitor_start_ticks = 4567;
  r.init_pid = 124;
  r.init_start_ticks = 4568;
  r.exit_code = 3;
  r.exit_signal = 9;
  r.reason = "OOMKilled";
  r.message = "ran out of memory";
  r.created_at_ns = created;
  r.started_at_ns = created + 10;
  r.finished_at_ns = created + 20;
  return r;
}

void ExpectSame(const ContainerRecord& a, const ContainerRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.image_digest, b.image_digest);
  EXPECT_EQ(a.spec, b.spec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.monitor_pid, b.monitor_pid);
  EXPECT_EQ(a.monitor_start_ticks, b.monitor_start_ticks);
  EXPECT_EQ(a.init_pid, b.init_pid);
  EXPECT_EQ(a.init_start_ticks, b.init_start_ticks);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.exit_signal, b.exit_signal);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.created_at_ns, b.created_at_ns);
  EXPECT_EQ(a.started_at_ns, b.started_at_ns);
  EXPECT_EQ(a.finished_at_ns, b.finished_at_ns);
}

TEST_F(StateStoreTest, InsertGetRoundTripsEveryField) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ContainerRecord r = Record(Id("abc"), "web");
  ASSERT_TRUE(store->Insert(r).ok());
  auto got = store->Get(r.id);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, r);
}

TEST_F(StateStoreTest, GetMissingIsNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->Get(Id("ab"));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("no such container"));
}

TEST_F(StateStoreTest, UpdateReplacesFields) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ContainerRecord r = Record(Id("abc"), "web");
  ASSERT_TRUE(store->Insert(r).ok());
  r.state = ContainerState::kExited;
  r.exit_code = 42;
  r.name = "renamed";
  r.message = "done";
  ASSERT_TRUE(store->Update(r).ok());
  auto got = store->Get(r.id);
  ASSERT_TRUE(got.ok());
  ExpectSame(*got, r);
  EXPECT_EQ(store->Resolve("web").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StateStoreTest, UpdateMissingIsNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Update(Record(Id("abc"), "x")).code(), absl::StatusCode::kNotFound);
}

TEST_F(StateStoreTest, DeleteRemovesRow) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ContainerRecord r = Record(Id("abc"), "web");
  ASSERT_TRUE(store->Insert(r).ok());
  ASSERT_TRUE(store->Delete(r.id).ok());
  EXPECT_EQ(store->Get(r.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete(r.id).code(), absl::StatusCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(store->Insert(Record(Id("def"), "web")).ok());
}

TEST_F(StateStoreTest, DuplicateNameNamesTheHolder) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("abc123"), "web")).ok());
  absl::Status s = store->Insert(Record(Id("def"), "web"));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "name \"web\" is already in use by container abc123000000");
  // Renaming another container onto a taken name fails the same way.
  ContainerRecord other = Record(Id("def"), "db");
  ASSERT_TRUE(store->Insert(other).ok());
  other.name = "web";
  EXPECT_EQ(store->Update(other).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(StateStoreTest, DuplicateIdIsAlreadyExists) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("abc"), "a")).ok());
  absl::Status s = store->Insert(Record(Id("abc"), "b"));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("already exists"));
}

TEST_F(StateStoreTest, ManyUnnamedContainersAreAllowed) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("a"), "")).ok());
  ASSERT_TRUE(store->Insert(Record(Id("b"), "")).ok());
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(StateStoreTest, ResolveByIdNameAndPrefix) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("abc1"), "web")).ok());
  ASSERT_TRUE(store->Insert(Record(Id("abc2"), "db")).ok());
  ASSERT_TRUE(store->Insert(Record(Id("f9"), "")).ok());

  EXPECT_EQ(store->Resolve(Id("abc1"))->name, "web");
  EXPECT_EQ(store->Resolve("db")->id, Id("abc2"));
  EXPECT_EQ(store->Resolve("abc1")->name, "web");
  EXPECT_EQ(store->Resolve("f")->id, Id("f9"));
  EXPECT_EQ(store->Resolve("f9")->id, Id("f9"));

  auto ambiguous = store->Resolve("abc");
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ambiguous.status().message(), "ambiguous id prefix abc: matches several containers");

  auto missing = store->Resolve("abd");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no such container: abd");

  // Not hex: never treated as a prefix.
  EXPECT_EQ(store->Resolve("ABC1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Resolve("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, NameWinsOverPrefix) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("abc"), "")).ok());
  ASSERT_TRUE(store->Insert(Record(Id("def"), "abc")).ok());
  EXPECT_EQ(store->Resolve("abc")->id, Id("def"));
}

TEST_F(StateStoreTest, PrefixEndingInNineDoesNotMatchColon) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("19"), "")).ok());
  ASSERT_TRUE(store->Insert(Record(Id("1a"), "")).ok());
  EXPECT_EQ(store->Resolve("19")->id, Id("19"));
  EXPECT_EQ(store->Resolve("1a")->id, Id("1a"));
  EXPECT_EQ(store->Resolve("1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, ListIsNewestFirst) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(Record(Id("a"), "old", 100)).ok());
  ASSERT_TRUE(store->Insert(Record(Id("b"), "new", 300)).ok());
  ASSERT_TRUE(store->Insert(Record(Id("c"), "mid", 200)).ok());
  ASSERT_TRUE(store->Insert(Record(Id("d"), "mid2", 200)).ok());
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const auto& r : *all) names.push_back(r.name);
  EXPECT_THAT(names, ::testing::ElementsAre("new", "mid", "mid2", "old"));
}

TEST_F(StateStoreTest, ImageInUse) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(*store->ImageInUse("sha256:aaaa"));
  ASSERT_TRUE(store->Insert(Record(Id("a"), "x")).ok());
  EXPECT_TRUE(*store->ImageInUse("sha256:aaaa"));
  EXPECT_FALSE(*store->ImageInUse("sha256:bbbb"));
  ASSERT_TRUE(store->Delete(Id("a")).ok());
  EXPECT_FALSE(*store->ImageInUse("sha256:aaaa"));
}

TEST_F(StateStoreTest, ReopenPersists) {
  ContainerRecord r = Record(Id("abc"), "web");
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(r).ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->Resolve("web");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, r);
  // The name index survived too.
  EXPECT_EQ(store->Insert(Record(Id("def"), "web")).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(StateStoreTest, CorruptFileFailsOpenClearly) {
  {
    std::ofstream out(dir_ + "/quilt.db");
    out << std::string(8192, 'x');
  }
  auto store = StateStore::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_ + "/quilt.db"));
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
}

// Runs `sql` on the database file directly and returns the first column of the first row.
std::string QueryRaw(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST_F(StateStoreTest, SchemaIsVersionTwoInWalMode) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryRaw(dir_ + "/quilt.db", "PRAGMA user_version"), "2");
  EXPECT_EQ(QueryRaw(dir_ + "/quilt.db", "PRAGMA journal_mode"), "wal");
}

TEST_F(StateStoreTest, NewerSchemaIsRefused) {
  { ASSERT_NE(OpenStore(), nullptr); }
  QueryRaw(dir_ + "/quilt.db", "PRAGMA user_version = 7");
  auto store = StateStore::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("version 7 is newer"));
}

TEST_F(StateStoreTest, OpenCreatesMissingStateDir) {
  dir_ += "/sub";
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/quilt.db"));
  std::filesystem::remove_all(dir_);
  dir_.resize(dir_.size() - 4);
}

TEST_F(StateStoreTest, ConcurrentWritersFromEightThreads) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string hex = absl::StrCat(absl::Hex(t * 1000 + i, absl::kZeroPad8));
        ContainerRecord r = Record(Id(hex), absl::StrCat("c", t, "-", i), i);
        if (!store->Insert(r).ok()) ++failures[t];
        r.state = ContainerState::kExited;
        if (!store->Update(r).ok()) ++failures[t];
        // Everyone also fights over one shared name: exactly one insert may win.
        ContainerRecord shared = Record(Id(absl::StrCat("f", hex)), "shared", i);
        (void)store->Insert(shared);
        if (!store->Resolve(r.name).ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  auto all = store->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread + 1));
  for (const auto& r : *all) {
    if (r.name != "shared") {
      EXPECT_EQ(r.state, ContainerState::kExited) << r.name;
    }
  }
}

}  // namespace
}  // namespace quilt
