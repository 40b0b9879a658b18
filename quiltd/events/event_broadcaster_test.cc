#include "quiltd/events/event_broadcaster.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

EventRecord Event(int64_t seq, EventType type = EventType::kCreated,
                  const std::string& id = "abc123", const std::string& name = "web") {
  EventRecord e;
  e.seq = seq;
  e.type = type;
  e.container_id = id;
  e.name = name;
  return e;
}

EventFilter ByContainer(const std::string& ref) {
  EventFilter filter;
  filter.container = ref;
  return filter;
}

// Drains every buffered event's seq.
std::vector<int64_t> Drain(EventSubscription& sub) {
  std::vector<int64_t> seqs;
  for (;;) {
    auto next = sub.Next();
    if (!next.ok() || !next->has_value()) return seqs;
    seqs.push_back((*next)->seq);
  }
}

TEST(EventFilterTest, MatchesByTypeIdPrefixAndName) {
  EventFilter all;
  EXPECT_TRUE(all.Matches(Event(1)));
  EventFilter by_type;
  by_type.types = {EventType::kExited, EventType::kOom};
  EXPECT_FALSE(by_type.Matches(Event(1, EventType::kCreated)));
  EXPECT_TRUE(by_type.Matches(Event(1, EventType::kOom)));
  EXPECT_TRUE(ByContainer("abc").Matches(Event(1)));
  EXPECT_TRUE(ByContainer("web").Matches(Event(1)));
  EXPECT_FALSE(ByContainer("bc").Matches(Event(1)));
  EXPECT_FALSE(ByContainer("we").Matches(Event(1)));
  EventRecord image = Event(1, EventType::kImageImported, "", "web");
  EXPECT_FALSE(ByContainer("web").Matches(image));
}

TEST(EventBroadcasterTest, SubscriberSeesEventsAfterItsStart) {
  EventBroadcaster broadcaster(41);
  broadcaster.Publish(Event(42));
  auto sub = broadcaster.Subscribe({}, [] {});
  EXPECT_EQ(sub->live_after(), 42);
  broadcaster.Publish(Event(43));
  broadcaster.Publish(Event(44));
  EXPECT_THAT(Drain(*sub), ::testing::ElementsAre(43, 44));
}

TEST(EventBroadcasterTest, FilterAppliesBeforeBuffering) {
  EventBroadcaster broadcaster(0, /*buffer_limit=*/2);
  EventFilter exited;
  exited.types = {EventType::kExited};
  auto sub = broadcaster.Subscribe(exited, [] {});
  for (int i = 1; i <= 10; ++i) broadcaster.Publish(Event(i, EventType::kCreated));
  broadcaster.Publish(Event(11, EventType::kExited));
  // Ten unrelated events did not count against the buffer.
  EXPECT_THAT(Drain(*sub), ::testing::ElementsAre(11));
}

TEST(EventBroadcasterTest, WakeFiresOnceWhenArmed) {
  EventBroadcaster broadcaster(0);
  int wakes = 0;
  auto sub = broadcaster.Subscribe({}, [&wakes] { ++wakes; });
  broadcaster.Publish(Event(1));
  EXPECT_EQ(wakes, 0);  // not armed: the subscriber has not asked yet
  EXPECT_THAT(Drain(*sub), ::testing::ElementsAre(1));  // the empty Next arms
  broadcaster.Publish(Event(2));
  broadcaster.Publish(Event(3));
  EXPECT_EQ(wakes, 1);
  EXPECT_THAT(Drain(*sub), ::testing::ElementsAre(2, 3));
  EXPECT_TRUE(sub->Disarm());
  broadcaster.Publish(Event(4));
  EXPECT_EQ(wakes, 1);
  EXPECT_FALSE(sub->Disarm());
}

TEST(EventBroadcasterTest, SlowSubscriberIsCutOffWithoutBlockingOthers) {
  EventBroadcaster broadcaster(0, /*buffer_limit=*/8);
  auto slow = broadcaster.Subscribe({}, [] {});
  int fast_wakes = 0;
  auto fast = broadcaster.Subscribe({}, [&fast_wakes] { ++fast_wakes; });
  std::vector<int64_t> fast_seen;
  for (int i = 1; i <= 100; ++i) {
    broadcaster.Publish(Event(i));
    for (int64_t seq : Drain(*fast)) fast_seen.push_back(seq);
  }
  EXPECT_EQ(fast_seen.size(), 100u);
  auto next = slow->Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(next.status().message(), ::testing::HasSubstr("more than 8 events behind"));
}

TEST(EventBroadcasterTest, OverflowWakesAnArmedSubscriber) {
  EventBroadcaster broadcaster(0, /*buffer_limit=*/1);
  int wakes = 0;
  auto sub = broadcaster.Subscribe({}, [&wakes] { ++wakes; });
  EXPECT_THAT(Drain(*sub), ::testing::IsEmpty());
  broadcaster.Publish(Event(1));
  broadcaster.Publish(Event(2));
  EXPECT_EQ(wakes, 1);
  EXPECT_FALSE(sub->Next().ok());
}

TEST(EventBroadcasterTest, UnsubscribedGetsNothing) {
  EventBroadcaster broadcaster(0);
  int wakes = 0;
  auto sub = broadcaster.Subscribe({}, [&wakes] { ++wakes; });
  EXPECT_EQ(broadcaster.subscriber_count(), 1u);
  (void)sub->Next();
  broadcaster.Unsubscribe(sub);
  EXPECT_EQ(broadcaster.subscriber_count(), 0u);
  broadcaster.Publish(Event(1));
  EXPECT_EQ(wakes, 0);
}

TEST(EventBroadcasterTest, ConcurrentReaderSeesEverySeqOnce) {
  EventBroadcaster broadcaster(0, /*buffer_limit=*/100000);
  std::atomic<int> wakes{0};
  auto sub = broadcaster.Subscribe({}, [&wakes] { wakes.fetch_add(1); });
  constexpr int kEvents = 20000;
  std::thread publisher([&broadcaster] {
    for (int i = 1; i <= kEvents; ++i) broadcaster.Publish(Event(i));
  });
  std::vector<int64_t> seen;
  while (seen.size() < kEvents) {
    for (int64_t seq : Drain(*sub)) seen.push_back(seq);
  }
  publisher.join();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace quilt
