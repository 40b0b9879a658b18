// Lifecycle events end to end: order, filters, resuming by seq, and exactly-once delivery
// across a kill -9 of the daemon while containers exit.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EventsTest : public QuiltdTest {
 protected:
  // Every persisted event after `since` that matches, then the stream ends.
  std::vector<v1::Event> Replay(int64_t since, const std::string& container = "",
                                std::vector<v1::EventType> types = {}) {
    v1::EventsRequest request;
    request.set_since_seq(since);
    request.set_replay_only(true);
    request.set_container(container);
    for (v1::EventType type : types) request.add_types(type);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = system_->Events(&ctx, request);
    std::vector<v1::Event> events;
    v1::Event event;
    while (reader->Read(&event)) events.push_back(event);
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return events;
  }

  int64_t NewestSeq() {
    std::vector<v1::Event> all = Replay(0);
    return all.empty() ? 0 : all.back().seq();
  }

  void Remove(const std::string& ref) {
    grpc::ClientContext ctx;
    v1::RemoveRequest request;
    request.set_ref(ref);
    request.set_force(true);
    v1::RemoveResponse response;
    grpc::Status status = containers_->Remove(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
};

// A followed Events stream read on its own thread.
class LiveEvents {
 public:
  LiveEvents(v1::System::Stub* stub, const v1::EventsRequest& request) {
    reader_ = stub->Events(&ctx_, request);
    thread_ = std::thread([this] {
      v1::Event event;
      while (reader_->Read(&event)) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(event);
        changed_.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      changed_.notify_all();
    });
  }
  ~LiveEvents() {
    ctx_.TryCancel();
    thread_.join();
    (void)reader_->Finish();
  }

  // Waits (up to 30 s) until `done` holds for the events received; returns them.
  std::vector<v1::Event> WaitUntil(const std::function<bool(const std::vector<v1::Event>&)>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return ended_ || done(events_); });
    return events_;
  }

  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1::Event> events_;
  bool ended_ = false;
};

size_t Count(const std::vector<v1::Event>& events, v1::EventType type) {
  size_t n = 0;
  for (const v1::Event& e : events) n += e.type() == type ? 1 : 0;
  return n;
}

std::vector<v1::EventType> Types(const std::vector<v1::Event>& events, const std::string& id) {
  std::vector<v1::EventType> types;
  for (const v1::Event& e : events) {
    if (e.container_id() == id) types.push_back(e.type());
  }
  return types;
}

void ExpectContiguous(const std::vector<v1::Event>& events, int64_t first) {
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].seq(), first + static_cast<int64_t>(i)) << "gap or duplicate at " << i;
  }
}

TEST_F(EventsTest, LiveStreamShowsTheLifecycleInOrder) {
  const int64_t start = NewestSeq();
  v1::EventsRequest request;
  request.set_since_seq(start);
  LiveEvents live(system_.get(), request);

  v1::ContainerSpec spec = Spec({"sh", "-c", "exit 3"});
  spec.set_name("lifecycle");
  v1::Container c = Run(spec);
  WaitFor(c.id());
  Remove(c.id());

  std::vector<v1::Event> events = live.WaitUntil(
      [](const std::vector<v1::Event>& e) { return Count(e, v1::EVENT_TYPE_REMOVED) > 0; });
  EXPECT_THAT(Types(events, c.id()), ElementsAre(v1::EVENT_TYPE_CREATED, v1::EVENT_TYPE_STARTED,
                                                 v1::EVENT_TYPE_EXITED, v1::EVENT_TYPE_REMOVED));
  ExpectContiguous(events, start + 1);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LE(events[i - 1].time().seconds(), events[i].time().seconds());
  }
  for (const v1::Event& e : events) {
    if (e.type() != v1::EVENT_TYPE_EXITED) continue;
    EXPECT_EQ(e.exit_code(), 3);
    EXPECT_EQ(e.reason(), "Exited");
    EXPECT_EQ(e.name(), "lifecycle");
  }
  EXPECT_FALSE(live.ended());
}

TEST_F(EventsTest, FailedStartKillStopAndImageEvents) {
  const int64_t start = NewestSeq();
  v1::ContainerSpec bad = Spec({"true"});
  bad.add_setup("exit 7");
  v1::Container failed = Run(bad);
  v1::Container sleeper = Run(Spec({"sleep", "100"}));
  grpc::ClientContext ctx;
  v1::StopRequest stop;
  stop.set_ref(sleeper.id());
  stop.set_timeout_seconds(5);
  v1::StopResponse stopped;
  ASSERT_TRUE(containers_->Stop(&ctx, stop, &stopped).ok());

  std::vector<v1::Event> events = Replay(start);
  EXPECT_THAT(Types(events, failed.id()),
              ElementsAre(v1::EVENT_TYPE_CREATED, v1::EVENT_TYPE_START_FAILED));
  for (const v1::Event& e : events) {
    if (e.type() == v1::EVENT_TYPE_START_FAILED) {
      EXPECT_EQ(e.reason(), "SetupFailed");
    }
    if (e.type() == v1::EVENT_TYPE_KILLED) {
      EXPECT_EQ(e.signal(), SIGTERM);
    }
  }
  EXPECT_THAT(Types(events, sleeper.id()),
              ElementsAre(v1::EVENT_TYPE_CREATED, v1::EVENT_TYPE_STARTED, v1::EVENT_TYPE_KILLED,
                          v1::EVENT_TYPE_EXITED, v1::EVENT_TYPE_STOPPED));
  // The default image was imported on first use, before the first container was created.
  std::vector<v1::Event> all = Replay(0);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().type(), v1::EVENT_TYPE_IMAGE_IMPORTED);
  EXPECT_EQ(all.front().name(), "default");
  Remove(failed.id());
  Remove(sleeper.id());
}

