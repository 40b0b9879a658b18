// Start-up recovery: what a crash can leave in the state dir is repaired before quiltd
// serves. Each case is staged by hand while the daemon is down, as the crash would leave it.
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gmock/gmock.h"
#include "quiltd/store/state_store.h"
#include "tests/integration/process_probe.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

class RecoveryTest : public QuiltdTest {
 protected:
  v1::Container CreateOnly(const std::string& name) {
    grpc::ClientContext ctx;
    v1::CreateRequest request;
    *request.mutable_spec() = Spec({"true"});
    request.mutable_spec()->set_name(name);
    v1::CreateResponse response;
    EXPECT_TRUE(containers_->Create(&ctx, request, &response).ok());
    return response.container();
  }

  grpc::Status Get(const std::string& ref, v1::Container* out) {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_ref(ref);
    v1::GetResponse response;
    grpc::Status status = containers_->Get(&ctx, request, &response);
    *out = response.container();
    return status;
  }

  std::string BundleDir(const std::string& id) const {
    return absl::StrCat(state_dir_, "/containers/", id);
  }
};

TEST_F(RecoveryTest, RepairsWhatACrashLeftBehind) {
  // A running container whose row is lost: the worst case of a bundle without a row (a
  // crash inside Create leaves one with no processes yet). Its processes, cgroup and bundle
  // are orphans.
  const v1::Container orphan = Run(Spec({"sleep", "1000"}));
  ASSERT_GT(orphan.pid(), 0);
  // A Remove interrupted after it deleted the bundle: the row is left.
  const v1::Container removed = CreateOnly("half-removed");
  // A Start interrupted after it wrote config.json, before it spawned a monitor (one it
  // spawned would be adopted: the churn of in-flight starts in reliability_test shows it).
  const v1::Container interrupted = CreateOnly("half-started");
  // A container created and never started: nothing to repair.
  const v1::Container created = CreateOnly("just-created");
  KillDaemon();

  {
    absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(state_dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Delete(orphan.id()).ok());
  }
  ASSERT_TRUE(RemoveTree(BundleDir(removed.id())).ok());
  ASSERT_TRUE(WriteFileAtomically(BundleDir(interrupted.id()) + "/config.json", "{}").ok());
  // An import that a crash cut short.
  const std::string partial_image = state_dir_ + "/images/.tmp-crashed";
  ASSERT_TRUE(MakeDirs(partial_image + "/rootfs/bin", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(partial_image + "/rootfs/bin/half", "x").ok());
  ASSERT_FALSE(ContainerCgroups().empty());

  StartDaemon();
  v1::Container now;
  EXPECT_EQ(Get(orphan.id(), &now).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(access(BundleDir(orphan.id()).c_str(), F_OK), 0) << "orphan bundle left";
  EXPECT_THAT(ContainerCgroups(), ::testing::IsEmpty()) << "orphan cgroup left";
  for (int i = 0; i < 500 && ProcessExists(orphan.pid()); ++i) usleep(20000);
  EXPECT_FALSE(ProcessExists(orphan.pid())) << "the orphan's init still runs";
  EXPECT_EQ(Get(removed.id(), &now).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Get(interrupted.id(), &now).ok());
  EXPECT_EQ(now.state(), v1::CONTAINER_STATE_CREATED);
  EXPECT_NE(access((BundleDir(interrupted.id()) + "/config.json").c_str(), F_OK), 0);
  grpc::ClientContext ctx;
  v1::StartRequest start;
  start.set_ref(interrupted.id());
  v1::StartResponse started;
  ASSERT_TRUE(containers_->Start(&ctx, start, &started).ok());
  EXPECT_EQ(WaitFor(interrupted.id()).exit_code(), 0);
  ASSERT_TRUE(Get(created.id(), &now).ok());
  EXPECT_EQ(now.state(), v1::CONTAINER_STATE_CREATED);
  EXPECT_NE(access(partial_image.c_str(), F_OK), 0) << "partial import left";
}

}  // namespace
}  // namespace quilt::testing
