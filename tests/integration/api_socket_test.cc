// The API socket's access control: mode 0660, owner root, group --socket-group (quilt by
// default); peers that are neither root nor in the group are refused at connect by the mode
// and, should they get past it (CAP_DAC_OVERRIDE), by quiltd with PERMISSION_DENIED; every
// mutating request is logged with its peer's pid and uid.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kNobody = 65534;
// A group every Debian system has; stands in for "quilt", which the test does not create.
constexpr char kGroupName[] = "daemon";
constexpr gid_t kGroupId = 1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Drops to uid nobody and `gid` with no supplementary group; with `keep_dac_override` the
// process keeps CAP_DAC_OVERRIDE (also across exec, as an ambient capability), so the
// socket's mode no longer stops it. Runs in a forked child: raw system calls only.
bool BecomeNobody(gid_t gid, bool keep_dac_override) {
  if (keep_dac_override && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return false;
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(kNobody, kNobody, kNobody) != 0) {
    return false;
  }
  if (!keep_dac_override) return true;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  const uint32_t bit = 1u << CAP_DAC_OVERRIDE;
  data[0].effective = data[0].permitted = data[0].inheritable = bit;
  return syscall(SYS_capset, &header, data) == 0 &&
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_OVERRIDE, 0, 0) == 0;
}

class ApiSocketTest : public QuiltdTest {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    // So that only the socket's own mode decides who may connect.
    ASSERT_EQ(chmod(dir_.c_str(), 0711), 0);
  }

  // Restarts the daemon with the test group as the socket's group and info logging.
  void RestartWithGroup() {
    ASSERT_EQ(StopDaemon(), 0);
    StartDaemon({"--socket-group", kGroupName, "--log-level", "info"});
  }

  // The errno of connect() to the socket as uid nobody and `gid`, or 0 when it connected.
  int ConnectAsNobody(gid_t gid) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_.c_str());
    const pid_t pid = fork();
    if (pid == 0) {
      if (!BecomeNobody(gid, false)) _exit(255);
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      _exit(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 ? 0 : errno);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(ApiSocketTest, SocketIsRootAndGroupOnly) {
  struct stat st {};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  if (ReadFile("/etc/group").find("\nquilt:") == std::string::npos) {
    EXPECT_EQ(st.st_gid, 0u) << "no quilt group: root's group";
  }
  RestartWithGroup();
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, kGroupId);
}

TEST_F(ApiSocketTest, OnlyTheGroupCanConnect) {
  EXPECT_EQ(ConnectAsNobody(kNobody), EACCES);
  EXPECT_EQ(ConnectAsNobody(kGroupId), EACCES);
  RestartWithGroup();
  EXPECT_EQ(ConnectAsNobody(kNobody), EACCES);
  EXPECT_EQ(ConnectAsNobody(kGroupId), 0) << "a member of the socket's group connects";
}

TEST_F(ApiSocketTest, PeerPastTheModeIsDenied) {
  const std::string out = dir_ + "/denied.out";
  std::vector<std::string> argv = {QUILT_CLI_PATH, "--socket", socket_, "ps"};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (!BecomeNobody(kNobody, true)) _exit(255);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(WEXITSTATUS(status), 255) << "could not drop to nobody";
  const std::string printed = ReadFile(out);
  EXPECT_THAT(printed, HasSubstr("uid 65534"));
  EXPECT_THAT(printed, HasSubstr("neither root nor in the API group"));
  EXPECT_THAT(ReadFile(dir_ + "/quiltd.log"), HasSubstr("refusing connection from pid="));
}

TEST_F(ApiSocketTest, MutatingRequestsAreLoggedWithThePeer) {
  RestartWithGroup();
  v1::Container c = Run(Spec({"true"}));
  WaitFor(c.id());
  const std::string log = ReadFile(dir_ + "/quiltd.log");
  EXPECT_THAT(log, HasSubstr(absl::StrCat("api: /quilt.v1.Containers/Create from pid=", getpid(),
                                          " uid=0 gid=0")));
  // Reads are not logged.
  EXPECT_THAT(log, Not(HasSubstr("/quilt.v1.Containers/Wait")));
  EXPECT_THAT(log, Not(HasSubstr("/quilt.v1.System/Version")));
}

}  // namespace
}  // namespace quilt::testing
