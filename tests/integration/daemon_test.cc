// The daemon itself: socket, locking, health, shutdown.
#include <grpcpp/generic/generic_stub.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

class DaemonTest : public QuiltdTest {};

TEST_F(DaemonTest, SocketIsGroupOnly) {
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(DaemonTest, SecondDaemonOnTheSameStateDirRefuses) {
  CommandResult second =
      RunCommand({QUILTD_PATH, "--socket", dir_ + "/other.sock", "--state-dir", state_dir_});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.err, HasSubstr("another quiltd"));
  CommandResult same_socket =
      RunCommand({QUILTD_PATH, "--socket", socket_, "--state-dir", dir_ + "/other-state"});
  EXPECT_NE(same_socket.exit_code, 0);
  EXPECT_THAT(same_socket.err, HasSubstr("another quiltd"));
  // The first daemon still serves.
  EXPECT_EQ(Cli({"version"}).exit_code, 0);
}

TEST_F(DaemonTest, StaleSocketOfACrashedDaemonIsReplaced) {
  KillDaemon();
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0) << "a killed daemon leaves its socket";
  StartDaemon();
  EXPECT_EQ(Cli({"version"}).exit_code, 0);
}

TEST_F(DaemonTest, HealthAndVersion) {
  grpc::ClientContext ctx;
  v1::VersionRequest request;
  v1::VersionResponse response;
  ASSERT_TRUE(system_->Version(&ctx, request, &response).ok());
  EXPECT_FALSE(response.version().empty());
  EXPECT_THAT(response.cgroup_mode(), ::testing::AnyOf("v1", "v2", "hybrid"));

  // grpc.health.v1.Health/Check with an empty service name, as a raw call.
  grpc::ClientContext hctx;
  // An empty HealthCheckRequest (service "" = the whole server) serializes to no bytes.
  grpc::Slice no_bytes("");
  grpc::ByteBuffer empty_request(&no_bytes, 1), reply;
  grpc::GenericStub generic(channel_);
  grpc::Status status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  generic.UnaryCall(&hctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &empty_request,
                    &reply, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  EXPECT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace quilt::testing
