// Runs the Python example client (docs/examples/python/quilt_example.py) with Debian's
// /usr/bin/python3 (the one that sees python3-grpcio) against a real quiltd.
#include <string>

#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

class PythonExampleTest : public QuiltdTest {};

TEST_F(PythonExampleTest, CreatesExecsReadsLogsAndRemoves) {
  CommandResult run = RunCommand({"/usr/bin/python3", PYTHON_EXAMPLE_PATH, "--socket", socket_},
                                 {std::string("PYTHONPATH=") + PYTHON_STUBS_DIR});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("CONTAINER_STATE_RUNNING"));
  EXPECT_THAT(run.out, HasSubstr("exec ['echo', 'one']: exit 0, stdout b'one\\n'"));
  EXPECT_THAT(run.out, HasSubstr("stdout b'Linux\\n'"));
  EXPECT_THAT(run.out, HasSubstr("exit 3, stdout b'', stderr b'to stderr\\n'"));
  EXPECT_THAT(run.out, HasSubstr("logs: b'hello from the workload\\n'"));
  EXPECT_THAT(run.out, HasSubstr("removed"));
  // The container is really gone.
  grpc::ClientContext ctx;
  v1::ListRequest request;
  request.set_all(true);
  v1::ListResponse response;
  ASSERT_TRUE(containers_->List(&ctx, request, &response).ok());
  EXPECT_EQ(response.containers_size(), 0);
}

}  // namespace
}  // namespace quilt::testing
