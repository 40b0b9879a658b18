// Images that Debian's umoci, skopeo and buildah really produce (an OCI layout, an
// oci-archive and a docker-archive of the same two-layer image; buildah's own archives),
// imported and run by a real quiltd.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

class ImageTest : public QuiltdTest {
 protected:
  // Runs a shell command line for the test's own setup; fails the test when it fails.
  void Shell(const std::string& script) {
    CommandResult r = RunCommand({"/bin/sh", "-ec", script});
    ASSERT_EQ(r.exit_code, 0) << script << "\n" << r.out << r.err;
  }

  // An OCI layout at <dir>/oci (tag "v1"): the default rootfs, then a layer deleting /bin/ls
  // and /etc/passwd's neighbours and adding /etc/only; config with every default set.
  void BuildImages() {
    const std::string oci = dir_ + "/oci";
    const std::string bundle = dir_ + "/bundle";
    Shell(absl::StrCat(
        "umoci init --layout ", oci, " && umoci new --image ", oci, ":v1",
        " && umoci unpack --image ", oci, ":v1 ", bundle, " && tar -C ", bundle, "/rootfs -xf ",
        QUILT_DEFAULT_ROOTFS, " && umoci repack --image ", oci, ":v1 ", bundle, " && rm -rf ",
        bundle, " && umoci unpack --image ", oci, ":v1 ", bundle, " && rm ", bundle,
        "/rootfs/bin/ls && rm -rf ", bundle, "/rootfs/usr && echo only > ", bundle,
        "/rootfs/etc/only && umoci repack --image ", oci, ":v1 ", bundle,
        " && umoci config --image ", oci, ":v1 --config.entrypoint /bin/sh --config.cmd=-c",
        " --config.cmd='echo from-cmd' --config.env FOO=bar --config.workingdir /tmp",
        " --config.user 1000 && umoci gc --layout ", oci));
    Shell(absl::StrCat("skopeo copy --quiet oci:", oci, ":v1 oci-archive:", dir_,
                       "/oci-archive.tar && skopeo copy --quiet oci:", oci,
                       ":v1 docker-archive:", dir_, "/docker.tar:quilt/test:v1"));
  }

  std::string Out(const std::vector<std::string>& args) {
    CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << r.out << r.err;
    return r.out;
  }

  int LayerCount() const {
    int n = 0;
    for (const std::string& name : ListDir(state_dir_ + "/images/layers")) n += name[0] != '.';
    return n;
  }
  static std::vector<std::string> ListDir(const std::string& dir);
};

std::vector<std::string> ImageTest::ListDir(const std::string& dir) {
  CommandResult r = RunCommand({"/bin/ls", "-A", dir});
  return absl::StrSplit(absl::StripTrailingAsciiWhitespace(r.out), '\n', absl::SkipEmpty());
}