TEST_F(EventsTest, FiltersByContainerAndType) {
  const int64_t start = NewestSeq();
  v1::ContainerSpec a = Spec({"true"});
  a.set_name("alpha");
  v1::Container alpha = Run(a);
  v1::ContainerSpec b = Spec({"true"});
  b.set_name("beta");
  v1::Container beta = Run(b);
  WaitFor(alpha.id());
  WaitFor(beta.id());

  std::vector<v1::Event> by_name = Replay(start, "alpha");
  EXPECT_THAT(Types(by_name, alpha.id()),
              ElementsAre(v1::EVENT_TYPE_CREATED, v1::EVENT_TYPE_STARTED, v1::EVENT_TYPE_EXITED));
  EXPECT_EQ(by_name.size(), 3u);
  std::vector<v1::Event> by_prefix =
      Replay(start, beta.id().substr(0, 10), {v1::EVENT_TYPE_EXITED});
  ASSERT_EQ(by_prefix.size(), 1u);
  EXPECT_EQ(by_prefix[0].container_id(), beta.id());
  std::vector<v1::Event> started = Replay(start, "", {v1::EVENT_TYPE_STARTED});
  EXPECT_EQ(started.size(), 2u);
  EXPECT_EQ(Count(started, v1::EVENT_TYPE_STARTED), 2u);

  CommandResult cli = Cli({"events", "--no-follow", "--container", "beta", "--type", "exited"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_THAT(cli.out, HasSubstr(" exited " + beta.id().substr(0, 12) + " name=beta code=0"));
  EXPECT_THAT(cli.out, ::testing::Not(HasSubstr("alpha")));
  CommandResult bad = Cli({"events", "--type", "died"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("unknown event type"));
  Remove(alpha.id());
  Remove(beta.id());
}

TEST_F(EventsTest, ResumeFromAnySeqHasNoGapOrDuplicate) {
  for (int i = 0; i < 3; ++i) WaitFor(Run(Spec({"true"})).id());
  std::vector<v1::Event> all = Replay(0);
  ASSERT_GE(all.size(), 9u);
  ExpectContiguous(all, 1);
  for (size_t cut = 0; cut < all.size(); ++cut) {
    std::vector<v1::Event> rest = Replay(all[cut].seq());
    ASSERT_EQ(rest.size(), all.size() - cut - 1);
    if (!rest.empty()) {
      EXPECT_EQ(rest.front().seq(), all[cut].seq() + 1);
    }
  }

  v1::EventsRequest beyond;
  beyond.set_since_seq(all.back().seq() + 5);
  grpc::ClientContext ctx;
  auto reader = system_->Events(&ctx, beyond);
  v1::Event event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(status.error_message(), HasSubstr("since_seq"));

  v1::EventsRequest negative;
  negative.set_since_seq(-1);
  grpc::ClientContext nctx;
  auto nreader = system_->Events(&nctx, negative);
  EXPECT_FALSE(nreader->Read(&event));
  EXPECT_EQ(nreader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EventsTest, ExitsWhileTheDaemonIsDownAreRecordedExactlyOnce) {
  // Containers exit at staggered times around a kill -9 of the daemon: some before it, some
  // while it is down, some after it is back.
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const std::string delay = std::to_string(0.3 + 0.4 * i);
    ids.push_back(Run(Spec({"sh", "-c", "sleep " + delay + "; exit " + std::to_string(i)})).id());
  }
  int64_t last_seen = 0;
  {
    v1::EventsRequest request;
    request.set_since_seq(0);
    LiveEvents live(system_.get(), request);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    std::vector<v1::Event> seen = live.WaitUntil([](const auto&) { return true; });
    ASSERT_FALSE(seen.empty());
    last_seen = seen.back().seq();
    KillDaemon();
  }
  // Down until one more container has ended (its monitor writes exit.json without quiltd),
  // so at least one exit happens while nobody records it.
  const auto exit_files = [&] {
    size_t n = 0;
    for (const std::string& id : ids) {
      n += access((state_dir_ + "/containers/" + id + "/exit.json").c_str(), F_OK) == 0;
    }
    return n;
  };
  const size_t ended_at_kill = exit_files();
  ASSERT_LT(ended_at_kill, ids.size()) << "the last container sleeps for 2.3 s";
  for (int i = 0; i < 200 && exit_files() == ended_at_kill; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t restarted_at = absl::ToUnixSeconds(absl::Now());
  StartDaemon();

  v1::EventsRequest resume;
  resume.set_since_seq(last_seen);
  LiveEvents live(system_.get(), resume);
  for (const std::string& id : ids) WaitFor(id);

  std::vector<v1::Event> all = Replay(0);
  ExpectContiguous(all, 1);
  std::map<std::string, int> exits;
  for (const v1::Event& e : all) {
    if (e.type() == v1::EVENT_TYPE_EXITED) ++exits[e.container_id()];
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(exits[ids[i]], 1) << "container " << i;
  }
  // Some exits happened while the daemon was down and were recorded at its restart.
  int exited_while_down = 0;
  for (const v1::Event& e : all) {
    if (e.type() == v1::EVENT_TYPE_EXITED && e.seq() > last_seen &&
        e.time().seconds() <= restarted_at) {
      ++exited_while_down;
    }
  }
  EXPECT_GE(exited_while_down, 1);
  // What the resumed stream delivered is exactly the history after the last seq seen.
  std::vector<v1::Event> expected = Replay(last_seen);
  std::vector<v1::Event> after =
      live.WaitUntil([&](const std::vector<v1::Event>& e) { return e.size() >= expected.size(); });
  ASSERT_EQ(after.size(), expected.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].seq(), expected[i].seq());
  for (const std::string& id : ids) Remove(id);
}

TEST_F(EventsTest, ClientThatDoesNotReadIsCutOffAndResumesWithoutGaps) {
  v1::Container sleeper = Run(Spec({"sleep", "100"}));
  const int64_t start = NewestSeq();
  v1::EventsRequest request;
  request.set_since_seq(start);
  // A client with small flow-control windows, so that what it does not read backs up into
  // the daemon instead of the transport's buffers.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto slow_stub = v1::System::NewStub(
      grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stalled = slow_stub->Events(&ctx, request);

  // Far more events than the subscriber's buffer and the transport's windows hold, while
  // the stalled client reads nothing. SIGWINCH is ignored by the workload.
  constexpr int kThreads = 3;
  constexpr int kKillsPerThread = 3000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  const auto begin = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kKillsPerThread; ++i) {
        grpc::ClientContext kctx;
        v1::KillRequest kill;
        kill.set_ref(sleeper.id());
        kill.set_signal(SIGWINCH);
        v1::KillResponse response;
        if (!containers_->Kill(&kctx, kill, &response).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  EXPECT_EQ(failures.load(), 0);
  std::cout << "[ figures  ] " << kThreads * kKillsPerThread << " events in " << seconds
            << " s while one client stalled" << std::endl;

  std::vector<v1::Event> received;
  v1::Event event;
  while (stalled->Read(&event)) received.push_back(event);
  grpc::Status status = stalled->Finish();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  const std::string hint = "resume with since_seq=";
  const size_t at = status.error_message().find(hint);
  ASSERT_NE(at, std::string::npos) << status.error_message();
  const int64_t resume = std::stoll(status.error_message().substr(at + hint.size()));
  ExpectContiguous(received, start + 1);
  EXPECT_EQ(resume, received.empty() ? start : received.back().seq());
  std::cout << "[ figures  ] the stalled client got " << received.size()
            << " events, then: " << status.error_message() << std::endl;

  std::vector<v1::Event> rest = Replay(resume);
  ExpectContiguous(rest, resume + 1);
  EXPECT_EQ(received.size() + rest.size(), static_cast<size_t>(kThreads * kKillsPerThread));
  Remove(sleeper.id());
}

TEST_F(EventsTest, DaemonStopsPromptlyWithStreamsOpen) {
  v1::Container c = Run(Spec({"true"}));
  WaitFor(c.id());
  Remove(c.id());
  v1::EventsRequest live_only;
  v1::EventsRequest from_start;
  from_start.set_since_seq(0);
  LiveEvents waiting(system_.get(), live_only);
  LiveEvents replayed(system_.get(), from_start);
  std::vector<v1::Event> seen = replayed.WaitUntil(
      [](const std::vector<v1::Event>& e) { return Count(e, v1::EVENT_TYPE_REMOVED) > 0; });
  ASSERT_EQ(Count(seen, v1::EVENT_TYPE_REMOVED), 1u);

  const auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(StopDaemon(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  waiting.WaitUntil([](const std::vector<v1::Event>&) { return false; });
  replayed.WaitUntil([](const std::vector<v1::Event>&) { return false; });
  EXPECT_TRUE(waiting.ended());
  EXPECT_TRUE(replayed.ended());
  StartDaemon();
}

}  // namespace
}  // namespace quilt::testing
