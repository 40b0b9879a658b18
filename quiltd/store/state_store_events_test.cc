// The events table: seqs, atomicity with the state change, pruning, the sink.
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/store/state_store.h"

namespace quilt {
namespace {

class StateStoreEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/state_store_events_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = StateStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<StateStore> store_;
};

ContainerRecord Container(const std::string& id) {
  ContainerRecord r;
  r.id = id + std::string(64 - id.size(), '0');
  r.image_digest = "sha256:aaaa";
  r.state = ContainerState::kCreated;
  return r;
}

EventRecord Event(EventType type, const std::string& id, int64_t time_ns = 1) {
  EventRecord e;
  e.type = type;
  e.container_id = id;
  e.time_ns = time_ns;
  return e;
}

std::vector<int64_t> Seqs(const std::vector<EventRecord>& events) {
  std::vector<int64_t> seqs;
  for (const EventRecord& e : events) seqs.push_back(e.seq);
  return seqs;
}

TEST_F(StateStoreEventsTest, EmptyStoreHasNoEvents) {
  auto range = store_->EventSeqRange();
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->oldest, 0);
  EXPECT_EQ(range->newest, 0);
  auto events = store_->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
}

TEST_F(StateStoreEventsTest, EventsGetIncreasingSeqsAndRoundTrip) {
  ContainerRecord c = Container("a");
  EventRecord created = Event(EventType::kCreated, c.id, 100);
  created.name = "web";
  created.image = "sha256:bbbb";
  ASSERT_TRUE(store_->Insert(c, {created}).ok());
  c.state = ContainerState::kExited;
  EventRecord exited = Event(EventType::kExited, c.id, 200);
  exited.exit_code = 137;
  exited.signal = 9;
  exited.reason = "OOMKilled";
  exited.message = "out of memory";
  ASSERT_TRUE(store_->Update(c, {Event(EventType::kOom, c.id, 200), exited}).ok());

  auto events = store_->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_THAT(Seqs(*events), ::testing::ElementsAre(1, 2, 3));
  const EventRecord& first = (*events)[0];
  EXPECT_EQ(first.type, EventType::kCreated);
  EXPECT_EQ(first.time_ns, 100);
  EXPECT_EQ(first.container_id, c.id);
  EXPECT_EQ(first.name, "web");
  EXPECT_EQ(first.image, "sha256:bbbb");
  const EventRecord& last = (*events)[2];
  EXPECT_EQ(last.type, EventType::kExited);
  EXPECT_EQ(last.exit_code, 137);
  EXPECT_EQ(last.signal, 9);
  EXPECT_EQ(last.reason, "OOMKilled");
  EXPECT_EQ(last.message, "out of memory");

  auto after = store_->EventsAfter(1, 1);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(Seqs(*after), ::testing::ElementsAre(2));
}

TEST_F(StateStoreEventsTest, FailedChangeWritesNoEvent) {
  ContainerRecord c = Container("a");
  ASSERT_TRUE(store_->Insert(c, {Event(EventType::kCreated, c.id)}).ok());
  // A second insert of the same id fails: its event must not be recorded either.
  absl::Status dup = store_->Insert(c, {Event(EventType::kCreated, c.id)});
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  absl::Status missing =
      store_->Update(Container("b"), {Event(EventType::kExited, Container("b").id)});
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(Container("c").id, {Event(EventType::kRemoved, "c")}).code(),
            absl::StatusCode::kNotFound);
  auto events = store_->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Seqs(*events), ::testing::ElementsAre(1));
  // The failed transactions rolled back cleanly: the next write works and takes seq 2.
  ASSERT_TRUE(store_->Delete(c.id, {Event(EventType::kRemoved, c.id)}).ok());
  EXPECT_EQ(store_->EventSeqRange()->newest, 2);
}

TEST_F(StateStoreEventsTest, SinkSeesCommittedEventsInOrder) {
  std::vector<int64_t> seen;
  store_->SetEventSink([&seen](const EventRecord& e) { seen.push_back(e.seq); });
  ContainerRecord c = Container("a");
  ASSERT_TRUE(store_->Insert(c, {Event(EventType::kCreated, c.id)}).ok());
  EXPECT_FALSE(store_->Insert(c, {Event(EventType::kCreated, c.id)}).ok());
  ASSERT_TRUE(
      store_->AppendEvents({Event(EventType::kKilled, c.id), Event(EventType::kStopped, c.id)})
          .ok());
  EXPECT_THAT(seen, ::testing::ElementsAre(1, 2, 3));
}

TEST_F(StateStoreEventsTest, PruningKeepsTheNewestAndNeverReusesSeqs) {
  store_->SetEventLimit(5);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store_->AppendEvents({Event(EventType::kKilled, "x", i)}).ok());
  }
  auto range = store_->EventSeqRange();
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->oldest, 8);
  EXPECT_EQ(range->newest, 12);
  auto events = store_->EventsAfter(0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Seqs(*events), ::testing::ElementsAre(8, 9, 10, 11, 12));

  // Seqs continue after a reopen, past every pruned one.
  store_.reset();
  auto reopened = StateStore::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);
  ASSERT_TRUE(store_->AppendEvents({Event(EventType::kKilled, "x")}).ok());
  EXPECT_EQ(store_->EventSeqRange()->newest, 13);
}

TEST_F(StateStoreEventsTest, ConcurrentWritersGetDistinctContiguousSeqs) {
  std::vector<int64_t> seen;
  store_->SetEventSink([&seen](const EventRecord& e) { seen.push_back(e.seq); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        ContainerRecord c = Container(absl::StrCat(t, "f", 100 + i));
        EXPECT_TRUE(store_->Insert(c, {Event(EventType::kCreated, c.id)}).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(seen.size(), 200u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace quilt