TEST_F(ImageTest, UmociLayoutRunsWithItsConfigAndWhiteouts) {
  ASSERT_NO_FATAL_FAILURE(BuildImages());
  const std::string digest = std::string(
      absl::StripTrailingAsciiWhitespace(Out({"image", "import", "--name", "app", dir_ + "/oci"})));
  EXPECT_THAT(digest, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(LayerCount(), 2);

  // Entrypoint + Cmd, as the image says.
  EXPECT_EQ(Out({"run", "--rm", "--image", "app"}), "from-cmd\n");
  // A command replaces Cmd and keeps the entrypoint; Env, WorkingDir and User apply.
  EXPECT_EQ(Out({"run", "--rm", "--image", "app", "--", "-c",
                 "echo $FOO; pwd; id -u; test -e /bin/ls || echo no-ls; cat /etc/only; "
                 "test -e /usr || echo no-usr"}),
            "bar\n/tmp\n1000\nno-ls\nonly\nno-usr\n");
  // Flags override each default; --entrypoint drops Cmd.
  EXPECT_EQ(Out({"run", "--rm", "--image", "app", "-e", "FOO=baz", "-w", "/", "-u", "0",
                 "--entrypoint", "/bin/sh", "--", "-c", "echo $FOO; pwd; id -u"}),
            "baz\n/\n0\n");
  EXPECT_EQ(Out({"run", "--rm", "--image", "app", "--entrypoint", "/bin/cat", "--", "/etc/only"}),
            "only\n");
  // The spec as created holds the whole argv.
  const std::string id =
      std::string(absl::StripTrailingAsciiWhitespace(Out({"create", "--image", "app"})));
  EXPECT_THAT(Out({"status", "--json", id}), HasSubstr("\"echo from-cmd\""));

  // In use: rm refuses; prune keeps it (named and used).
  CommandResult rm = Cli({"image", "rm", "app"});
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_THAT(rm.err, HasSubstr("used by container"));
  Out({"rm", id});
  Out({"image", "rm", "app"});
  EXPECT_EQ(LayerCount(), 0);
}

TEST_F(ImageTest, ArchivesFromSkopeoImportAndShareLayers) {
  ASSERT_NO_FATAL_FAILURE(BuildImages());
  Out({"image", "import", "--name", "layout", dir_ + "/oci"});
  EXPECT_EQ(LayerCount(), 2);
  // The same image as an oci-archive: nothing new is unpacked.
  CommandResult again = Cli({"--json", "image", "import", dir_ + "/oci-archive.tar"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, ::testing::Not(HasSubstr("\"unpacked\": true")));
  EXPECT_EQ(LayerCount(), 2);
  // docker-archive layers are uncompressed tars: other blobs, other layer digests.
  Out({"image", "import", "--name", "docker", "--tag", "v1", dir_ + "/docker.tar"});
  EXPECT_EQ(LayerCount(), 4);
  EXPECT_EQ(Out({"run", "--rm", "--image", "docker", "--", "-c",
                 "echo $FOO; cat /etc/only; test -e /bin/ls || echo no-ls"}),
            "bar\nonly\nno-ls\n");

  CommandResult wrong_tag = Cli({"image", "import", "--tag", "v9", dir_ + "/docker.tar"});
  EXPECT_NE(wrong_tag.exit_code, 0);
  EXPECT_THAT(wrong_tag.err, HasSubstr("v9"));

  // prune removes only unnamed unused images; --all the named ones too.
  Out({"image", "rm", "layout"});
  Out({"image", "import", dir_ + "/oci"});
  EXPECT_THAT(Out({"image", "prune"}), HasSubstr("sha256:"));
  EXPECT_EQ(LayerCount(), 2);
  EXPECT_THAT(Out({"image", "prune", "--all"}), HasSubstr("sha256:"));
  EXPECT_EQ(LayerCount(), 0);
}

// An image built by buildah (from scratch, vfs storage under the test's dir), pushed as an
// oci-archive and as a docker-archive that is then gzipped, as `docker save | gzip` makes.
TEST_F(ImageTest, BuildahImagesAndAGzippedDockerArchiveRun) {
  const std::string buildah = absl::StrCat("buildah --root ", dir_, "/bh-root --runroot ", dir_,
                                           "/bh-run --storage-driver vfs");
  ASSERT_NO_FATAL_FAILURE(Shell(absl::StrCat(
      "ctr=$(", buildah, " from scratch) && ", buildah, " add $ctr ", QUILT_DEFAULT_ROOTFS,
      " / && echo built-by-buildah > ", dir_, "/motd && ", buildah, " copy $ctr ", dir_,
      "/motd /etc/motd && ", buildah, " config --entrypoint '[\"/bin/sh\",\"-c\"]'",
      " --cmd '[\"cat /etc/motd; echo $FOO; pwd\"]' --env FOO=bar --workingdir /etc $ctr && ",
      buildah, " commit -q $ctr quilt-test:v1 >/dev/null && ", buildah,
      " push -q quilt-test:v1 oci-archive:", dir_, "/buildah-oci.tar && ", buildah,
      " push -q quilt-test:v1 docker-archive:", dir_, "/buildah-docker.tar:quilt/test:v1 && ",
      "gzip ", dir_, "/buildah-docker.tar")));

  Out({"image", "import", "--name", "oci", dir_ + "/buildah-oci.tar"});
  EXPECT_EQ(Out({"run", "--rm", "--image", "oci"}), "built-by-buildah\nbar\n/etc\n");
  Out({"image", "import", "--name", "docker", dir_ + "/buildah-docker.tar.gz"});
  EXPECT_EQ(Out({"run", "--rm", "--image", "docker"}), "built-by-buildah\nbar\n/etc\n");
  EXPECT_EQ(Out({"run", "--rm", "--image", "docker", "--", "echo $FOO-again"}), "bar-again\n");
}

TEST_F(ImageTest, ImageWithoutCommandNeedsOne) {
  const std::string oci = dir_ + "/bare";
  const std::string bundle = dir_ + "/bundle";
  ASSERT_NO_FATAL_FAILURE(Shell(absl::StrCat(
      "umoci init --layout ", oci, " && umoci new --image ", oci, ":v1 && umoci unpack --image ",
      oci, ":v1 ", bundle, " && tar -C ", bundle, "/rootfs -xf ", QUILT_DEFAULT_ROOTFS,
      " && umoci repack --image ", oci, ":v1 ", bundle)));
  Out({"image", "import", "--name", "bare", oci});
  CommandResult r = Cli({"run", "--rm", "--image", "bare"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("spec.command"));
  EXPECT_EQ(Out({"run", "--rm", "--image", "bare", "--", "echo", "ok"}), "ok\n");
}

}  // namespace
}  // namespace quilt::testing
