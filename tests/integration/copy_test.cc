// CopyTo / CopyFrom and `quilt-cli cp`: files and directories in and out of running and
// stopped containers, modes kept, errors, and the symlink attacks a hostile container can
// set up against the daemon (which runs as root on the host).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

std::vector<std::string> Names(const std::string& dir) {
  CommandResult ls = RunCommand({"/bin/ls", "-A", dir});
  std::vector<std::string> names;
  std::stringstream s(ls.out);
  for (std::string line; std::getline(s, line);) names.push_back(line);
  return names;
}

class CopyTest : public QuiltdTest {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    // The "host" the attacks aim at: a file with known content in a directory of its own.
    host_dir_ = dir_ + "/host";
    ASSERT_EQ(::mkdir(host_dir_.c_str(), 0755), 0);
    host_file_ = host_dir_ + "/secret";
    WriteFile(host_file_, "host secret\n", 0644);
  }

  void ExpectHostUntouched() {
    EXPECT_EQ(Slurp(host_file_), "host secret\n");
    EXPECT_THAT(Names(host_dir_), ElementsAre("secret"));
  }

  // The setup commands that plant the attack symlinks in a container.
  v1::ContainerSpec AttackSpec(const std::vector<std::string>& command) {
    v1::ContainerSpec spec = Spec(command);
    spec.add_setup("ln -s " + host_file_ + " /etc/x");
    spec.add_setup("ln -s ../../../../../../../.." + host_file_ + " /etc/y");
    spec.add_setup("ln -s " + host_dir_ + " /d");
    spec.add_setup("mkdir -p /etc/sub && ln -s ../../../../../../.." + host_dir_ + " /etc/sub/up");
    return spec;
  }

  std::string Exec(const std::string& ref, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"exec", ref, "--"};
    args.insert(args.end(), command.begin(), command.end());
    CommandResult result = Cli(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  grpc::Status CopyFrom(const std::string& ref, const std::string& path, std::string* tar) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::CopyFromRequest request;
    request.set_ref(ref);
    request.set_path(path);
    auto reader = containers_->CopyFrom(&ctx, request);
    v1::CopyFromResponse response;
    while (reader->Read(&response)) tar->append(response.data());
    return reader->Finish();
  }

  // Runs the attack copies out of and then into `ref`: nothing may reach the host files.
  void Attack(const std::string& ref) {
    // Out: a symlink is copied as a link; a path through one resolves inside the container.
    for (const char* src : {"/etc/x", "/etc/y", "/d/secret", "/etc/sub/up/secret", "/etc/."}) {
      std::string tar;
      CopyFrom(ref, src, &tar);
      EXPECT_THAT(tar, ::testing::Not(HasSubstr("host secret"))) << src;
    }
    const std::string out = dir_ + "/out";
    ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
    EXPECT_EQ(Cli({"cp", ref + ":/etc/x", out + "/x"}).exit_code, 0);
    EXPECT_TRUE(S_ISLNK(ModeOf(out + "/x")));
    EXPECT_NE(Cli({"cp", ref + ":/d/secret", out + "/s"}).exit_code, 0);
    ExpectHostUntouched();
    // In: the planted symlinks are replaced or resolve inside the container.
    const std::string payload = dir_ + "/payload";
    WriteFile(payload, "evil\n", 0644);
    for (const char* dst : {":/etc/x", ":/etc/y", ":/d/secret", ":/d/", ":/etc/sub/up/"}) {
      Cli({"cp", payload, ref + dst});
      ExpectHostUntouched();
    }
  }

  std::string host_dir_;
  std::string host_file_;
};

