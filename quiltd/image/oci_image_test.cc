// Importing OCI layouts, oci-archives and docker save archives into the image store.
#include <fcntl.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/image/image_store.h"
#include "quiltd/image/test_archive.h"
#include "quiltd/image/test_image_layout.h"

namespace quilt {
namespace {

using ::quilt::testing::Compression;
using ::quilt::testing::ListNames;
using ::quilt::testing::ScratchDir;
using ::quilt::testing::TarDirectory;
using ::quilt::testing::TestEntry;
using ::quilt::testing::TestImage;
using ::quilt::testing::WriteDockerSave;
using ::quilt::testing::WriteFile;
using ::quilt::testing::WriteOciLayout;
using ::quilt::testing::WrittenImage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TestImage TwoLayerImage() {
  TestImage image;
  image.layers = {{TestEntry{.path = "etc/motd", .data = "base\n"},
                   TestEntry{.path = "bin/tool", .data = "#!/bin/sh\n", .mode = 0755}},
                  {TestEntry{.path = "etc/motd", .data = "top\n"}}};
  image.config = {.entrypoint = {"/bin/tool"},
                  .cmd = {"--flag"},
                  .env = {"PATH=/bin", "A=1"},
                  .working_dir = "/srv",
                  .user = "1000:1000"};
  return image;
}

class OciImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ImageStore::Open(scratch_.Sub("state"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  std::string Layers() const { return scratch_.Sub("state/images/layers"); }

  ScratchDir scratch_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(OciImportTest, LayoutDirectoryGivesLayersTopmostFirstAndTheConfig) {
  const std::string layout = scratch_.Sub("layout");
  auto written = WriteOciLayout(layout, {TwoLayerImage()});
  ASSERT_TRUE(written.ok()) << written.status();
  const WrittenImage& image = (*written)[0];
  auto imported = store_->Import(layout, "app");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE(imported->unpacked);
  EXPECT_EQ(imported->image.digest, "sha256:" + image.id_hex);
  EXPECT_THAT(imported->image.layers, ElementsAre(image.layer_hexes[0], image.layer_hexes[1]));
  EXPECT_EQ(imported->image.size_bytes, 5 + 10 + 4);
  EXPECT_THAT(imported->image.config.entrypoint, ElementsAre("/bin/tool"));
  EXPECT_THAT(imported->image.config.cmd, ElementsAre("--flag"));
  EXPECT_THAT(imported->image.config.env, ElementsAre("PATH=/bin", "A=1"));
  EXPECT_EQ(imported->image.config.working_dir, "/srv");
  EXPECT_EQ(imported->image.config.user, "1000:1000");

  auto lower = store_->LowerDirs(imported->image.digest);
  ASSERT_TRUE(lower.ok()) << lower.status();
  EXPECT_THAT(*lower, ElementsAre(Layers() + "/" + image.layer_hexes[1] + "/diff",
                                  Layers() + "/" + image.layer_hexes[0] + "/diff"));
  EXPECT_EQ(*testing::ReadFile((*lower)[0] + "/etc/motd"), "top\n");
  EXPECT_EQ(*testing::ReadFile((*lower)[1] + "/etc/motd"), "base\n");

  // The record survives a restart of the store.
  auto reopened = ImageStore::Open(scratch_.Sub("state"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto found = (*reopened)->Resolve("app");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->layers, imported->image.layers);
  EXPECT_EQ(found->config.cmd, imported->image.config.cmd);
}

TEST_F(OciImportTest, OciArchiveAndDockerSaveArchiveImport) {
  const std::string layout = scratch_.Sub("layout");
  auto oci = WriteOciLayout(layout, {TwoLayerImage()});
  ASSERT_TRUE(oci.ok()) << oci.status();
  ASSERT_TRUE(TarDirectory(layout, scratch_.Sub("oci.tar")).ok());
  auto from_oci = store_->Import(scratch_.Sub("oci.tar"), "");
  ASSERT_TRUE(from_oci.ok()) << from_oci.status();
  EXPECT_EQ(from_oci->image.digest, "sha256:" + (*oci)[0].id_hex);

  const std::string saved = scratch_.Sub("saved");
  ASSERT_EQ(::mkdir(saved.c_str(), 0755), 0);
  auto docker = WriteDockerSave(saved, TwoLayerImage());
  ASSERT_TRUE(docker.ok()) << docker.status();
  ASSERT_TRUE(TarDirectory(saved, scratch_.Sub("docker.tar")).ok());
  auto from_docker = store_->Import(scratch_.Sub("docker.tar"), "d");
  ASSERT_TRUE(from_docker.ok()) << from_docker.status();
  EXPECT_EQ(from_docker->image.digest, "sha256:" + docker->id_hex);
  EXPECT_EQ(from_docker->image.layers, docker->layer_hexes);
  EXPECT_THAT(from_docker->image.config.entrypoint, ElementsAre("/bin/tool"));
  // No temp directory of either import is left.
  EXPECT_THAT(ListNames(scratch_.Sub("state/images")),
              UnorderedElementsAre("layers", (*oci)[0].id_hex, docker->id_hex));

  // The same unchanged archive again: known, not read.
  int reports = 0;
  ProgressMeter meter([&reports](const ProgressReading&, bool) { ++reports; });
  auto again = store_->Import(scratch_.Sub("docker.tar"), "d2", "", &meter);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->unpacked);
  EXPECT_EQ(again->image.digest, from_docker->image.digest);
  EXPECT_THAT(again->image.names, ElementsAre("d", "d2"));
  EXPECT_EQ(reports, 0);
}

// `docker save | gzip` and a zstd oci-archive: told apart from a rootfs by what they hold.
TEST_F(OciImportTest, CompressedArchivesAreImages) {
  const std::string saved = scratch_.Sub("saved");
  ASSERT_EQ(::mkdir(saved.c_str(), 0755), 0);
  auto docker = WriteDockerSave(saved, TwoLayerImage());
  ASSERT_TRUE(docker.ok()) << docker.status();
  ASSERT_TRUE(TarDirectory(saved, scratch_.Sub("docker.tar.gz"), Compression::kGzip).ok());
  auto from_docker = store_->Import(scratch_.Sub("docker.tar.gz"), "d");
  ASSERT_TRUE(from_docker.ok()) << from_docker.status();
  EXPECT_EQ(from_docker->image.digest, "sha256:" + docker->id_hex);
  EXPECT_EQ(from_docker->image.layers, docker->layer_hexes);

  const std::string layout = scratch_.Sub("layout");
  auto oci = WriteOciLayout(layout, {TwoLayerImage()});
  ASSERT_TRUE(oci.ok()) << oci.status();
  ASSERT_TRUE(TarDirectory(layout, scratch_.Sub("oci.tar.zst"), Compression::kZstd).ok());
  auto from_oci = store_->Import(scratch_.Sub("oci.tar.zst"), "o");
  ASSERT_TRUE(from_oci.ok()) << from_oci.status();
  EXPECT_EQ(from_oci->image.digest, "sha256:" + (*oci)[0].id_hex);
  EXPECT_THAT(ListNames(scratch_.Sub("state/images")),
              UnorderedElementsAre("layers", (*oci)[0].id_hex, docker->id_hex));
}

// A tag names an image of an archive: a rootfs tarball has none, and is not imported.
TEST_F(OciImportTest, TagOnARootfsTarballIsRefused) {
  const std::string tarball = scratch_.Sub("rootfs.tar");
  ASSERT_TRUE(testing::WriteTestArchive(tarball, {TestEntry{.path = "f", .data = "x"}}).ok());
  auto imported = store_->Import(tarball, "", "v1");
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("a tag picks an image"));
  EXPECT_THAT(ListNames(scratch_.Sub("state/images")), UnorderedElementsAre("layers"));
}

TEST_F(OciImportTest, SharedLayersAreStoredOnceAndRemovedWithTheirLastImage) {
  TestImage a = TwoLayerImage();
  TestImage b = TwoLayerImage();
  b.layers[1] = {TestEntry{.path = "etc/motd", .data = "other top\n"}};
  a.tag = "a";
  b.tag = "b";
  const std::string layout = scratch_.Sub("layout");
  auto written = WriteOciLayout(layout, {a, b});
  ASSERT_TRUE(written.ok()) << written.status();
  auto first = store_->Import(layout, "", "a");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = store_->Import(layout, "", "b");
  ASSERT_TRUE(second.ok()) << second.status();
  const std::string base = (*written)[0].layer_hexes[0];
  ASSERT_EQ(base, (*written)[1].layer_hexes[0]);
  EXPECT_THAT(ListNames(Layers()), UnorderedElementsAre(base, (*written)[0].layer_hexes[1],
                                                        (*written)[1].layer_hexes[1]));
  // Importing again unpacks nothing.
  auto again = store_->Import(layout, "", "a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->unpacked);

  ASSERT_TRUE(store_->Remove(first->image.digest).ok());
  EXPECT_THAT(ListNames(Layers()), UnorderedElementsAre(base, (*written)[1].layer_hexes[1]));
  ASSERT_TRUE(store_->Remove(second->image.digest).ok());
  EXPECT_THAT(ListNames(Layers()), IsEmpty());
}

TEST_F(OciImportTest, TagChoosesAmongSeveralImages) {
  TestImage a = TwoLayerImage();
  TestImage b = TwoLayerImage();
  b.config.cmd = {"--other"};
  a.tag = "v1";
  b.tag = "v2";
  const std::string layout = scratch_.Sub("layout");
  ASSERT_TRUE(WriteOciLayout(layout, {a, b}).ok());
  auto ambiguous = store_->Import(layout, "");
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ambiguous.status().message()), HasSubstr("holds 2 images"));
  auto missing = store_->Import(layout, "", "v3");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  auto v2 = store_->Import(layout, "", "v2");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_THAT(v2->image.config.cmd, ElementsAre("--other"));
}

TEST_F(OciImportTest, CorruptLayerIsRefusedAndLeavesNothing) {
  const std::string layout = scratch_.Sub("layout");
  auto written = WriteOciLayout(layout, {TwoLayerImage()});
  ASSERT_TRUE(written.ok()) << written.status();
  // Replace the top layer's bytes with another valid layer: the digest no longer matches.
  const std::string blob = layout + "/blobs/sha256/" + (*written)[0].layer_hexes[1];
  ASSERT_TRUE(testing::WriteTestArchive(blob, {TestEntry{.path = "evil", .data = "x"}},
                                        testing::Compression::kGzip)
                  .ok());
  auto imported = store_->Import(layout, "bad");
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(imported.status().message()),
              HasSubstr("expected sha256:" + (*written)[0].layer_hexes[1]));
  EXPECT_THAT(store_->List(), IsEmpty());
  // The intact lower layer was unpacked first; no image lists it, so it went too.
  EXPECT_THAT(ListNames(Layers()), IsEmpty());
  EXPECT_THAT(ListNames(scratch_.Sub("state/images")), ElementsAre("layers"));
}

TEST_F(OciImportTest, BlobLinkLeavingTheLayoutIsRefused) {
  const std::string layout = scratch_.Sub("layout");
  auto written = WriteOciLayout(layout, {TwoLayerImage()});
  ASSERT_TRUE(written.ok()) << written.status();
  const std::string secret = scratch_.Sub("secret.tar");
  ASSERT_TRUE(testing::WriteTestArchive(secret, {TestEntry{.path = "s", .data = "s"}}).ok());
  const std::string blob = layout + "/blobs/sha256/" + (*written)[0].layer_hexes[0];
  ASSERT_EQ(::unlink(blob.c_str()), 0);
  ASSERT_EQ(::symlink(secret.c_str(), blob.c_str()), 0);
  auto imported = store_->Import(layout, "");
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(imported.status().message()), HasSubstr("leaves the image directory"));
}

