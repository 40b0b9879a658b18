// Hostile image archives, imported through a real quiltd: each is refused with a clear
// error and the right code, or contained (imported, with the danger defused), and either
// way the store holds no partial image and nothing outside the store changed.
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"
#include "tests/integration/tar_builder.h"
#include "tests/integration/tree_snapshot.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kGiB = int64_t{1} << 30;
// The ustar size field's maximum (11 octal digits).
constexpr int64_t kUstarMaxSize = (int64_t{1} << 33) - 1;

// Where the archive aims: `abs` is the decoy directory's absolute path, `up` climbs from
// the rootfs being unpacked to the host's root (more ".." than the store is deep).
struct Aim {
  std::string abs;
  std::string up;
};

struct HostileCase {
  std::string name;
  std::function<absl::Status(const std::string& path, const Aim& aim)> write;
  // OK: contained (the import succeeds); otherwise refused with this code and message.
  absl::StatusCode code;
  std::string message;
  // Checks on the unpacked rootfs of a contained archive.
  std::function<void(const std::string& rootfs)> check = nullptr;
  std::vector<std::string> daemon_args = {};
};

absl::Status WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  return out ? absl::OkStatus() : absl::InternalError("write " + path);
}

// pax records: "<len> <key>=<value>\n" each, where <len> counts the whole record.
std::string PaxRecords(const std::vector<std::string>& records) {
  std::string body;
  for (const std::string& r : records) {
    size_t len = r.size() + 3;
    while (absl::StrCat(len).size() + r.size() + 2 != len) ++len;
    absl::StrAppend(&body, len, " ", r, "\n");
  }
  return body;
}

// A pax extended header ('x') holding `records` ("key=value"), for the entry that follows.
std::string PaxHeader(const std::vector<std::string>& records) {
  const std::string body = PaxRecords(records);
  std::string block = UstarHeader("PaxHeader/x", static_cast<int64_t>(body.size()), 'x') + body;
  block.resize((block.size() + 511) / 512 * 512, '\0');
  return block;
}

std::string EndOfArchive() { return std::string(1024, '\0'); }

std::vector<std::string> ListDirNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& [path, desc] : SnapshotTree(dir)) {
    if (path.find('/', 1) == std::string::npos) names.push_back(path.substr(1));
  }
  return names;
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

std::string ReadAllOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status Simple(const std::string& path, TarFilter filter,
                    const std::function<void(TarBuilder&)>& fill) {
  TarBuilder tar(path, filter);
  fill(tar);
  return tar.Close();
}