TEST_F(CopyTest, FilesAndDirectoriesInAndOutOfRunningContainer) {
  v1::Container c = Run(Spec({"sleep", "1000"}));
  const std::string src = dir_ + "/tree";
  ASSERT_EQ(::mkdir(src.c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0700), 0);
  WriteFile(src + "/run.sh", "#!/bin/sh\necho hi\n", 0751);
  WriteFile(src + "/sub/data", "data\n", 0600);
  ASSERT_EQ(::symlink("run.sh", (src + "/link").c_str()), 0);

  CommandResult in = Cli({"cp", src, c.id() + ":/tmp"});
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(Exec(c.id(), {"/tmp/tree/run.sh"}), "hi\n");
  EXPECT_EQ(
      Exec(c.id(), {"stat", "-c", "%a", "/tmp/tree", "/tmp/tree/run.sh", "/tmp/tree/sub/data"}),
      "750\n751\n600\n");
  EXPECT_EQ(Exec(c.id(), {"readlink", "/tmp/tree/link"}), "run.sh\n");
  // "dir/." copies the contents, into a directory made for them.
  CommandResult contents = Cli({"cp", src + "/.", c.id() + ":/root/new"});
  ASSERT_EQ(contents.exit_code, 0) << contents.err;
  EXPECT_EQ(Exec(c.id(), {"cat", "/root/new/sub/data"}), "data\n");
  // A file copied as a new name.
  ASSERT_EQ(Cli({"cp", src + "/sub/data", c.id() + ":/etc/renamed"}).exit_code, 0);
  EXPECT_EQ(Exec(c.id(), {"cat", "/etc/renamed"}), "data\n");

  const std::string back = dir_ + "/back";
  CommandResult out = Cli({"cp", c.id() + ":/tmp/tree", back});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(Slurp(back + "/run.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ModeOf(back) & 07777, 0750u);
  EXPECT_EQ(ModeOf(back + "/run.sh") & 07777, 0751u);
  EXPECT_EQ(ModeOf(back + "/sub/data") & 07777, 0600u);
  EXPECT_TRUE(S_ISLNK(ModeOf(back + "/link")));
  // Into an existing directory: below it, under the source's name.
  ASSERT_EQ(Cli({"cp", c.id() + ":/etc/renamed", back}).exit_code, 0);
  EXPECT_EQ(Slurp(back + "/renamed"), "data\n");

  // "-": a tar on stdin and stdout.
  CommandResult piped =
      RunCommand({"/bin/sh", "-c",
                  "tar -C " + src + " -cf - sub | " + QUILT_CLI_PATH + " --socket " + socket_ +
                      " cp - " + c.id() + ":/tmp && " + QUILT_CLI_PATH + " --socket " + socket_ +
                      " cp " + c.id() + ":/tmp/sub - | tar -tf -"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(piped.out, HasSubstr("sub/data"));
  Cli({"rm", "-f", c.id()});
}

TEST_F(CopyTest, IntoCreatedAndOutOfExitedContainer) {
  v1::CreateRequest request;
  *request.mutable_spec() = Spec({"cat", "/etc/config"});
  v1::CreateResponse created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(containers_->Create(&ctx, request, &created).ok());
  }
  const std::string id = created.container().id();
  const std::string file = dir_ + "/config";
  WriteFile(file, "configured\n", 0640);
  CommandResult in = Cli({"cp", file, id + ":/etc/config"});
  ASSERT_EQ(in.exit_code, 0) << in.err;
  ASSERT_EQ(Cli({"start", id}).exit_code, 0);
  WaitFor(id);
  EXPECT_EQ(Logs(id), "configured\n");

  const std::string back = dir_ + "/back";
  CommandResult out = Cli({"cp", id + ":/etc/config", back});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(Slurp(back), "configured\n");
  EXPECT_EQ(ModeOf(back) & 07777, 0640u);
  Cli({"rm", id});
}

// A copy into a stopped container holds it: its overlay is mounted (detached) on the same
// upper dir the container's start would mount, so Start must wait for the copy's end.
TEST_F(CopyTest, StartWaitsForACopyIntoTheStoppedContainer) {
  v1::CreateRequest request;
  *request.mutable_spec() = Spec({"cat", "/big"});
  v1::CreateResponse created;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(containers_->Create(&ctx, request, &created).ok());
  }
  const std::string id = created.container().id();
  // A tar of one 1 MiB file, sent in two halves with a pause between.
  const std::string big = dir_ + "/big";
  WriteFile(big, std::string(1 << 20, 'b'), 0644);
  CommandResult tar = RunCommand({"/bin/tar", "-C", dir_, "-cf", dir_ + "/big.tar", "big"});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  std::ifstream in(dir_ + "/big.tar", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  grpc::ClientContext copy_ctx;
  v1::CopyToResponse copied;
  auto writer = containers_->CopyTo(&copy_ctx, &copied);
  v1::CopyToRequest first;
  first.set_ref(id);
  first.set_path("/");
  first.set_data(bytes.substr(0, bytes.size() / 2));
  ASSERT_TRUE(writer->Write(first));
  // The copy holds the container once it has mounted the overlay, which creates "work"
  // inside the container's (until then empty) overlay work dir.
  const std::string work = state_dir_ + "/containers/" + id + "/work/work";
  bool mounted = false;
  for (int i = 0; i < 400 && !mounted; ++i) {
    struct stat st;
    mounted = ::stat(work.c_str(), &st) == 0;
    if (!mounted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(mounted) << work;
  // Another copy meanwhile shares the mount; Start waits for both.
  std::string tar_out;
  grpc::Status concurrent = CopyFrom(id, "/etc/hostname", &tar_out);
  EXPECT_TRUE(concurrent.ok()) << concurrent.error_message();
  EXPECT_FALSE(tar_out.empty());
  EXPECT_NE(Cli({"start", id}).exit_code, 0);

  v1::CopyToRequest rest;
  rest.set_data(bytes.substr(bytes.size() / 2));
  ASSERT_TRUE(writer->Write(rest));
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(copied.path(), "/");
  CommandResult started = Cli({"start", id});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  WaitFor(id);
  EXPECT_EQ(Logs(id).size(), size_t{1} << 20);
  Cli({"rm", id});
}

TEST_F(CopyTest, UnknownContainerAndMissingPathAreNotFound) {
  std::string tar;
  EXPECT_EQ(CopyFrom("nosuchcontainer", "/etc", &tar).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::Container c = Run(Spec({"sleep", "1000"}));
  grpc::Status missing = CopyFrom(c.id(), "/no/such/path", &tar);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
  grpc::Status relative = CopyFrom(c.id(), "etc", &tar);
  EXPECT_EQ(relative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(relative.error_message(), HasSubstr("path"));

  grpc::ClientContext ctx;
  v1::CopyToResponse response;
  auto writer = containers_->CopyTo(&ctx, &response);
  v1::CopyToRequest header;
  header.set_ref("nosuchcontainer");
  header.set_path("/tmp");
  writer->Write(header);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  // Big enough that the server refuses it while the CLI is still sending.
  const std::string file = dir_ + "/f";
  WriteFile(file, std::string(8 << 20, 'x'), 0644);
  for (const char* dst : {":/no/such/dir/f", ":/no/such/dir/"}) {
    CommandResult cli = Cli({"cp", file, c.id() + dst});
    EXPECT_EQ(cli.exit_code, 1);
    EXPECT_THAT(cli.err, HasSubstr("does not exist")) << dst;
  }
  Cli({"rm", "-f", c.id()});
}

TEST_F(CopyTest, SymlinksPlantedInRunningContainerCannotReachTheHost) {
  v1::Container c = Run(AttackSpec({"sleep", "1000"}));
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
  Attack(c.id());
  // The copies landed inside the container instead, replacing its symlinks.
  EXPECT_EQ(Exec(c.id(), {"cat", "/etc/x"}), "evil\n");
  Cli({"rm", "-f", c.id()});
}

TEST_F(CopyTest, SymlinksPlantedInStoppedContainerCannotReachTheHost) {
  v1::Container c = Run(AttackSpec({"true"}));
  WaitFor(c.id());
  Attack(c.id());
  Cli({"rm", c.id()});
}

}  // namespace
}  // namespace quilt::testing