TEST_F(OciImportTest, MalformedMetadataIsInvalidArgument) {
  const std::string layout = scratch_.Sub("layout");
  ASSERT_TRUE(WriteOciLayout(layout, {TwoLayerImage()}).ok());
  for (const std::string& index :
       {std::string("not json"), std::string(R"({"manifests": 3})"),
        std::string(R"({"manifests": [{"digest": "md5:abc"}]})"),
        std::string(R"({"manifests": [{"digest": "sha256:../../etc/passwd"}]})")}) {
    ASSERT_TRUE(WriteFile(layout + "/index.json", index).ok());
    auto imported = store_->Import(layout, "");
    EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument)
        << index << ": " << imported.status();
  }
  EXPECT_THAT(store_->List(), IsEmpty());
}

TEST_F(OciImportTest, DockerSaveDiffIdMismatchIsRefused) {
  const std::string saved = scratch_.Sub("saved");
  ASSERT_EQ(::mkdir(saved.c_str(), 0755), 0);
  ASSERT_TRUE(WriteDockerSave(saved, TwoLayerImage()).ok());
  ASSERT_TRUE(testing::WriteTestArchive(saved + "/layer0/layer.tar",
                                        {TestEntry{.path = "swapped", .data = "x"}})
                  .ok());
  auto imported = store_->Import(saved, "");
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument) << imported.status();
  EXPECT_THAT(store_->List(), IsEmpty());
}

}  // namespace
}  // namespace quilt