std::vector<HostileCase> Cases() {
  const auto invalid = absl::StatusCode::kInvalidArgument;
  const auto exhausted = absl::StatusCode::kResourceExhausted;
  const auto ok = absl::StatusCode::kOk;
  const std::vector<std::string> small_limit = {"--image-max-bytes", absl::StrCat(kGiB)};
  auto bomb = [](TarFilter filter) {
    return [filter](const std::string& path, const Aim&) {
      // 8 GiB of zeros in 1024 members of 8 MiB each.
      return WriteBomb(path, UstarHeader("zeros", kUstarMaxSize), filter, 1024, 8 << 20);
    };
  };
  return {
      {"DotDotPath",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.File("ok", "x").File(aim.up + aim.abs + "/pwned", "pwned");
         });
       },
       invalid, "path has a \"..\" component"},
      {"AbsolutePath",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.File(aim.abs + "/pwned", "pwned"); });
       },
       invalid, "absolute path"},
      {"FileThroughSymlinkToDir",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("link", aim.abs).File("link/pwned", "pwned");
         });
       },
       invalid, "link/pwned"},
      {"DirThroughRelativeSymlink",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("up", aim.up + aim.abs).Dir("up/sub2").File("up/sub2/pwned", "pwned");
         });
       },
       invalid, "up/sub2"},
      {"SymlinkChainThenFile",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("a", "b").Symlink("b", aim.abs).File("a/pwned", "pwned");
         });
       },
       invalid, "a/pwned"},
      {"FileReplacesSymlinkToHostFile",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("passwd", aim.abs + "/target").File("passwd", "pwned");
         });
       },
       ok, "",
       [](const std::string& rootfs) {
         EXPECT_TRUE(S_ISREG(Lstat(rootfs + "/passwd").st_mode));
         EXPECT_EQ(ReadAllOf(rootfs + "/passwd"), "pwned");
       }},
      {"HardlinkToAbsolutePath",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.Hardlink("h", aim.abs + "/target"); });
       },
       invalid, "hard link target is absolute"},
      {"HardlinkOutsideWithDotDot",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.Hardlink("h", aim.up + aim.abs + "/target"); });
       },
       invalid, "hard link target has a \"..\" component"},
      {"HardlinkThroughSymlinkWithData",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("s", aim.abs).Hardlink("h", "s/target", "pwned");
         });
       },
       invalid, "\"h\""},
      {"HardlinkToSymlinkWithData",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.Symlink("s", aim.abs + "/target").Hardlink("h", "s", "pwned");
         });
       },
       ok, "",
       [](const std::string& rootfs) {
         // A link to the symlink itself (link(2) does not follow it): inside a container it
         // resolves in the container. The data went nowhere (the decoy is checked below).
         const struct stat h = Lstat(rootfs + "/h");
         const struct stat s = Lstat(rootfs + "/s");
         EXPECT_TRUE(S_ISLNK(h.st_mode));
         EXPECT_EQ(h.st_ino, s.st_ino);
       }},
      {"CharDevice",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.Dir("dev").Node("dev/mem", AE_IFCHR); });
       },
       invalid, "entry \"dev/mem\": device node"},
      {"BlockDevice",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) { t.Node("sda", AE_IFBLK, 0666); });
       },
       invalid, "entry \"sda\": device node"},
      {"FifoIsKept",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) { t.Node("fifo", AE_IFIFO); });
       },
       ok, "",
       [](const std::string& rootfs) { EXPECT_TRUE(S_ISFIFO(Lstat(rootfs + "/fifo").st_mode)); }},
      {"UnknownTypeflagBecomesFile",
       [](const std::string& p, const Aim&) {
         return WriteBytes(
             p, UstarHeader("odd", 3, 'Z') + std::string("abc").append(509, '\0') + EndOfArchive());
       },
       ok, "",
       [](const std::string& rootfs) { EXPECT_TRUE(S_ISREG(Lstat(rootfs + "/odd").st_mode)); }},
      {"SetuidAndSetgidBitsDropped",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.File("suid-shell", "#!/bin/sh\n", 04755).File("sgid", "x", 02711).Dir("shared", 02775);
         });
       },
       ok, "",
       [](const std::string& rootfs) {
         EXPECT_EQ(Lstat(rootfs + "/suid-shell").st_mode & 07777, 0755u);
         EXPECT_EQ(Lstat(rootfs + "/sgid").st_mode & 07777, 0711u);
         EXPECT_EQ(Lstat(rootfs + "/shared").st_mode & 07777, 02775u);
       }},
      {"OddModesKept",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.File("ww", "x", 0666).File("none", "x", 0000).Dir("tmp", 01777).Dir("locked", 0);
           t.File("locked/inner", "x");
         });
       },
       ok, "",
       [](const std::string& rootfs) {
         EXPECT_EQ(Lstat(rootfs + "/ww").st_mode & 07777, 0666u);
         EXPECT_EQ(Lstat(rootfs + "/none").st_mode & 07777, 0u);
         EXPECT_EQ(Lstat(rootfs + "/tmp").st_mode & 07777, 01777u);
         EXPECT_EQ(Lstat(rootfs + "/locked").st_mode & 07777, 0u);
       }},
      {"HostileXattrsNotRestored",
       [](const std::string& p, const Aim&) {
         // A v2 file capability granting everything, an overlayfs redirect and opaque marker,
         // an SELinux label.
         const std::string cap(
             "\x00\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff"
             "\x00\x00\x00\x00",
             20);
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) {
           t.File("capbin", "x", 0755,
                  {{"security.capability", cap},
                   {"trusted.overlay.redirect", "/etc"},
                   {"trusted.overlay.opaque", "y"},
                   {"security.selinux", "system_u:object_r:shadow_t:s0"},
                   {"user.note", "hi"}});
         });
       },
       ok, "",
       [](const std::string& rootfs) {
         char names[1024];
         EXPECT_EQ(::llistxattr((rootfs + "/capbin").c_str(), names, sizeof(names)), 0);
       }},
      {"Sparse10GiBStaysSparse",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) { t.Sparse("big", 10 * kGiB); });
       },
       ok, "",
       [](const std::string& rootfs) {
         const struct stat st = Lstat(rootfs + "/big");
         EXPECT_EQ(st.st_size, 10 * kGiB);
         EXPECT_LT(st.st_blocks * 512, 1 << 20) << "holes were written as data";
       }},
      {"Sparse20GiBAboveDefaultLimit",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) { t.Sparse("big", 20 * kGiB); });
       },
       exhausted, "entry \"big\": archive unpacks to more than 17179869184 bytes"},
      {"MillionEntriesAboveEntryLimit",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kGzip, [&](TarBuilder& t) {
           for (int i = 0; i < 1'000'000; ++i) t.File(absl::StrFormat("f%07d", i), "");
         });
       },
       exhausted,
       "entry \"f0001000\": archive has more than 1000 entries",
       nullptr,
       {"--image-max-entries", "1000"}},
      {"GzipBomb", bomb(TarFilter::kGzip), exhausted,
       "entry \"zeros\": archive unpacks to more than 1073741824 bytes", nullptr, small_limit},
      {"ZstdBomb", bomb(TarFilter::kZstd), exhausted,
       "entry \"zeros\": archive unpacks to more than 1073741824 bytes", nullptr, small_limit},
      {"XzBomb", bomb(TarFilter::kXz), exhausted,
       "entry \"zeros\": archive unpacks to more than 1073741824 bytes", nullptr, small_limit},
      {"ManyEntriesSumAboveLimit",
       [](const std::string& p, const Aim&) {
         // Each entry is below the limit; the archive is not.
         std::ofstream out(p, std::ios::binary | std::ios::trunc);
         for (int i = 0; i < 3; ++i) {
           absl::StatusOr<std::string> part = Compress(
               UstarHeader(absl::StrCat("part", i), 24 << 20) + std::string(24 << 20, '\0'),
               TarFilter::kZstd);
           if (!part.ok()) return part.status();
           out << *part;
         }
         return out ? absl::OkStatus() : absl::InternalError("write");
       },
       exhausted,
       "entry \"part2\": archive unpacks to more than 67108864 bytes",
       nullptr,
       {"--image-max-bytes", "67108864"}},
      {"DataDeclaredByDirectoryIsNotInflated",
       [](const std::string& p, const Aim&) {
         // libarchive takes a directory's size as 0: the zeros read as the end of the archive.
         return WriteBomb(p, UstarHeader("d/", kUstarMaxSize, '5'), TarFilter::kZstd, 1024,
                          8 << 20);
       },
       ok, "",
       [](const std::string& rootfs) { EXPECT_TRUE(S_ISDIR(Lstat(rootfs + "/d").st_mode)); }},
      {"ZerosAfterEndOfArchiveAreNotInflated",
       [](const std::string& p, const Aim&) {
         const std::string tar =
             UstarHeader("f", 2) + std::string("hi").append(510, '\0') + EndOfArchive();
         return WriteBomb(p, tar, TarFilter::kGzip, 1024, 8 << 20);
       },
       ok, "", [](const std::string& rootfs) { EXPECT_EQ(ReadAllOf(rootfs + "/f"), "hi"); }},
      {"HugeGlobalHeader",
       [](const std::string& p, const Aim&) {
         return WriteBomb(p, UstarHeader("g", kUstarMaxSize, 'g'), TarFilter::kGzip, 1024, 8 << 20);
       },
       invalid, "Special header too large"},
      {"ChainOfExtendedHeaders",
       [](const std::string& p, const Aim&) {
         // pax extended headers are read inside one libarchive call, never shown as entries:
         // 256 of 512 KiB each (128 MiB) before the first entry. libarchive gives up on such
         // a chain with a nameless entry; were it to go on, the bound on inflation (the
         // entries' declared sizes plus 64 KiB each and 16 MiB) would stop it.
         std::string comment = "comment=" + std::string((512 << 10) - 32, 'c');
         const std::string body = PaxRecords({comment});
         std::string member = UstarHeader("x", static_cast<int64_t>(body.size()), 'x') + body;
         member.resize((member.size() + 511) / 512 * 512, '\0');
         std::string head;
         for (int i = 0; i < 64; ++i) head += member;
         absl::StatusOr<std::string> chunk = Compress(head, TarFilter::kGzip);
         if (!chunk.ok()) return chunk.status();
         std::ofstream out(p, std::ios::binary | std::ios::trunc);
         for (int i = 0; i < 4; ++i) out << *chunk;
         out << *Compress(UstarHeader("f", 0) + EndOfArchive(), TarFilter::kGzip);
         return out ? absl::OkStatus() : absl::InternalError("write");
       },
       invalid, "entry \"\": empty path"},
      {"Truncated",
       [](const std::string& p, const Aim&) {
         absl::Status s = Simple(p, TarFilter::kGzip, [&](TarBuilder& t) {
           t.File("a", std::string(200000, 'a')).File("b", std::string(200000, 'b'));
         });
         if (!s.ok()) return s;
         const std::string bytes = ReadAllOf(p);
         return WriteBytes(p, bytes.substr(0, bytes.size() / 2));
       },
       invalid, "truncated gzip input"},
      {"NotAnArchive",
       [](const std::string& p, const Aim&) {
         return WriteBytes(p, "#!/bin/sh\necho this is no tarball\n");
       },
       invalid, "read archive"},
      {"EmptyFile", [](const std::string& p, const Aim&) { return WriteBytes(p, ""); }, invalid,
       "empty file"},
      {"OnlyEndOfArchive",
       [](const std::string& p, const Aim&) { return WriteBytes(p, EndOfArchive()); }, ok, "",
       [](const std::string& rootfs) { EXPECT_EQ(ListDirNames(rootfs).size(), 0u); }},
      {"PathLongerThanPathMax",
       [](const std::string& p, const Aim&) {
         std::string deep;
         for (int i = 0; i < 30; ++i) absl::StrAppend(&deep, std::string(200, 'd'), "/");
         return Simple(p, TarFilter::kNone, [&](TarBuilder& t) { t.File(deep + "f", "x"); });
       },
       invalid, "path too long"},
      {"ComponentLongerThanNameMax",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.File(std::string(300, 'n'), "x"); });
       },
       invalid, "nnnn"},
      {"NewlineAndControlCharsInName",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.File("evil\nname\x1b[2J", "x"); });
       },
       ok, "",
       [](const std::string& rootfs) {
         EXPECT_TRUE(S_ISREG(Lstat(rootfs + "/evil\nname\x1b[2J").st_mode));
       }},
      {"NulInPaxPathTruncates",
       [](const std::string& p, const Aim& aim) {
         const std::string path = std::string("ok\0", 3) + aim.up + aim.abs + "/pwned";
         return WriteBytes(p, PaxHeader({"path=" + path}) + UstarHeader("placeholder", 1) +
                                  std::string("x").append(511, '\0') + EndOfArchive());
       },
       ok, "", [](const std::string& rootfs) { EXPECT_EQ(ReadAllOf(rootfs + "/ok"), "x"); }},
      {"DirReplacesFileOfSameName",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.File("x", "file").Dir("x").File("x/y", "y"); });
       },
       ok, "", [](const std::string& rootfs) { EXPECT_EQ(ReadAllOf(rootfs + "/x/y"), "y"); }},
      {"FileOverNonEmptyDir",
       [](const std::string& p, const Aim&) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.Dir("d").File("d/in", "in").File("d", "file"); });
       },
       invalid, "entry \"d\""},
      {"SymlinkAsRoot",
       [](const std::string& p, const Aim& aim) {
         return Simple(p, TarFilter::kNone,
                       [&](TarBuilder& t) { t.Symlink(".", aim.abs).File("pwned", "x"); });
       },
       invalid, "non-directory at the root"},
  };
}

