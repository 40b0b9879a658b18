// User namespaces (spec.userns): container root is an unprivileged host user, the rootfs is
// owned by it (id-mapped image layers, upper dir written with mapped ids), host files stay
// out of reach, exec joins the namespace, and "auto" ranges are disjoint, freed on remove
// and kept across a restart of quiltd.
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

// Far from the ids of real users and from other suites' pools.
constexpr uint32_t kPoolStart = 3000000;
constexpr uint32_t kBlock = 65536;
const std::string kPool = absl::StrCat(kPoolStart, ":", 4 * kBlock);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// The first field of a /proc/<pid>/status line ("Uid:\t3000000\t..." -> 3000000), or -1.
int64_t StatusId(pid_t pid, absl::string_view key) {
  for (absl::string_view line :
       absl::StrSplit(ReadFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::StripAsciiWhitespace(line), '\t', absl::SkipEmpty());
    int64_t id = -1;
    if (!fields.empty() && absl::SimpleAtoi(fields[0], &id)) return id;
  }
  return -1;
}

class UsernsTest : public QuiltdTest {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    ASSERT_EQ(StopDaemon(), 0);
    StartDaemon({"--userns-range", kPool});
  }

  grpc::Status Create(v1::ContainerSpec spec, bool start, v1::Container* out) {
    grpc::ClientContext ctx;
    v1::CreateRequest request;
    *request.mutable_spec() = std::move(spec);
    request.set_start(start);
    v1::CreateResponse response;
    grpc::Status status = containers_->Create(&ctx, request, &response);
    *out = response.container();
    return status;
  }

  std::string CreateAuto() {
    v1::ContainerSpec spec = Spec({"true"});
    spec.set_userns("auto");
    v1::Container c;
    grpc::Status status = Create(spec, false, &c);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return c.spec().userns();
  }

  void Remove(const std::string& id) {
    grpc::ClientContext ctx;
    v1::RemoveRequest request;
    request.set_ref(id);
    request.set_force(true);
    v1::RemoveResponse response;
    grpc::Status status = containers_->Remove(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  std::string Upper(const std::string& id) const {
    return absl::StrCat(state_dir_, "/containers/", id, "/upper");
  }
};

TEST_F(UsernsTest, RootInsideIsAMappedUserOutside) {
  v1::ContainerSpec spec =
      Spec({"sh", "-c",
            "id -u; id -g; cat /proc/self/uid_map; mkdir /made; touch /made/file; "
            "echo ready; exec sleep 60"});
  spec.set_userns("auto");
  v1::Container c = Run(spec);
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
  EXPECT_EQ(c.spec().userns(), absl::StrCat(kPoolStart, ":", kBlock));
  ASSERT_TRUE(WaitForLog(c.id(), "ready"));
  const std::string out = Logs(c.id());
  EXPECT_TRUE(absl::StartsWith(out, "0\n0\n")) << out;
  std::vector<std::string> map = absl::StrSplit(out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  ASSERT_GE(map.size(), 5u) << out;
  EXPECT_EQ(map[2], "0") << out;
  EXPECT_EQ(map[3], absl::StrCat(kPoolStart)) << out;
  EXPECT_EQ(map[4], absl::StrCat(kBlock)) << out;

  // The init and the workload (exec'd in place of sh) are the mapped user on the host.
  EXPECT_EQ(StatusId(c.pid(), "Uid:"), kPoolStart);
  const std::string children =
      ReadFile(absl::StrCat("/proc/", c.pid(), "/task/", c.pid(), "/children"));
  int workload = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(children), &workload)) << children;
  EXPECT_EQ(StatusId(workload, "Uid:"), kPoolStart);
  EXPECT_EQ(StatusId(workload, "Gid:"), kPoolStart);

  // Files the container made land in the upper dir owned by the mapped ids.
  struct stat st {};
  ASSERT_EQ(stat((Upper(c.id()) + "/made/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kPoolStart);
  EXPECT_EQ(st.st_gid, kPoolStart);
  ASSERT_EQ(stat(Upper(c.id()).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kPoolStart) << "the container's / belongs to its root";

  // On cgroup v2 the container's cgroup is delegated to its root (v1 is left alone).
  int delegated = 0;
  for (const std::string& cgroup : ContainerCgroups()) {
    struct statfs fs {};
    ASSERT_EQ(statfs(cgroup.c_str(), &fs), 0);
    if (fs.f_type != CGROUP2_SUPER_MAGIC) continue;
    ASSERT_EQ(stat((cgroup + "/cgroup.procs").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kPoolStart) << cgroup;
    ++delegated;
  }
  struct statfs root_fs {};
  ASSERT_EQ(statfs("/sys/fs/cgroup", &root_fs), 0);
  if (root_fs.f_type == CGROUP2_SUPER_MAGIC) {
    EXPECT_EQ(delegated, 1) << "pure v2 host";
  }
}

TEST_F(UsernsTest, HostFilesStayOutOfReach) {
  const std::string host_file = dir_ + "/host-file";
  std::ofstream(host_file) << "host\n";
  ASSERT_EQ(chmod(host_file.c_str(), 0644), 0);
  v1::ContainerSpec spec =
      Spec({"sh", "-c",
            "cat /host-file; echo append >> /host-file && echo wrote; ls -ln /host-file; "
            "touch /etc/new-file && echo etc-ok"});
  spec.set_userns("auto");
  v1::Mount* mount = spec.add_mounts();
  mount->set_source(host_file);
  mount->set_destination("/host-file");
  v1::Container c = Run(spec);
  v1::Container done = WaitFor(c.id());
  const std::string out = Logs(c.id());
  EXPECT_THAT(out, HasSubstr("host\n"));
  EXPECT_THAT(out, HasSubstr("Permission denied"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("wrote")));
  // Host root is not mapped: the file shows as the overflow user (65534).
  EXPECT_THAT(out, HasSubstr(" 65534 ")) << out;
  // ... while the image's root-owned files are container root's.
  EXPECT_THAT(out, HasSubstr("etc-ok"));
  EXPECT_EQ(ReadFile(host_file), "host\n");
}

TEST_F(UsernsTest, SetupAndExecRunInTheNamespace) {
  v1::ContainerSpec spec = Spec({"sleep", "60"});
  spec.set_userns("auto");
  spec.add_setup("touch /setup-ran && id -u > /setup-uid");
  v1::Container c = Run(spec);
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();

  CommandResult id = Cli({"exec", c.id(), "--", "sh", "-c",
                          "id -u; cat /setup-uid; cat /proc/self/uid_map; stat -c %u /setup-ran"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  std::vector<std::string> words =
      absl::StrSplit(id.out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  ASSERT_EQ(words.size(), 6u) << id.out;
  EXPECT_EQ(words[0], "0");
  EXPECT_EQ(words[1], "0");
  EXPECT_EQ(words[3], absl::StrCat(kPoolStart));
  EXPECT_EQ(words[5], "0");
  struct stat st {};
  ASSERT_EQ(stat((Upper(c.id()) + "/setup-ran").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kPoolStart);

  CommandResult user = Cli({"exec", "--user", "1000", c.id(), "--", "id", "-u"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  EXPECT_EQ(user.out, "1000\n");
  CommandResult unmapped = Cli({"exec", "--user", "70000", c.id(), "--", "id", "-u"});
  EXPECT_NE(unmapped.exit_code, 0);
  EXPECT_THAT(unmapped.err, HasSubstr("user: id 70000 is not mapped"));
}

// Unmounts on scope exit, so that a failing test leaves no mount behind.
struct ScopedMount {
  std::string path;
  ~ScopedMount() { umount2(path.c_str(), MNT_DETACH); }
};

// An image store on a file system that cannot id-map (ramfs here; tmpfs before Linux 6.3)
// gets a copy of each layer with shifted owners instead.
TEST_F(UsernsTest, LayersThatCannotBeIdMappedAreCopiedWithShiftedOwners) {
  ASSERT_EQ(StopDaemon(), 0);
  state_dir_ = dir_ + "/ramfs-state";
  ASSERT_EQ(mkdir(state_dir_.c_str(), 0700), 0);
  ASSERT_EQ(mount("ramfs", state_dir_.c_str(), "ramfs", 0, "mode=0700"), 0);
  ScopedMount ramfs{state_dir_};
  StartDaemon({"--userns-range", kPool});
  v1::ContainerSpec spec =
      Spec({"sh", "-c", "touch /etc/new && echo etc-ok; stat -c %u:%g /bin/busybox"});
  spec.set_userns("auto");
  v1::Container c = Run(spec);
  v1::Container done = WaitFor(c.id());
  EXPECT_EQ(done.exit_code(), 0) << done.message();
  EXPECT_EQ(Logs(c.id()), "etc-ok\n0:0\n");
  struct stat st {};
  ASSERT_EQ(
      stat(absl::StrCat(state_dir_, "/containers/", c.id(), "/layer-0/bin/busybox").c_str(), &st),
      0);
  EXPECT_EQ(st.st_uid, kPoolStart);
  Remove(c.id());
  ASSERT_EQ(StopDaemon(), 0);
}

TEST_F(UsernsTest, AutoRangesAreDisjointFreedAndPersisted) {
  const std::string first = CreateAuto();
  const std::string second = CreateAuto();
  EXPECT_EQ(first, absl::StrCat(kPoolStart, ":", kBlock));
  EXPECT_EQ(second, absl::StrCat(kPoolStart + kBlock, ":", kBlock));

  v1::ListRequest list;
  list.set_all(true);
  v1::ListResponse listed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(containers_->List(&ctx, list, &listed).ok());
  std::string first_id;
  for (const v1::Container& c : listed.containers()) {
    if (c.spec().userns() == first) first_id = c.id();
  }
  ASSERT_FALSE(first_id.empty());
  Remove(first_id);
  EXPECT_EQ(CreateAuto(), first) << "a removed container's range is free again";

  // Both ranges still taken after a restart: the next one is the third block.
  ASSERT_EQ(StopDaemon(), 0);
  StartDaemon({"--userns-range", kPool});
  EXPECT_EQ(CreateAuto(), absl::StrCat(kPoolStart + 2 * kBlock, ":", kBlock));
  EXPECT_EQ(CreateAuto(), absl::StrCat(kPoolStart + 3 * kBlock, ":", kBlock));
  v1::ContainerSpec spec = Spec({"true"});
  spec.set_userns("auto");
  v1::Container c;
  EXPECT_EQ(Create(spec, false, &c).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(UsernsTest, BadValuesAreRefusedNamingTheField) {
  v1::Container c;
  v1::ContainerSpec spec = Spec({"true"});
  spec.set_userns("0:65536");
  grpc::Status status = Create(spec, false, &c);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.userns"));

  spec.set_userns("auto");
  spec.set_user("70000");
  status = Create(spec, false, &c);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.user"));

  ASSERT_EQ(StopDaemon(), 0);
  StartDaemon();
  spec.clear_user();
  status = Create(spec, false, &c);
  if (absl::StrContains(ReadFile("/etc/subuid"), "quilt:")) return;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("--userns-range"));
}

}  // namespace
}  // namespace quilt::testing