class HostileArchiveTest : public QuiltdTest, public ::testing::WithParamInterface<HostileCase> {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    if (HasFatalFailure()) return;
    decoy_ = dir_ + "/decoy";
    ASSERT_EQ(::mkdir(decoy_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((decoy_ + "/sub").c_str(), 0755), 0);
    ASSERT_TRUE(WriteBytes(decoy_ + "/target", "ORIGINAL\n").ok());
    if (!GetParam().daemon_args.empty()) {
      ASSERT_EQ(StopDaemon(), 0);
      StartDaemon(GetParam().daemon_args);
    }
  }

  std::vector<v1::Image> ListImages() {
    grpc::ClientContext ctx;
    v1::ListImagesResponse resp;
    EXPECT_TRUE(images_->ListImages(&ctx, v1::ListImagesRequest(), &resp).ok());
    return {resp.images().begin(), resp.images().end()};
  }

  std::string decoy_;
};

TEST_P(HostileArchiveTest, RefusedOrContained) {
  const HostileCase& c = GetParam();
  const std::string archive = dir_ + "/archive";
  // 64 ".." components: far more than the store is deep.
  std::string up;
  for (int i = 0; i < 64; ++i) up += "../";
  const absl::Status written = c.write(archive, {decoy_, up});
  ASSERT_TRUE(written.ok()) << written;
  // The daemon's prestarted containers come and go on their own (spare_pool.h), as does
  // its trash; neither is where an import writes.
  std::set<std::string> skip = {"quiltd.log", "state/spares", "state/trash"};
  if (c.code == absl::StatusCode::kOk) {
    // An accepted archive is imported and removed again: the store records both events.
    skip.insert({"state/quilt.db", "state/quilt.db-wal", "state/quilt.db-shm"});
  }
  const TreeSnapshot before = SnapshotTree(dir_, skip);

  v1::ImportRequest req;
  req.set_path(archive);
  req.set_name("hostile");
  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = images_->Import(&ctx, req, &resp);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << c.name << ": " << status.error_code() << " \"" << status.error_message() << "\" in "
            << seconds << " s\n";
  // Nothing here should take long: limits apply before data is inflated.
  EXPECT_LT(seconds, 20.0);

  const std::string images_dir = state_dir_ + "/images";
  if (c.code == absl::StatusCode::kOk) {
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(ListImages().size(), 1u);
    const std::string hex = resp.image().digest().substr(strlen("sha256:"));
    EXPECT_EQ(ListDirNames(images_dir), (std::vector<std::string>{hex, "layers"}));
    if (c.check) c.check(images_dir + "/" + hex + "/rootfs");
    grpc::ClientContext rm_ctx;
    v1::RemoveImageRequest rm;
    rm.set_ref("hostile");
    v1::RemoveImageResponse rm_resp;
    ASSERT_TRUE(images_->RemoveImage(&rm_ctx, rm, &rm_resp).ok());
  } else {
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(c.code))
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    // Errors name the entry but do not echo a hostile name in full.
    EXPECT_LT(status.error_message().size(), 1024u);
  }
  EXPECT_EQ(ListImages().size(), 0u);
  // Only the (empty) directory of shared image layers stays.
  EXPECT_EQ(ListDirNames(images_dir), std::vector<std::string>{"layers"}) << "partial image left";
  EXPECT_EQ(ListDirNames(images_dir + "/layers"), std::vector<std::string>{});
  EXPECT_EQ(DiffSnapshots(before, SnapshotTree(dir_, skip)), "");
  EXPECT_EQ(ReadAllOf(decoy_ + "/target"), "ORIGINAL\n");
}

INSTANTIATE_TEST_SUITE_P(Archives, HostileArchiveTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<HostileCase>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace quilt::testing
